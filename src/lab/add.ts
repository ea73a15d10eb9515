import { waitForConvergence } from "./agent-wait.js";
import { requireStore } from "./cluster-store.js";
import { LabError } from "./errors.js";
import { attachContainers, buildHost, prepareAgentHost, startAgents } from "./members.js";
import { LAB_ROOT, hostName } from "./names.js";
import { loadLab, writeLab } from "./state.js";
import type { Lab, LabHost } from "./lab.js";
import { DEFAULT_LAB_OPTIONS, MAX_HOSTS, planAddedHost, underlayAddress } from "./topology.js";

/** Options of {@link addHosts}. */
export interface AddHostsOptions {
  /** Number of hosts to add. */
  count: number;
  /** Containers on each new host; as many as the lab's first host has when absent. */
  containers?: number;
  /** Directory that contains the labs' state directories, {@link LAB_ROOT} when absent. */
  root?: string;
  /** Called with one line for each step done. */
  onProgress?: (message: string) => void;
}

/**
 * Adds hosts to a running lab whose hosts run agents: builds each machine, starts its agent,
 * which claims a subnet, attaches its containers, and waits until every agent of the lab
 * has converged. Each new host takes the lowest host number whose name and underlay address
 * are free. Returns the new hosts.
 *
 * NOTE: two `lab add` or `lab remove` commands on one lab at once would overwrite each
 * other's lab.json; run them one after another.
 */
export async function addHosts(name: string, options: AddHostsOptions): Promise<LabHost[]> {
  const root = options.root ?? LAB_ROOT;
  const progress = options.onProgress ?? (() => undefined);
  const lab = await loadLab(name, root);
  requireStore(lab);
  if (lab.status !== "ready") {
    throw new LabError(
      `lab ${name} is still being built or its build failed: wait for 'lab up' to finish, or remove it with 'ovs-mesh lab down --name ${name}'`,
    );
  }
  const containers =
    options.containers ?? lab.hosts[0]?.containers.length ?? DEFAULT_LAB_OPTIONS.containers;
  const hosts = planNewHosts(lab, root, options.count, containers);
  const save = () => writeLab(root, lab);
  // Recorded before anything is built, so that `lab down` finds a half-built host.
  lab.hosts.push(...hosts);
  await save();

  let step = "";
  try {
    for (const host of hosts) {
      step = `building ${host.name}`;
      await buildHost(host, lab, save);
      progress(`${host.name}: namespace ${host.namespace}, underlay ${host.underlayIp}`);
    }
    step = "starting the agents of the new hosts";
    await startAgents(lab, hosts, save, progress);
    for (const host of hosts) {
      step = `adding the containers of ${host.name}`;
      const mtu = await attachContainers(lab, host);
      await save();
      const names = host.containers.map((container) => `${container.name} ${container.ip}`);
      progress(`${host.name}: containers ${names.join(", ") || "none"}, MTU ${mtu}`);
    }
    step = "waiting for every agent to converge";
    await waitForConvergence(lab);
    progress(`lab ${name}: ${lab.hosts.length} hosts, every agent converged`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const names = hosts.map((host) => host.name).join(" ");
    throw new LabError(
      `lab ${JSON.stringify(name)}: ${step} failed: ${reason}\nremove the new hosts with 'ovs-mesh lab remove --name ${name} HOST' (${names}), or the lab with 'ovs-mesh lab down --name ${name}'`,
      { cause: error },
    );
  }
  return hosts;
}

/**
 * Plans `count` new hosts. Numbers count up from the lab's highest so far, so that a new
 * host does not get the underlay address of a host that was removed. When the numbers run
 * out, free lower numbers are reused.
 */
export function planNewHosts(lab: Lab, root: string, count: number, containers: number): LabHost[] {
  const names = new Set(lab.hosts.map((host) => host.name));
  const addresses = new Set(lab.hosts.map((host) => host.underlayIp));
  const first = Math.max(lab.nextHostIndex ?? 0, lab.hosts.length);
  const order = [
    ...Array.from({ length: MAX_HOSTS - Math.min(first, MAX_HOSTS) }, (_, i) => first + i),
    ...Array.from({ length: Math.min(first, MAX_HOSTS) }, (_, i) => i),
  ];
  const hosts: LabHost[] = [];
  for (const index of order) {
    if (hosts.length === count) {
      break;
    }
    if (!names.has(hostName(index)) && !addresses.has(underlayAddress(index))) {
      const host = planAddedHost(lab, root, index, containers);
      prepareAgentHost(host);
      hosts.push(host);
      lab.nextHostIndex = index + 1;
    }
  }
  if (hosts.length < count) {
    throw new LabError(
      `lab ${lab.name} has ${lab.hosts.length} hosts and room for ${hosts.length} more, not ${count}: a lab holds at most ${MAX_HOSTS}`,
    );
  }
  return hosts;
}
