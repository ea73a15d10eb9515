import { access } from "node:fs/promises";
import { findAgent } from "./agents.js";
import { DOCKER_BRIDGE } from "./containers.js";
import { LAB_ROOT } from "./names.js";
import { deviceMtu, listNamespaces } from "./namespaces.js";
import { OVSDB_SERVER, OVS_VSWITCHD, findOvsDaemon, type OvsDaemon } from "./ovs-daemons.js";
import { loadLab } from "./state.js";
import type { Lab, LabContainer, LabHost } from "./lab.js";

/** One OVS daemon of a lab host; `pid` is null when it does not run. */
export interface DaemonStatus {
  pid: number | null;
  running: boolean;
}

export interface ContainerStatus extends LabContainer {
  /**
   * Whether the container's namespace exists. For a Docker container, whether its recorded
   * process still runs: after a restart of the container, `lab check` records the new one.
   */
  exists: boolean;
}

/** The agent of a lab host, with where to find its endpoint and log. */
export interface AgentStatus extends DaemonStatus {
  metricsAddress: string;
  logFile: string;
}

export interface HostStatus extends Omit<LabHost, "pids" | "containers" | "agent"> {
  /** Whether the host's namespace exists. */
  exists: boolean;
  /** MTU of the host's docker0; null when docker0 does not exist. */
  dockerMtu: number | null;
  daemons: Record<"ovsdbServer" | "ovsVswitchd", DaemonStatus>;
  /** The host's agent; null in labs that configure hosts with `ovs-mesh apply`. */
  agent: AgentStatus | null;
  containers: ContainerStatus[];
}

/** A lab as `lab.json` records it, checked against the running system. */
export interface LabStatus extends Omit<Lab, "hosts" | "version"> {
  switchExists: boolean;
  hosts: HostStatus[];
  /** Whether the lab is ready, every namespace exists and every daemon runs. */
  healthy: boolean;
}

/** Reads a lab's `lab.json` and checks its namespaces and daemons. */
export async function labStatus(name: string, root: string = LAB_ROOT): Promise<LabStatus> {
  const lab = await loadLab(name, root);
  const namespaces = new Set(await listNamespaces());

  const hosts: HostStatus[] = [];
  for (const host of lab.hosts) {
    hosts.push(await hostStatus(host, namespaces));
  }
  const switchExists = namespaces.has(lab.switchNamespace);
  const healthy =
    lab.status === "ready" &&
    switchExists &&
    hosts.every(
      (host) =>
        host.exists &&
        host.daemons.ovsdbServer.running &&
        host.daemons.ovsVswitchd.running &&
        (host.agent === null || host.agent.running) &&
        host.containers.every((container) => container.exists),
    );
  return {
    name: lab.name,
    status: lab.status,
    createdAt: lab.createdAt,
    tunnel: lab.tunnel,
    mode: lab.mode,
    underlayNetwork: lab.underlayNetwork,
    underlayMtu: lab.underlayMtu,
    clusterRange: lab.clusterRange,
    subnetLength: lab.subnetLength,
    clusterFile: lab.clusterFile,
    store: lab.store,
    switchNamespace: lab.switchNamespace,
    switchExists,
    hosts,
    healthy,
  };
}

async function hostStatus(host: LabHost, namespaces: Set<string>): Promise<HostStatus> {
  const exists = namespaces.has(host.namespace);
  const dockerMtu = exists ? await deviceMtu(host.namespace, DOCKER_BRIDGE) : undefined;
  return {
    name: host.name,
    namespace: host.namespace,
    underlayIp: host.underlayIp,
    subnet: host.subnet,
    gateway: host.gateway,
    runDirectory: host.runDirectory,
    dbSocket: host.dbSocket,
    dbFile: host.dbFile,
    exists,
    dockerMtu: dockerMtu ?? null,
    daemons: {
      ovsdbServer: await daemonStatus(host, OVSDB_SERVER),
      ovsVswitchd: await daemonStatus(host, OVS_VSWITCHD),
    },
    agent: await agentStatus(host),
    containers: await Promise.all(
      host.containers.map(async (container) => ({
        ...container,
        exists:
          container.dockerId === undefined
            ? namespaces.has(container.namespace)
            : await pathExists(container.namespacePath),
      })),
    ),
  };
}

async function daemonStatus(host: LabHost, daemon: OvsDaemon): Promise<DaemonStatus> {
  const info = await findOvsDaemon(host, daemon);
  return { pid: info?.pid ?? null, running: info !== undefined };
}

async function agentStatus(host: LabHost): Promise<AgentStatus | null> {
  if (host.agent === undefined) {
    return null;
  }
  const info = await findAgent(host);
  const { metricsAddress, logFile } = host.agent;
  return { pid: info?.pid ?? null, running: info !== undefined, metricsAddress, logFile };
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return false;
    }
    throw error;
  }
}
