import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { readHostRecord } from "../host/state-file.js";
import { stopAgent } from "./agents.js";
import { hostStateDirectory } from "./ovs-daemons.js";
import { waitForConvergence } from "./agent-wait.js";
import { configureHost } from "./configure.js";
import { LabError } from "./errors.js";
import { attachContainers, buildHost, startAgents } from "./members.js";
import { LAB_ROOT, labDirectory } from "./names.js";
import { deleteNamespace, deviceMtu, listNamespaces, namespacePids, runIp } from "./namespaces.js";
import { stopOvs } from "./ovs-daemons.js";
import { readProcess, stopProcess } from "./processes.js";
import { loadLab, writeLab } from "./state.js";
import type { Lab, LabHost } from "./lab.js";

/** Options of {@link restartHost}. */
export interface RestartHostOptions {
  /** Directory that contains the labs' state directories, {@link LAB_ROOT} when absent. */
  root?: string;
  /** Called with one line for each step done. */
  onProgress?: (message: string) => void;
}

/** Outcome of {@link restartHost}. */
export interface RestartReport {
  host: string;
  subnetBefore: string;
  subnetAfter: string;
  /** Seconds from the start of the restart until the host was configured again. */
  seconds: number;
}

/**
 * Files of a run directory that a real host keeps on disk across a reboot: the OVS database
 * (/etc/openvswitch/conf.db on Debian), logs, and ovs-mesh's state directory (/var/lib).
 * Sockets, pidfiles and the database's lock file are runtime state and are removed.
 */
function isKeptOnReboot(name: string, isSocket: boolean): boolean {
  if (isSocket || name.endsWith(".pid") || name === ".conf.db.~lock~") {
    return false;
  }
  return true;
}

/**
 * Restarts a lab host as a reboot would. It stops everything in the host's namespaces (the
 * agent, the OVS daemons, the containers' processes), deletes those namespaces with their
 * links, and removes the host's sockets and pidfiles. The OVS database and ovs-mesh's state
 * directory stay. Then it builds the machine again, starts the agent (or runs `ovs-mesh apply`
 * on a lab configured by apply), and re-creates the containers with the same addresses.
 */
export async function restartHost(
  name: string,
  hostName: string,
  options: RestartHostOptions = {},
): Promise<RestartReport> {
  const root = options.root ?? LAB_ROOT;
  const progress = options.onProgress ?? (() => undefined);
  const lab = await loadLab(name, root);
  const host = findHost(lab, hostName);
  if (host.docker !== undefined) {
    // NOTE: a Docker host would also need its dockerd and containers started again.
    throw new LabError(
      `lab restart does not support hosts with Docker yet: ${host.name} of lab ${lab.name} runs dockerd`,
    );
  }
  const directory = labDirectory(root, lab.name);
  if (!host.runDirectory.startsWith(`${directory}/`)) {
    throw new LabError(
      `the run directory of ${host.name}, ${host.runDirectory}, is outside ${directory}: lab.json is damaged; remove the lab with 'ovs-mesh lab down --name ${lab.name}'`,
    );
  }
  const started = Date.now();
  const subnetBefore = host.subnet;
  // A lab built with --no-apply has hosts that apply never configured; they stay so.
  const configured =
    lab.store === undefined && (await readHostRecord(hostStateDirectory(host))) !== undefined;
  const save = () => writeLab(root, lab);

  let step = `stopping ${host.name}`;
  try {
    await stopHost(lab, host, progress);
    step = `removing the runtime state of ${host.name}`;
    await removeRuntimeFiles(host);
    progress(`${host.name}: removed sockets and pidfiles; kept conf.db and ovs-mesh's state`);

    step = `building ${host.name}`;
    await buildHost(host, lab, save);
    progress(
      `${host.name}: ovsdb-server ${host.pids.ovsdbServer}, ovs-vswitchd ${host.pids.ovsVswitchd}`,
    );
    if (lab.store !== undefined) {
      step = `starting the agent of ${host.name}`;
      await startAgents(lab, [host], save, progress);
    } else if (configured) {
      step = `configuring ${host.name} with ovs-mesh apply`;
      await configureHost(lab, host);
      progress(`${host.name}: configured with ovs-mesh apply, subnet ${host.subnet}`);
    }
    step = `adding the containers of ${host.name}`;
    const mtu = await attachContainers(lab, host);
    progress(`${host.name}: containers re-created, MTU ${mtu}`);
    if (lab.store !== undefined) {
      step = "waiting for every agent to converge";
      await waitForConvergence(lab);
    }
    await save();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new LabError(
      `lab ${JSON.stringify(lab.name)}: ${step} failed: ${reason}\nrestart the host again, or remove the lab with 'ovs-mesh lab down --name ${lab.name}'`,
      { cause: error },
    );
  }
  return {
    host: host.name,
    subnetBefore,
    subnetAfter: host.subnet,
    seconds: (Date.now() - started) / 1000,
  };
}

function findHost(lab: Lab, hostName: string): LabHost {
  const host = lab.hosts.find((candidate) => candidate.name === hostName);
  if (host === undefined) {
    const names = lab.hosts.map((candidate) => candidate.name).join(", ");
    throw new LabError(
      `host ${JSON.stringify(hostName)} not found in lab ${lab.name}: its hosts are ${names}`,
    );
  }
  return host;
}

/**
 * Stops the agent, the OVS daemons and every other process in the host's namespaces, then
 * deletes the containers' namespaces and the host's, which removes its links.
 */
async function stopHost(
  lab: Lab,
  host: LabHost,
  progress: (message: string) => void,
): Promise<void> {
  const agent = await stopAgent(host);
  if (agent !== undefined) {
    progress(`${host.name}: stopped agent ${agent.pid} (${agent.how})`);
  }
  for (const stopped of await stopOvs(host)) {
    progress(`${host.name}: stopped ${stopped.daemon} ${stopped.pid} (${stopped.how})`);
  }
  // The kernel removes a namespace's devices some time after the namespace is deleted. The
  // switch side of the host's veth would then block its re-creation, so it goes first.
  if ((await deviceMtu(lab.switchNamespace, host.name)) !== undefined) {
    await runIp(lab.switchNamespace, ["link", "delete", "dev", host.name]);
  }
  const existing = new Set(await listNamespaces());
  const namespaces = [...host.containers.map((container) => container.namespace), host.namespace];
  for (const namespace of namespaces.filter((candidate) => existing.has(candidate))) {
    for (const pid of await namespacePids(namespace)) {
      const info = await readProcess(pid);
      const how = info === undefined ? undefined : await stopProcess(info);
      if (info !== undefined && how !== undefined) {
        progress(`${namespace}: stopped process ${pid} ${info.argv.join(" ")} (${how})`);
      }
    }
    await deleteNamespace(namespace);
    progress(`deleted namespace ${namespace}`);
  }
  host.pids = { ovsdbServer: null, ovsVswitchd: null };
  if (host.agent !== undefined) {
    host.agent.pid = null;
  }
}

async function removeRuntimeFiles(host: LabHost): Promise<void> {
  for (const entry of await readdir(host.runDirectory, { withFileTypes: true })) {
    if (!isKeptOnReboot(entry.name, entry.isSocket())) {
      await rm(join(host.runDirectory, entry.name), { force: true });
    }
  }
}
