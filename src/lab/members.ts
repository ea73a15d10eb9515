import { rm } from "node:fs/promises";
import { planAgent, startAgent } from "./agents.js";
import { waitForBridge, waitForClaims } from "./agent-wait.js";
import { planStore, type EtcdMemberCount, type LabStoreKind } from "./cluster-store.js";
import { createContainer, ensureDockerBridge } from "./containers.js";
import { LabError } from "./errors.js";
import { createHost } from "./machines.js";
import { labDirectory } from "./names.js";
import { deleteNamespace, listNamespaces, namespacePids } from "./namespaces.js";
import { OVSDB_SERVER, stopOvs } from "./ovs-daemons.js";
import { readProcess, stopProcess } from "./processes.js";
import type { Lab, LabHost } from "./lab.js";

/** The store that `lab up --store` gives a lab's agents. */
export interface StoreChoice {
  kind: LabStoreKind;
  etcdMembers: EtcdMemberCount;
}

/**
 * Turns a planned lab into one whose hosts run agents that share a store: plans the store and
 * each host's agent, and clears the hosts' planned subnets, because each agent claims one.
 */
export function planAgentLab(lab: Lab, root: string, choice: StoreChoice): void {
  lab.store = planStore(lab, root, choice.kind, choice.etcdMembers);
  for (const host of lab.hosts) {
    prepareAgentHost(host);
  }
}

/** Plans the agent of a host and clears its subnet and addresses until its agent claims one. */
export function prepareAgentHost(host: LabHost): void {
  host.agent = planAgent(host);
  host.subnet = "";
  host.gateway = "";
  for (const container of host.containers) {
    container.ip = "";
  }
}

/**
 * Builds a host's machine: namespace, underlay link, OVS daemons and br-phy. Calls `save`
 * after each daemon starts, so that its pid is on record before the next step can fail.
 */
export async function buildHost(host: LabHost, lab: Lab, save: () => Promise<void>): Promise<void> {
  await createHost(lab, host, async (daemon, pid) => {
    if (daemon === OVSDB_SERVER) {
      host.pids.ovsdbServer = pid;
    } else {
      host.pids.ovsVswitchd = pid;
    }
    await save();
  });
}

/**
 * Starts the agents of `hosts`, waits until each has claimed a subnet in the store, and then
 * until each agent has given docker0 the gateway address of its subnet.
 */
export async function startAgents(
  lab: Lab,
  hosts: readonly LabHost[],
  save: () => Promise<void>,
  progress: (message: string) => void,
): Promise<void> {
  for (const host of hosts) {
    const agent = host.agent ?? planAgent(host);
    host.agent = agent;
    agent.pid = await startAgent(lab, host, agent);
    await save();
    progress(`${host.name}: agent ${agent.pid} started, log ${agent.logFile}`);
  }
  await waitForClaims(lab, hosts);
  await save();
  for (const host of hosts) {
    await waitForBridge(lab, host);
    progress(`${host.name}: agent claimed subnet ${host.subnet}`);
  }
}

/** Attaches a host's containers to its docker0; returns docker0's MTU. */
export async function attachContainers(lab: Lab, host: LabHost): Promise<number> {
  const mtu = await ensureDockerBridge(lab, host);
  for (const container of host.containers) {
    await createContainer(lab, host, container, mtu);
  }
  return mtu;
}

/**
 * Removes a host's machine: stops its OVS daemons and any other process left in its
 * namespaces, deletes its containers' namespaces and its own (which removes its underlay
 * link from the switch), and deletes its run directory.
 */
export async function removeMachine(
  lab: Lab,
  host: LabHost,
  root: string,
  progress: (message: string) => void,
): Promise<void> {
  const directory = labDirectory(root, lab.name);
  if (!host.runDirectory.startsWith(`${directory}/`)) {
    throw new LabError(
      `the run directory of ${host.name}, ${host.runDirectory}, is outside ${directory}: lab.json is damaged; remove the lab with 'ovs-mesh lab down --name ${lab.name}'`,
    );
  }
  for (const stopped of await stopOvs(host)) {
    progress(`${host.name}: stopped ${stopped.daemon} ${stopped.pid} (${stopped.how})`);
  }
  const existing = new Set(await listNamespaces());
  const namespaces = [...host.containers.map((container) => container.namespace), host.namespace];
  for (const namespace of namespaces.filter((name) => existing.has(name))) {
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
  await rm(host.runDirectory, { recursive: true, force: true });
}
