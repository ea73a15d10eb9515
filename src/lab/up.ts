import { waitForConvergence } from "./agent-wait.js";
import { startStore } from "./cluster-store.js";
import { configureHost, writeClusterFile } from "./configure.js";
import { createContainer, ensureDockerBridge } from "./containers.js";
import {
  addDockerContainers,
  planDocker,
  prepareDocker,
  startHostDocker,
  type DockerBuild,
} from "./docker-hosts.js";
import { destroyLab, findLabNamespaces } from "./down.js";
import { LabError } from "./errors.js";
import { createHost, createSwitch } from "./machines.js";
import { planAgentLab, startAgents, type StoreChoice } from "./members.js";
import { LAB_ROOT } from "./names.js";
import { OVSDB_SERVER } from "./ovs-daemons.js";
import { createLabDirectory, labStatePath, removeLabDirectory, writeLab } from "./state.js";
import type { Lab } from "./lab.js";
import { planLab, type LabOptions } from "./topology.js";

/** Options of {@link createLab}. */
export interface CreateLabOptions {
  /** Directory that contains the labs' state directories, {@link LAB_ROOT} when absent. */
  root?: string;
  /**
   * Whether to configure each host with `ovs-mesh apply` (true when absent). When false,
   * the hosts get only docker0, as Docker would create it, and no tunnels.
   */
  configure?: boolean;
  /** Whether to keep what was built when a step fails, for inspection (false when absent). */
  retain?: boolean;
  /**
   * Whether each host runs dockerd and its containers are Docker containers (false when
   * absent: plain namespaces).
   */
  docker?: boolean;
  /**
   * The store that each host's `ovs-mesh agent` joins and claims a subnet in. When absent,
   * `ovs-mesh apply` configures the hosts from a cluster file with fixed subnets.
   */
  store?: StoreChoice;
  /** Called with one line for each step done. */
  onProgress?: (message: string) => void;
}

/**
 * Builds a lab and returns what `lab.json` records. Fails before it changes anything when a
 * lab of that name, or a namespace with its prefix, exists. When a later step fails, it
 * removes what it built (unless `retain`) and raises a {@link LabError} that names the step.
 */
export async function createLab(options: LabOptions, how: CreateLabOptions = {}): Promise<Lab> {
  const root = how.root ?? LAB_ROOT;
  const progress = how.onProgress ?? (() => undefined);
  const lab = planLab(options, root);
  if (how.store !== undefined) {
    planAgentLab(lab, root, how.store);
  }
  if (how.docker === true) {
    planDocker(lab);
  }

  await createLabDirectory(root, lab.name);
  const leftovers = await findLabNamespaces(lab.name, root);
  if (leftovers.length > 0) {
    await removeLabDirectory(root, lab.name);
    throw new LabError(
      `namespaces of a lab named ${JSON.stringify(lab.name)} exist already (${leftovers.join(", ")}): remove them with 'ovs-mesh lab down --name ${lab.name}' or pick another --name`,
    );
  }
  await writeLab(root, lab);
  progress(`lab ${lab.name}: state in ${labStatePath(root, lab.name)}`);

  let step = "writing the cluster file";
  let docker: DockerBuild | undefined;
  try {
    if (lab.store === undefined) {
      await writeClusterFile(lab);
    }

    step = `creating the switch namespace ${lab.switchNamespace}`;
    await createSwitch(lab);
    progress(`switch: namespace ${lab.switchNamespace}, underlay ${lab.underlayNetwork}`);

    if (lab.store !== undefined) {
      step = `starting the ${lab.store.kind} store`;
      await startStore(lab);
      const where = lab.store.kind === "file" ? lab.clusterFile : lab.store.endpoints.join(", ");
      progress(`store: ${lab.store.kind}, ${where}`);
    }

    for (const host of lab.hosts) {
      step = `building ${host.name}`;
      await createHost(lab, host, async (daemon, pid) => {
        if (daemon === OVSDB_SERVER) {
          host.pids.ovsdbServer = pid;
        } else {
          host.pids.ovsVswitchd = pid;
        }
        await writeLab(root, lab);
      });
      progress(
        `${host.name}: namespace ${host.namespace}, underlay ${host.underlayIp}, ovsdb-server ${host.pids.ovsdbServer}, ovs-vswitchd ${host.pids.ovsVswitchd}`,
      );
    }

    if (lab.store !== undefined) {
      step = "starting the agents";
      await startAgents(lab, lab.hosts, () => writeLab(root, lab), progress);
    }
    if (how.docker === true) {
      step = "building the lab image";
      docker = await prepareDocker(lab);
      await writeLab(root, lab);
    }
    for (const host of lab.hosts) {
      if (docker !== undefined) {
        step = `starting Docker on ${host.name}`;
        docker.daemons.set(host.name, await startHostDocker(lab, host));
        progress(`${host.name}: dockerd started with bip ${host.gateway}/${lab.subnetLength}`);
      }
      if (lab.store === undefined && (how.configure ?? true)) {
        step = `configuring ${host.name} with ovs-mesh apply`;
        await configureHost(lab, host);
        progress(`${host.name}: configured with ovs-mesh apply, subnet ${host.subnet}`);
      }
      step = `adding the containers of ${host.name}`;
      let mtu: number;
      if (docker === undefined) {
        mtu = await ensureDockerBridge(lab, host);
        for (const container of host.containers) {
          await createContainer(lab, host, container, mtu);
        }
      } else {
        mtu = await addDockerContainers(docker, host);
        await writeLab(root, lab);
      }
      const names = host.containers.map((container) => `${container.name} ${container.ip}`);
      progress(`${host.name}: containers ${names.join(", ") || "none"}, MTU ${mtu}`);
    }

    if (lab.store !== undefined) {
      step = "waiting for every agent to converge";
      await waitForConvergence(lab);
      progress(`every agent converged`);
    }

    lab.status = "ready";
    await writeLab(root, lab);
    return lab;
  } catch (error) {
    throw await failedStep(lab, root, step, error, how.retain ?? false);
  } finally {
    await docker?.removeImageTarball();
  }
}

async function failedStep(
  lab: Lab,
  root: string,
  step: string,
  error: unknown,
  retain: boolean,
): Promise<LabError> {
  const reason = error instanceof Error ? error.message : String(error);
  const message = `lab ${JSON.stringify(lab.name)}: ${step} failed: ${reason}`;
  if (retain) {
    return new LabError(
      `${message}\nwhat was built is kept for inspection; remove it with 'ovs-mesh lab down --name ${lab.name}'`,
      { cause: error },
    );
  }
  try {
    await destroyLab(lab.name, { root });
  } catch (cleanupError) {
    const cleanupReason =
      cleanupError instanceof Error ? cleanupError.message : String(cleanupError);
    return new LabError(
      `${message}\nremoving what was built failed as well: ${cleanupReason}\nretry with 'ovs-mesh lab down --name ${lab.name}'`,
      { cause: error },
    );
  }
  return new LabError(`${message}\neverything that was built has been removed`, {
    cause: error,
  });
}
