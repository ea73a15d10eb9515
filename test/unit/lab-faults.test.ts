import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { run } from "../../src/host/exec.js";
import { containerMac } from "../../src/lab/containers.js";

const BINARY = fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

test("containerMac derives the MAC from the address", () => {
  assert.equal(containerMac("10.240.0.2"), "02:42:0a:f0:00:02");
  assert.equal(containerMac("172.17.255.254"), "02:42:ac:11:ff:fe");
  assert.throws(() => containerMac("10.240.0.256"), RangeError);
});

// Each command line is invalid, so the command stops before it looks for a lab.
const USAGE_CASES: [string[], string][] = [
  [["lab", "restart"], "missing HOST"],
  [["lab", "restart", "host0;reboot"], 'invalid host name "host0;reboot"'],
  [["lab", "restart", "host0", "host1"], 'expected one HOST, found ["host0","host1"]'],
  [["lab", "restart", "--name", "../x", "host0"], 'invalid lab name "../x"'],
  [["lab", "link", "host0"], 'expected HOST and down or up, found ["host0"]'],
  [["lab", "link", "host0", "sideways"], 'invalid link state "sideways": expected down or up'],
  [["lab", "link", "-x", "down"], "unknown option -x"],
  [["lab", "link", "$(x)", "down"], 'invalid host name "$(x)"'],
];

for (const [args, message] of USAGE_CASES) {
  test(`${args.join(" ")} is rejected`, async () => {
    const result = await run([process.execPath, BINARY, ...args], { okCodes: ANY_EXIT_CODE });
    assert.equal(result.code, 2, result.stderr);
    assert.ok(result.stderr.includes(message), result.stderr);
  });
}
