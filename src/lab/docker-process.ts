import { rm } from "node:fs/promises";
import { run } from "../host/exec.js";
import { type DaemonPaths } from "./docker-paths.js";
import { findProgram, logTail, readOptional, readPid, waitUntil } from "./docker-files.js";

export const START_TIMEOUT_MS = 30_000;
/** Covers dockerd's default "shutdown-timeout" of 15 s, which it allows its containers. */
export const DOCKERD_STOP_TIMEOUT_MS = 45_000;
export const CONTAINERD_STOP_TIMEOUT_MS = 10_000;

/**
 * Starts `argv` detached inside the network namespace and returns its process id.
 * `nsenter --net` is used rather than `ip netns exec`, which remounts /sys, after which
 * dockerd fails with "Devices cgroup isn't mounted". nsenter execs the program, so the
 * recorded process id is the daemon's.
 */
export async function launch(
  netns: string,
  pidPath: string,
  logPath: string,
  argv: readonly string[],
): Promise<number> {
  await rm(pidPath, { force: true });
  const nsenter = await findProgram("nsenter");
  await run([
    "start-stop-daemon",
    "--start",
    "--background",
    "--make-pidfile",
    "--pidfile",
    pidPath,
    "--output",
    logPath,
    "--startas",
    nsenter,
    "--",
    `--net=/run/netns/${netns}`,
    ...argv,
  ]);
  let pid: number | undefined;
  await waitUntil(async () => {
    pid = await readPid(pidPath);
    return pid !== undefined;
  }, 5_000);
  if (pid === undefined) {
    throw new Error(`start-stop-daemon wrote no process id to ${pidPath} for ${argv.join(" ")}`);
  }
  return pid;
}

/** Raises an Error with the end of the log unless `ready()` returns true. */
export async function checkStarted(
  program: string,
  pid: number,
  logPath: string,
  logOffset: number,
  timeoutMs: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  if (await ready()) {
    return;
  }
  const reason = (await isRunning(pid)) ? `did not answer within ${timeoutMs} ms` : "exited";
  throw new Error(
    `${program} (process ${pid}) ${reason}; last lines of ${logPath}:\n${await logTail(logPath, logOffset)}`,
  );
}

/** Process ids of the daemons of a state directory that are still running. */
export async function findRunning(
  paths: DaemonPaths,
): Promise<{ dockerd: number | undefined; containerd: number | undefined }> {
  const dockerd = await readPid(paths.dockerdPid);
  const containerd = await readPid(paths.containerdPid);
  return {
    dockerd: dockerd !== undefined && (await isOurs(dockerd, paths.config)) ? dockerd : undefined,
    containerd:
      containerd !== undefined && (await isOurs(containerd, paths.containerdConfig))
        ? containerd
        : undefined,
  };
}

/**
 * Returns whether `pid` is running with `marker` (a path in the state directory) among its
 * arguments, so that a process id reused by an unrelated program is never signalled.
 */
export async function isOurs(pid: number, marker: string): Promise<boolean> {
  if (!(await isRunning(pid))) {
    return false;
  }
  const cmdline = await readOptional(`/proc/${pid}/cmdline`);
  return cmdline !== undefined && cmdline.split("\0").includes(marker);
}

/**
 * Returns whether a process exists and is not a zombie. Detached daemons are children of
 * PID 1, and a PID 1 that is slow to reap (as in some VMs and containers) leaves them as
 * zombies for a while after they exit.
 */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await readOptional(`/proc/${pid}/stat`);
  if (stat === undefined) {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** Sends SIGTERM, waits up to `timeoutMs`, then sends SIGKILL and waits again. */
export async function stopProcess(pid: number, marker: string, timeoutMs: number): Promise<void> {
  if (!(await isOurs(pid, marker))) {
    return;
  }
  signal(pid, "SIGTERM");
  await waitUntil(async () => !(await isRunning(pid)), timeoutMs);
  if (await isRunning(pid)) {
    signal(pid, "SIGKILL");
    await waitUntil(async () => !(await isRunning(pid)), 10_000);
  }
  if (await isRunning(pid)) {
    throw new Error(`process ${pid} (${marker}) still runs after SIGKILL`);
  }
}

export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // The process exited between the check and the signal.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") {
      throw error;
    }
  }
}

export async function anyRunning(pids: readonly number[]): Promise<boolean> {
  for (const pid of pids) {
    if (await isRunning(pid)) {
      return true;
    }
  }
  return false;
}
