/**
 * Network namespaces and Open vSwitch instances that belong to a benchmark run. Every
 * namespace is named with {@link NAMESPACE_PREFIX} and every run directory lives in
 * `/tmp/omb-*`, so that a run, or the sweep at the start of the next one, can find and
 * remove exactly what the benchmark created.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { run } from "../src/host/exec.js";
import {
  addNamespace,
  deleteNamespace,
  listNamespaces,
  namespacePids,
  runIn,
} from "../src/lab/namespaces.js";
import { startOvs, stopOvs } from "../src/lab/ovs-daemons.js";
import { readProcess, stopProcess } from "../src/lab/processes.js";
import type { LabHost } from "../src/lab/lab.js";
import { onCleanup } from "./cleanup.js";

/** Prefix of every namespace that the benchmark creates outside its labs. */
export const NAMESPACE_PREFIX = "omb-";
/** Prefix of the benchmark's run directories under the system's temporary directory. */
const DIRECTORY_PREFIX = "omb-";

/** Creates a namespace `omb-<role>-<random>` and registers its removal. */
export async function createNamespace(role: string): Promise<string> {
  const name = `${NAMESPACE_PREFIX}${role}-${randomBytes(3).toString("hex")}`;
  await addNamespace(name);
  onCleanup(`namespace ${name}`, () => removeNamespace(name));
  return name;
}

/** Stops every process still running in the namespace, by pid, then deletes it. */
export async function removeNamespace(name: string): Promise<void> {
  for (const pid of await namespacePids(name)) {
    const info = await readProcess(pid);
    if (info !== undefined) {
      await stopProcess(info);
    }
  }
  await deleteNamespace(name);
}

/** A private ovsdb-server and ovs-vswitchd (userspace datapath) in a namespace. */
export interface OvsInstance {
  namespace: string;
  /** OVS_RUNDIR of the daemons: database, sockets, pidfiles and logs. */
  runDirectory: string;
  dbSocket: string;
  /** Directory for ovs-mesh's own record of what it applied. */
  stateDirectory: string;
  /** Environment that points the OVS programs at this instance. */
  env: Record<string, string>;
  /** Runs `ovs-vsctl` against this instance's database. */
  vsctl(args: readonly string[], timeoutMs?: number): Promise<string>;
}

/**
 * Starts an OVS instance inside `namespace` with the lab's daemon code, and registers
 * stopping it and removing its run directory.
 */
export async function startOvsInstance(namespace: string): Promise<OvsInstance> {
  const runDirectory = await mkdtemp(join(tmpdir(), DIRECTORY_PREFIX));
  const host = daemonHost(namespace, runDirectory);
  onCleanup(`OVS instance in ${runDirectory}`, async () => {
    await stopOvs(host);
    await rm(runDirectory, { recursive: true, force: true });
  });
  await startOvs(host, async () => undefined);

  const env = { OVS_RUNDIR: runDirectory, OVS_DBDIR: runDirectory, OVS_LOGDIR: runDirectory };
  return {
    namespace,
    runDirectory,
    dbSocket: host.dbSocket,
    stateDirectory: join(runDirectory, "ovs-mesh"),
    env,
    vsctl: async (args, timeoutMs = 60_000) => {
      const argv = ["ovs-vsctl", `--db=unix:${host.dbSocket}`, `--timeout=${timeoutMs / 1000}`];
      const { stdout } = await run([...argv, ...args], { env, timeoutMs: timeoutMs + 5_000 });
      return stdout;
    },
  };
}

/** The fields of a lab host that the lab's daemon code reads. */
function daemonHost(namespace: string, runDirectory: string): LabHost {
  return {
    name: "bench",
    namespace,
    underlayIp: "",
    subnet: "",
    gateway: "",
    runDirectory,
    dbSocket: join(runDirectory, "db.sock"),
    dbFile: join(runDirectory, "conf.db"),
    pids: { ovsdbServer: null, ovsVswitchd: null },
    containers: [],
  };
}

/** Runs a program inside a namespace with the instance's OVS environment. */
export function runInInstance(
  instance: OvsInstance,
  argv: readonly string[],
  timeoutMs = 600_000,
): Promise<string> {
  return runIn(instance.namespace, argv, { env: instance.env, timeoutMs }).then(
    (result) => result.stdout,
  );
}

/**
 * Removes what an earlier, interrupted run left behind: OVS daemons in `/tmp/omb-*`, the
 * namespaces named `omb-*` with their processes, and those directories. Returns one line
 * per thing removed.
 */
export async function sweepLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(tmpdir(), { withFileTypes: true });
  const directories = entries.filter(
    (entry) => entry.isDirectory() && entry.name.startsWith(DIRECTORY_PREFIX),
  );
  for (const entry of directories) {
    const runDirectory = join(tmpdir(), entry.name);
    for (const stopped of await stopOvs(daemonHost("", runDirectory))) {
      removed.push(`${stopped.daemon} ${stopped.pid} of ${runDirectory}`);
    }
    await rm(runDirectory, { recursive: true, force: true });
    removed.push(runDirectory);
  }
  for (const namespace of await listNamespaces()) {
    if (namespace.startsWith(NAMESPACE_PREFIX)) {
      await removeNamespace(namespace);
      removed.push(`namespace ${namespace}`);
    }
  }
  return removed;
}
