/**
 * Runs `converge` in the network namespace this process was started in, for
 * converge-known.test.ts. Usage: `node _converge-known-child.js PATHS_JSON`. It applies a
 * cluster of 3 hosts, adds a fourth from the known state, removes it again the same way, and
 * checks each result with a run that reads everything. Prints one JSON object per run.
 */
import childProcess from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import { basename } from "node:path";

import { converge, type KnownHost } from "../../src/agent/converge.js";
import type { HostPaths } from "../../src/agent/paths.js";
import type { Cluster } from "../../src/plan/cluster.js";
import { makeCluster } from "../unit/fixtures.js";

const programs: string[] = [];
const spawn = childProcess.spawn;
childProcess.spawn = ((command: string, ...rest: unknown[]) => {
  programs.push(basename(command));
  return Reflect.apply(spawn, childProcess, [command, ...rest]);
}) as typeof spawn;
syncBuiltinESMExports();

const paths = JSON.parse(process.argv[2] ?? "{}") as HostPaths;

function cluster(hosts: number): Cluster {
  return { ...makeCluster(hosts, "flow"), datapath: "netdev", underlayMtu: 1500 };
}

async function step(
  label: string,
  hosts: number,
  known?: KnownHost,
): Promise<KnownHost | undefined> {
  programs.length = 0;
  const result = await converge(cluster(hosts), "host0", paths, { dryRun: false, known });
  const line = {
    label,
    steps: result.steps.length,
    flows: result.desired.flows.length,
    programs: [...programs],
    knownLinux: result.known?.linux !== undefined,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return result.known;
}

const applied = await step("apply 3 hosts", 3);
const read = await step("read 3 hosts", 3, undefined);
await step("add from known", 4, read);
await step("check 4 hosts", 4);
const again = await step("read 4 hosts", 4);
await step("remove from known", 3, again);
await step("check 3 hosts", 3);
process.stdout.write(
  `${JSON.stringify({ label: "first known", knownLinux: applied?.linux !== undefined })}\n`,
);
