import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LabError } from "./errors.js";

/** A process as /proc shows it; enough to tell it apart from a later one with the same id. */
export interface ProcessInfo {
  pid: number;
  argv: string[];
  /** Start time in clock ticks since boot (field 22 of /proc/PID/stat). */
  startTime: string;
}

/**
 * Reads a process from /proc. Returns undefined when it does not exist or is a zombie: a
 * zombie has exited already and only waits for its parent to collect its status.
 */
export async function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  let stat: string;
  let cmdline: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
    cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
  } catch (error) {
    if (
      error instanceof Error &&
      "code" in error &&
      (error.code === "ENOENT" || error.code === "ESRCH")
    ) {
      return undefined;
    }
    throw error;
  }
  // The command name in brackets may contain spaces and brackets. The fields after the last
  // ")" start at the state (field 3), so the start time (field 22) is the 20th of them.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || state === "Z" || state === "X" || startTime === undefined) {
    return undefined;
  }
  return { pid, argv: cmdline.split("\0").filter((arg) => arg !== ""), startTime };
}

/** Reads a pidfile. Returns undefined when the file is missing or contains no process id. */
export async function readPidfile(path: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return undefined;
    }
    throw error;
  }
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

/**
 * Returns the process when it runs `program` with an argument that contains `marker`, such
 * as the run directory of a lab host. Guards against a process id reused since the lab
 * recorded it, after a reboot for example.
 */
export async function findDaemon(
  pid: number,
  program: string,
  marker: string,
): Promise<ProcessInfo | undefined> {
  const info = await readProcess(pid);
  if (info === undefined) {
    return undefined;
  }
  const [first, ...rest] = info.argv;
  if (first === undefined || basename(first) !== program) {
    return undefined;
  }
  return rest.some((arg) => arg.includes(marker)) ? info : undefined;
}

/** Signal that ended a process under {@link stopProcess}: SIGTERM or SIGKILL. */
export type StopResult = "terminated" | "killed";

const TERM_WAIT_MS = 5_000;
const KILL_WAIT_MS = 2_000;
const POLL_MS = 50;

/**
 * Stops one process: SIGTERM, then SIGKILL if it still runs after 5 s. Signals go only to
 * the process that `info` describes: a process that has exited, or whose id now belongs to
 * another process, is left alone.
 */
export async function stopProcess(info: ProcessInfo): Promise<StopResult | undefined> {
  if (!(await isSameProcess(info))) {
    return undefined;
  }
  signal(info.pid, "SIGTERM");
  if (await waitForExit(info, TERM_WAIT_MS)) {
    return "terminated";
  }
  if (!(await isSameProcess(info))) {
    return "terminated";
  }
  signal(info.pid, "SIGKILL");
  if (await waitForExit(info, KILL_WAIT_MS)) {
    return "killed";
  }
  throw new LabError(
    `process ${info.pid} (${info.argv.join(" ")}) still runs ${KILL_WAIT_MS} ms after SIGKILL`,
  );
}

async function isSameProcess(info: ProcessInfo): Promise<boolean> {
  const now = await readProcess(info.pid);
  return now !== undefined && now.startTime === info.startTime;
}

async function waitForExit(info: ProcessInfo, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isSameProcess(info))) {
      return true;
    }
    await sleep(POLL_MS);
  }
  return !(await isSameProcess(info));
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // ESRCH: the process exited between the check and the signal, which is the goal.
    if (!(error instanceof Error && "code" in error && error.code === "ESRCH")) {
      throw error;
    }
  }
}
