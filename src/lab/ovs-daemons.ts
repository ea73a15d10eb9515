import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { run, type RunResult } from "../host/exec.js";
import { LabError } from "./errors.js";
import { runIn } from "./namespaces.js";
import {
  findDaemon,
  readPidfile,
  stopProcess,
  type ProcessInfo,
  type StopResult,
} from "./processes.js";
import type { LabHost } from "./lab.js";

/** Schema that Debian's openvswitch-common installs; `ovsdb-tool` creates databases from it. */
export const VSWITCH_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";

export const OVSDB_SERVER = "ovsdb-server";
export const OVS_VSWITCHD = "ovs-vswitchd";

/** The OVS daemons of a lab host, in the order they start. */
export const OVS_DAEMONS = [OVSDB_SERVER, OVS_VSWITCHD] as const;
export type OvsDaemon = (typeof OVS_DAEMONS)[number];

/** State directory of ovs-mesh on a lab host, where `apply` and the agent keep their records. */
export function hostStateDirectory(host: LabHost): string {
  return join(host.runDirectory, "ovs-mesh");
}

/**
 * Environment that points the OVS programs and ovs-mesh at a lab host's own daemons. With
 * OVS_RUNDIR set, `ovs-vsctl` connects to RUNDIR/db.sock, `ovs-ofctl` to RUNDIR/BRIDGE.mgmt,
 * and `ovs-appctl` reads RUNDIR/ovs-vswitchd.pid and connects to RUNDIR/ovs-vswitchd.PID.ctl.
 * ovs-mesh takes its OVS defaults from OVS_RUNDIR too, and its state directory from
 * OVS_MESH_STATE_DIR.
 */
export function ovsEnvironment(host: LabHost): Record<string, string> {
  return {
    OVS_RUNDIR: host.runDirectory,
    OVS_DBDIR: host.runDirectory,
    OVS_LOGDIR: host.runDirectory,
    OVS_MESH_STATE_DIR: hostStateDirectory(host),
  };
}

/** Pidfile of one daemon of a lab host. */
export function pidfilePath(host: LabHost, daemon: OvsDaemon): string {
  return join(host.runDirectory, `${daemon}.pid`);
}

/** Log file of one daemon of a lab host. */
export function logPath(host: LabHost, daemon: OvsDaemon): string {
  return join(host.runDirectory, `${daemon}.log`);
}

/** Runs `ovs-vsctl` against a lab host's database. */
export function vsctl(host: LabHost, args: readonly string[]): Promise<RunResult> {
  return run(["ovs-vsctl", `--db=unix:${host.dbSocket}`, "--timeout=10", ...args], {
    env: ovsEnvironment(host),
  });
}

/**
 * Creates a lab host's database, unless it exists, and starts its ovsdb-server and
 * ovs-vswitchd inside the host's namespace. Calls `onStarted` after each daemon so that the
 * caller can record the pid before the next step can fail.
 */
export async function startOvs(
  host: LabHost,
  onStarted: (daemon: OvsDaemon, pid: number) => Promise<void>,
): Promise<void> {
  await mkdir(host.runDirectory, { recursive: true, mode: 0o755 });
  // A restarted host keeps its database, as a real host keeps /etc/openvswitch/conf.db.
  if (!(await fileExists(host.dbFile))) {
    await run(["ovsdb-tool", "create", host.dbFile, VSWITCH_SCHEMA]);
  }

  await onStarted(OVSDB_SERVER, await startOvsDaemon(host, OVSDB_SERVER));
  await vsctl(host, ["--no-wait", "init"]);
  await onStarted(OVS_VSWITCHD, await startOvsDaemon(host, OVS_VSWITCHD));
}

/**
 * Starts one OVS daemon of a lab host inside the host's namespace and returns its pid; the
 * database must exist. Used by {@link startOvs}, and on its own to restart a daemon that died.
 */
export async function startOvsDaemon(host: LabHost, daemon: OvsDaemon): Promise<number> {
  // --disable-system: the lab's machines have no OVS kernel module, and a failed probe of the
  // system datapath would only fill the log.
  const args =
    daemon === OVSDB_SERVER
      ? [host.dbFile, `--remote=punix:${host.dbSocket}`]
      : [`unix:${host.dbSocket}`, "--disable-system"];
  // --detach returns once the daemon is ready and has written its pidfile. Each daemon gets
  // the default unixctl socket, RUNDIR/NAME.PID.ctl, which is where `ovs-appctl` looks.
  await startDaemon(host, daemon, args);
  return daemonPid(host, daemon);
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return false;
    }
    throw error;
  }
}

async function startDaemon(host: LabHost, daemon: OvsDaemon, args: string[]): Promise<void> {
  await runIn(
    host.namespace,
    [
      daemon,
      ...args,
      `--pidfile=${pidfilePath(host, daemon)}`,
      `--log-file=${logPath(host, daemon)}`,
      "--detach",
      "--no-chdir",
    ],
    { env: ovsEnvironment(host) },
  );
}

async function daemonPid(host: LabHost, daemon: OvsDaemon): Promise<number> {
  const path = pidfilePath(host, daemon);
  const pid = await readPidfile(path);
  if (pid === undefined) {
    throw new LabError(`${daemon} of ${host.name} started but wrote no pid to ${path}`);
  }
  return pid;
}

/**
 * Finds a running daemon of a lab host from the pid in `lab.json` or, when that is missing
 * or stale, from its pidfile. Only a process of that program whose arguments name the
 * host's run directory counts.
 */
export async function findOvsDaemon(
  host: LabHost,
  daemon: OvsDaemon,
): Promise<ProcessInfo | undefined> {
  const recorded = daemon === OVSDB_SERVER ? host.pids.ovsdbServer : host.pids.ovsVswitchd;
  const candidates = [recorded, await readPidfile(pidfilePath(host, daemon))];
  for (const pid of candidates) {
    if (pid !== null && pid !== undefined) {
      // The trailing slash keeps host1's run directory from matching host10's.
      const info = await findDaemon(pid, daemon, `${host.runDirectory}/`);
      if (info !== undefined) {
        return info;
      }
    }
  }
  return undefined;
}

/** A daemon that {@link stopOvs} stopped. */
export interface StoppedDaemon {
  host: string;
  daemon: OvsDaemon;
  pid: number;
  how: StopResult;
}

/** Stops a lab host's ovs-vswitchd, then its ovsdb-server; skips daemons that do not run. */
export async function stopOvs(host: LabHost): Promise<StoppedDaemon[]> {
  const stopped: StoppedDaemon[] = [];
  for (const daemon of [...OVS_DAEMONS].reverse()) {
    const info = await findOvsDaemon(host, daemon);
    if (info !== undefined) {
      const how = await stopProcess(info);
      if (how !== undefined) {
        stopped.push({ host: host.name, daemon, pid: info.pid, how });
      }
    }
  }
  return stopped;
}
