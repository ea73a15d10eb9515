import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { stopAgent } from "./agents.js";
import { removeSharedDockerDirs } from "./docker-cleanup.js";
import { stopHostDocker } from "./docker-hosts.js";
import { LabError } from "./errors.js";
import { LAB_ROOT, belongsToLab, checkLabName, labDirectory, DB_SOCKET, DB_FILE } from "./names.js";
import { deleteNamespace, listNamespaces, namespacePids } from "./namespaces.js";
import { stopOvs, type StoppedDaemon } from "./ovs-daemons.js";
import { readProcess, stopProcess, type StopResult } from "./processes.js";
import { listLabNames, readLab, removeLabDirectory } from "./state.js";
import type { LabHost } from "./lab.js";
import { labNamespaces } from "./topology.js";

/** Options of {@link destroyLab}. */
export interface DestroyLabOptions {
  /** Directory that contains the labs' state directories, {@link LAB_ROOT} when absent. */
  root?: string;
  /** Called with one line for each thing removed. */
  onProgress?: (message: string) => void;
}

/** A process other than the OVS daemons that was still running in a lab namespace. */
export interface StoppedProcess {
  namespace: string;
  pid: number;
  command: string;
  how: StopResult;
}

/** Summary of the daemons, processes, namespaces and files that {@link destroyLab} removed. */
export interface DestroyReport {
  name: string;
  daemons: StoppedDaemon[];
  processes: StoppedProcess[];
  namespaces: string[];
  /** Whether the state directory existed and was removed. */
  removedDirectory: boolean;
  /** Problems that did not stop the removal, such as an unreadable `lab.json`. */
  warnings: string[];
}

/**
 * Returns the existing namespaces that belong to the lab: those named with its prefix,
 * except the namespaces of another lab whose name extends this one.
 */
export async function findLabNamespaces(name: string, root: string): Promise<string[]> {
  const others = await listLabNames(root);
  const all = await listNamespaces();
  return all.filter((namespace) => belongsToLab(namespace, name, others));
}

/**
 * Removes a lab: stops its OVS daemons and any other process in its namespaces, by pid,
 * deletes its namespaces and its state directory. Works from `lab.json` and, where that is
 * missing or incomplete after a crash, from the pidfiles and the namespace names. Removing
 * a lab that does not exist succeeds and reports nothing removed.
 */
export async function destroyLab(
  name: string,
  how: DestroyLabOptions = {},
): Promise<DestroyReport> {
  const problem = checkLabName(name);
  if (problem) {
    throw new LabError(problem);
  }
  const root = how.root ?? LAB_ROOT;
  const progress = how.onProgress ?? (() => undefined);
  const report: DestroyReport = {
    name,
    daemons: [],
    processes: [],
    namespaces: [],
    removedDirectory: false,
    warnings: [],
  };

  let recorded: string[] = [];
  let dockerSharedDirs: string[] = [];
  const hosts = await findHostDirectories(root, name);
  try {
    const lab = await readLab(root, name);
    if (lab !== undefined) {
      recorded = labNamespaces(lab);
      dockerSharedDirs = lab.dockerSharedDirs ?? [];
      const directory = labDirectory(root, name);
      // A run directory outside the lab's own directory would let a damaged lab.json point
      // the daemon search at processes of other OVS instances, so such hosts are skipped.
      const inside = lab.hosts.filter((host) => host.runDirectory.startsWith(`${directory}/`));
      for (const host of lab.hosts.filter((host) => !inside.includes(host))) {
        report.warnings.push(
          `skipped host ${host.name}: its run directory ${host.runDirectory} is outside ${directory}`,
        );
      }
      hosts.splice(0, hosts.length, ...mergeHosts(inside, hosts));
    }
  } catch (error) {
    if (!(error instanceof LabError)) {
      throw error;
    }
    report.warnings.push(`${error.message}; removing the lab from its pidfiles and namespaces`);
  }

  // Agents before the OVS daemons, so that no agent sees its daemons vanish and logs errors.
  for (const host of hosts) {
    const stopped = await stopAgent(host);
    if (stopped !== undefined) {
      report.processes.push({
        namespace: host.namespace,
        pid: stopped.pid,
        command: "ovs-mesh agent",
        how: stopped.how,
      });
      progress(`${host.name}: stopped the agent ${stopped.pid} (${stopped.how})`);
    }
  }

  // dockerd first: it stops its containers, and stopping it by pid with the other processes
  // of the namespace below would leave its cgroups, mounts and shim sockets behind.
  for (const host of hosts) {
    if (await stopHostDocker(host)) {
      progress(`${host.name}: stopped Docker and its containers`);
    }
  }

  for (const host of hosts) {
    for (const stopped of await stopOvs(host)) {
      report.daemons.push(stopped);
      progress(`${host.name}: stopped ${stopped.daemon} ${stopped.pid} (${stopped.how})`);
    }
  }

  const existing = await findLabNamespaces(name, root);
  const ordered = [...recorded.filter((namespace) => existing.includes(namespace))];
  // Namespaces that lab.json misses go last, longest name first, so containers go before hosts.
  const unrecorded = existing.filter((namespace) => !ordered.includes(namespace));
  ordered.push(...unrecorded.sort((a, b) => b.length - a.length || a.localeCompare(b)));

  for (const namespace of ordered) {
    for (const pid of await namespacePids(namespace)) {
      const info = await readProcess(pid);
      const how = info === undefined ? undefined : await stopProcess(info);
      if (info !== undefined && how !== undefined) {
        const command = info.argv.join(" ");
        report.processes.push({ namespace, pid, command, how });
        progress(`${namespace}: stopped process ${pid} ${command} (${how})`);
      }
    }
    await deleteNamespace(namespace);
    report.namespaces.push(namespace);
    progress(`deleted namespace ${namespace}`);
  }

  await removeSharedDockerDirs(dockerSharedDirs);

  report.removedDirectory = await directoryExists(labDirectory(root, name));
  await removeLabDirectory(root, name);
  if (report.removedDirectory) {
    progress(`removed ${labDirectory(root, name)}`);
  }
  return report;
}

/**
 * Returns a host record for each subdirectory of the lab's state directory, so that the
 * daemons of a host that `lab.json` misses are still found through their pidfiles.
 */
async function findHostDirectories(root: string, name: string): Promise<LabHost[]> {
  let entries;
  try {
    entries = await readdir(labDirectory(root, name), { withFileTypes: true });
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return [];
    }
    throw error;
  }
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => {
      const runDirectory = join(labDirectory(root, name), entry.name);
      return {
        name: entry.name,
        namespace: "",
        underlayIp: "",
        subnet: "",
        gateway: "",
        runDirectory,
        dbSocket: join(runDirectory, DB_SOCKET),
        dbFile: join(runDirectory, DB_FILE),
        pids: { ovsdbServer: null, ovsVswitchd: null },
        containers: [],
      };
    });
}

function mergeHosts(recorded: LabHost[], found: LabHost[]): LabHost[] {
  const known = new Set(recorded.map((host) => host.runDirectory));
  return [...recorded, ...found.filter((host) => !known.has(host.runDirectory))];
}

async function directoryExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return false;
    }
    throw error;
  }
}
