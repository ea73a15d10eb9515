/**
 * A private Open vSwitch for tests: ovsdb-server and ovs-vswitchd with their own database,
 * sockets, pidfiles and logs in a temporary directory, running inside a network namespace.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { run } from "../../src/host/exec.js";

const SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";

/** A running test instance of Open vSwitch. */
export interface OvsInstance {
  /** Unix socket of the instance's ovsdb-server. */
  dbSocket: string;
  /** The instance's OVS_RUNDIR, which also contains its database, pidfiles and logs. */
  runDir: string;
  /** Environment that points OVS tools at this instance's run directory. */
  env: Record<string, string>;
  /** Stops ovs-vswitchd only, as a crash would; the database keeps running. */
  stopSwitch(): Promise<void>;
  /** Starts ovs-vswitchd again after {@link stopSwitch}. */
  startSwitch(): Promise<void>;
  /** Stops both daemons by the PIDs in their pidfiles, waits for them to exit, deletes runDir. */
  stop(): Promise<void>;
}

/** Creates a network namespace named `prefix` plus random hex digits and returns its name. */
export async function createNetns(prefix = "omt-ovsdb-"): Promise<string> {
  const name = `${prefix}${randomBytes(4).toString("hex")}`;
  await run(["ip", "netns", "add", name]);
  return name;
}

/** Deletes a network namespace made by {@link createNetns}. */
export async function deleteNetns(name: string): Promise<void> {
  await run(["ip", "netns", "delete", name]);
}

/**
 * Starts ovsdb-server and ovs-vswitchd (userspace datapath only: --disable-system) inside the
 * network namespace `netns`. On failure, whatever was started is stopped again.
 */
export async function startOvsInstance(netns: string): Promise<OvsInstance> {
  const runDir = await mkdtemp(join(tmpdir(), "omt-ovs-"));
  const env = { OVS_RUNDIR: runDir, OVS_LOGDIR: runDir, OVS_DBDIR: runDir };
  const dbSocket = join(runDir, "db.sock");
  const database = join(runDir, "conf.db");
  const inNetns = (argv: string[]) => run(["ip", "netns", "exec", netns, ...argv], { env });
  const daemons = ["ovs-vswitchd", "ovsdb-server"];

  const startSwitch = async () => {
    await inNetns([
      "ovs-vswitchd",
      `unix:${dbSocket}`,
      "--disable-system",
      ...daemonOptions(runDir, "ovs-vswitchd"),
    ]);
  };
  const stopSwitch = () => stopDaemon(join(runDir, "ovs-vswitchd.pid"));
  const stop = async () => {
    for (const daemon of daemons) {
      await stopDaemon(join(runDir, `${daemon}.pid`));
    }
    await rm(runDir, { recursive: true, force: true });
  };

  try {
    await run(["ovsdb-tool", "create", database, SCHEMA]);
    await inNetns([
      "ovsdb-server",
      database,
      `--remote=punix:${dbSocket}`,
      ...daemonOptions(runDir, "ovsdb-server"),
    ]);
    // A new database has no Open_vSwitch row; ovs-vswitchd configures nothing without one.
    await run(["ovs-vsctl", `--db=unix:${dbSocket}`, "--no-wait", "init"], { env });
    await startSwitch();
  } catch (error) {
    await stop();
    throw error;
  }
  return { dbSocket, runDir, env, stopSwitch, startSwitch, stop };
}

function daemonOptions(runDir: string, daemon: string): string[] {
  return [
    `--pidfile=${join(runDir, `${daemon}.pid`)}`,
    `--unixctl=${join(runDir, `${daemon}.ctl`)}`,
    `--log-file=${join(runDir, `${daemon}.log`)}`,
    "--detach",
    "--no-chdir",
  ];
}

/** Sends SIGTERM to the PID in `pidfile`, then SIGKILL if it still runs 5 s later. */
async function stopDaemon(pidfile: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(pidfile, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) {
      return; // never started
    }
    throw error;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1) {
    throw new Error(`pidfile ${pidfile} contains no valid PID: ${JSON.stringify(text)}`);
  }

  for (const name of ["SIGTERM", "SIGKILL"] as const) {
    signal(pid, name);
    if (await waitForExit(pid, 5_000)) {
      // A daemon killed by SIGKILL leaves its pidfile, whose PID may later be reused.
      await rm(pidfile, { force: true });
      return;
    }
  }
  throw new Error(`process ${pid} from ${pidfile} did not exit after SIGKILL`);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs; waited += 50) {
    if (!(await isRunning(pid))) {
      return true;
    }
    await sleep(50);
  }
  return false;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if (!isErrno(error, "ESRCH")) {
      throw error;
    }
  }
}

/**
 * Checks whether the process is running. A detached daemon is not this process's child, and
 * where the init process does not reap it, it stays a zombie after exiting, which counts as
 * stopped.
 */
async function isRunning(pid: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) {
      return false;
    }
    throw error;
  }
  // The state follows the command name, which is in parentheses and may contain spaces.
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}
