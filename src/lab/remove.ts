import { leaveStore, stopAgent } from "./agents.js";
import { waitForConvergence } from "./agent-wait.js";
import { readStoreHosts, requireStore } from "./cluster-store.js";
import { LabError } from "./errors.js";
import { removeMachine } from "./members.js";
import { LAB_ROOT } from "./names.js";
import { loadLab, writeLab } from "./state.js";
import type { Lab, LabHost } from "./lab.js";

/** Options of {@link removeHost}. */
export interface RemoveHostOptions {
  /** Directory that contains the labs' state directories, {@link LAB_ROOT} when absent. */
  root?: string;
  /** Called with one line for each step done. */
  onProgress?: (message: string) => void;
}

/**
 * Removes a host from a lab whose hosts run agents, as an operator retires a machine. It stops
 * the agent with SIGTERM and runs `ovs-mesh leave` on the host, which frees the subnet in the
 * store and removes what ovs-mesh created there. Then it removes the machine and waits until
 * every remaining agent has dropped the host.
 */
export async function removeHost(
  name: string,
  hostName: string,
  options: RemoveHostOptions = {},
): Promise<void> {
  const root = options.root ?? LAB_ROOT;
  const progress = options.onProgress ?? (() => undefined);
  const lab = await loadLab(name, root);
  requireStore(lab);
  const host = findHost(lab, hostName);

  let step = `stopping the agent of ${host.name}`;
  try {
    const stopped = await stopAgent(host);
    progress(
      stopped === undefined
        ? `${host.name}: no agent was running`
        : `${host.name}: stopped agent ${stopped.pid} (${stopped.how})`,
    );
    step = `running ovs-mesh leave on ${host.name}`;
    await leave(lab, host, progress);

    step = `removing the machine ${host.name}`;
    await removeMachine(lab, host, root, progress);
    lab.hosts = lab.hosts.filter((candidate) => candidate !== host);
    await writeLab(root, lab);

    step = "waiting for every remaining agent to converge";
    await waitForConvergence(lab);
    progress(`lab ${name}: ${lab.hosts.length} hosts, every agent converged`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new LabError(`lab ${JSON.stringify(name)}: ${step} failed: ${reason}`, {
      cause: error,
    });
  }
}

/**
 * Runs `ovs-mesh leave` on the host. When it fails because an earlier `lab remove` got as
 * far as the leave, the store no longer lists the host and the removal goes on.
 */
async function leave(lab: Lab, host: LabHost, progress: (message: string) => void): Promise<void> {
  try {
    await leaveStore(lab, host);
  } catch (error) {
    const listed = (await readStoreHosts(lab)).some((spec) => spec.name === host.name);
    if (listed) {
      throw error;
    }
    progress(`${host.name}: not in the store any more, so there is nothing to leave`);
    return;
  }
  progress(`${host.name}: left the cluster, subnet ${host.subnet} is free`);
}

/** Finds a host of the lab by name; the error lists the hosts that exist. */
export function findHost(lab: Lab, hostName: string): LabHost {
  const host = lab.hosts.find((candidate) => candidate.name === hostName);
  if (host === undefined) {
    const names = lab.hosts.map((candidate) => candidate.name).join(", ") || "none";
    throw new LabError(
      `host ${JSON.stringify(hostName)} not found in lab ${lab.name}: its hosts are ${names}`,
    );
  }
  return host;
}
