import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run, type RunResult } from "../../src/host/exec.js";
import { loadLab } from "../../src/lab/state.js";
import type { Lab, LabHost } from "../../src/lab/lab.js";

/** The built launcher of this checkout. */
export const BINARY = fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

/** Runs `ovs-mesh ARGS` in the root namespace and returns its output and exit code. */
export function ovsMesh(args: readonly string[]): Promise<RunResult> {
  return run([process.execPath, BINARY, ...args], { okCodes: ANY_EXIT_CODE, timeoutMs: 300_000 });
}

/** Runs a program inside a lab host's namespace, with OVS_RUNDIR of that host. */
export function inHost(host: LabHost, argv: readonly string[]): Promise<RunResult> {
  return run(["ip", "netns", "exec", host.namespace, ...argv], {
    okCodes: ANY_EXIT_CODE,
    timeoutMs: 120_000,
    env: { OVS_RUNDIR: host.runDirectory },
  });
}

/** Returns the options that point ovs-mesh at a lab host's OVS and state directory. */
export function hostOptions(host: LabHost): string[] {
  return [
    "--ovsdb",
    host.dbSocket,
    "--ovs-rundir",
    host.runDirectory,
    "--state-dir",
    join(host.runDirectory, "ovs-mesh"),
  ];
}

/** Runs `ovs-mesh ARGS` inside a lab host, as an operator on that host would. */
export function ovsMeshIn(host: LabHost, args: readonly string[]): Promise<RunResult> {
  return inHost(host, [process.execPath, BINARY, ...args]);
}

/** Builds a lab with the CLI and returns its record; throws with the CLI's output on failure. */
export async function labUp(name: string, args: readonly string[]): Promise<Lab> {
  const result = await ovsMesh(["lab", "up", "--name", name, ...args]);
  if (result.code !== 0) {
    throw new Error(`lab up failed (${result.code}): ${result.stderr}`);
  }
  return loadLab(name);
}

/** Returns the host of a lab by name, or throws. */
export function labHost(lab: Lab, name: string): LabHost {
  const host = lab.hosts.find((candidate) => candidate.name === name);
  if (host === undefined) {
    throw new Error(`lab ${lab.name} has no host ${name}`);
  }
  return host;
}

/** An `ovs-mesh agent` started in a lab host, with its output kept for failure messages. */
export interface RunningAgent {
  host: LabHost;
  process: ChildProcess;
  output: () => string;
}

/** Starts `ovs-mesh agent` inside a lab host; stop it with {@link stopAgent}. */
export function startAgent(host: LabHost, args: readonly string[]): RunningAgent {
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      host.namespace,
      process.execPath,
      BINARY,
      "agent",
      ...args,
      ...hostOptions(host),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, OVS_RUNDIR: host.runDirectory } },
  );
  const chunks: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk));
  return { host, process: child, output: () => Buffer.concat(chunks).toString("utf8") };
}

/** Stops an agent with SIGTERM, and SIGKILL after 10 s; resolves when it has exited. */
export async function stopAgent(agent: RunningAgent): Promise<void> {
  const child = agent.process;
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Calls `probe` every 250 ms until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
