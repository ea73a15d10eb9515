/** The machine and the versions of the programs that a benchmark run used. */
import { readFile } from "node:fs/promises";
import { cpus, loadavg, release, totalmem } from "node:os";

import { run } from "../src/host/exec.js";

/** Facts about the machine, for the report. */
export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  kernel: string;
  versions: Record<string, string>;
  /** The commit that was measured, with "+ changes" when the work tree differed from it. */
  commit: string;
}

/** Reads the machine's CPU, memory, kernel and the versions of node, OVS, iperf3 and etcd. */
export async function describeMachine(): Promise<MachineFacts> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  return {
    cpuModel: model.trim(),
    cores: cpus().length,
    memoryBytes: totalmem(),
    kernel: release(),
    versions: {
      node: process.version,
      "Open vSwitch": await firstLine(["ovs-vswitchd", "--version"]),
      iperf3: await firstLine(["iperf3", "--version"]),
      etcd: await firstLine(["etcd", "--version"]),
    },
    commit: await describeCommit(),
  };
}

/** Load averages over 1, 5 and 15 minutes. */
export function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(", ");
}

async function firstLine(argv: string[]): Promise<string> {
  const { stdout } = await run(argv, { okCodes: [0, 1] });
  return stdout.trim().split("\n")[0] ?? "";
}

async function describeCommit(): Promise<string> {
  const head = (await run(["git", "rev-parse", "--short", "HEAD"])).stdout.trim();
  const status = (await run(["git", "status", "--porcelain", "--untracked-files=no"])).stdout;
  return status.trim() === "" ? head : `${head} + changes`;
}
