/**
 * Runs the Linux driver in the network namespace this process was started in, for
 * linux-driver.test.ts. Usage: `node _linux-driver-child.js read|apply`, with the query or
 * the change list as JSON on stdin. `read` prints the result as JSON with undefined values
 * written as null, so that missing sysctls and chains stay visible.
 */
import { text } from "node:stream/consumers";

import { applyLinux, readLinux, type LinuxQuery } from "../../src/host/linux.js";
import type { LinuxChange } from "../../src/plan/state.js";

const mode = process.argv[2];
const input: unknown = JSON.parse(await text(process.stdin));

if (mode === "read") {
  const actual = await readLinux(input as LinuxQuery);
  process.stdout.write(JSON.stringify(actual, (_key, value: unknown) => value ?? null));
} else if (mode === "apply") {
  await applyLinux(input as LinuxChange[]);
} else {
  process.stderr.write(`unknown mode ${JSON.stringify(mode)}: use read or apply\n`);
  process.exitCode = 2;
}
