import { existsSync } from "node:fs";
import { join } from "node:path";
import { applyFlows, dumpFlows, managementTarget } from "../host/openflow.js";
import { applyLinux, readLinux } from "../host/linux.js";
import { OvsdbClient } from "../host/ovsdb.js";
import { applyOvs, readOvs } from "../host/ovs.js";
import { readHostRecord, writeHostRecord, type HostRecord } from "../host/state-file.js";
import type { Cluster } from "../plan/cluster.js";
import { diffHost, type ActualHost, type Step } from "../plan/diff.js";
import { PlanError, findMember, planHost, type HostFacts } from "../plan/host.js";
import {
  FORWARD_CHAIN,
  NAT_CHAIN,
  type DesiredHost,
  type Flow,
  type LinuxActual,
} from "../plan/state.js";
import type { HostPaths } from "./paths.js";

/** Result of one reconcile: what the host should have and the steps that were (or would be) run. */
export interface ConvergeResult {
  desired: DesiredHost;
  steps: Step[];
  /** Number of OVSDB requests sent, for benchmarks. */
  ovsdbRequests: number;
  /** The host as this run left it, for the next run's `known` option. Undefined after a dry run. */
  known: KnownHost | undefined;
}

/**
 * Parts of a host that a converge run leaves in a known state: ovs-mesh's OpenFlow rules,
 * which equal the desired ones after a successful run, and the Linux state that the run read,
 * unless it changed that state.
 */
export interface KnownHost {
  flows: Flow[];
  linux: LinuxActual | undefined;
}

/** Options for {@link converge}. */
export interface ConvergeOptions {
  /** Compute the steps without running them. */
  dryRun: boolean;
  /** An open OVSDB connection to reuse (the agent keeps one); opened and closed here if absent. */
  client?: OvsdbClient;
  /**
   * The previous run's {@link ConvergeResult.known}, for a caller that knows that only the
   * cluster has changed since. The rules, and the Linux state when it is set, are then taken
   * from it instead of being read, which saves the flow dump and six programs. The OVS
   * database is always read. Rules or Linux state changed by hand in the meantime stay
   * unnoticed until a run without `known`.
   */
  known?: KnownHost;
  /**
   * Whether Docker owns the Linux bridge, as on a host whose daemon.json ovs-mesh keeps. The
   * host record then states that ovs-mesh did not create the bridge, so `reset` leaves it to
   * Docker. That holds even when ovs-mesh created the bridge before dockerd started, because
   * dockerd adopts an existing docker0 whose address matches its bip.
   */
  dockerOwnsBridge?: boolean;
}

/**
 * Brings one host to the state that the cluster asks for: reads the host, plans, diffs and
 * runs the steps. Running it again on a converged host finds no step. `apply` runs it once
 * and the agent runs it on every change.
 */
export async function converge(
  cluster: Cluster,
  hostName: string,
  paths: HostPaths,
  options: ConvergeOptions,
): Promise<ConvergeResult> {
  const client =
    options.client ?? (await OvsdbClient.connect(paths.ovsdbSocket, { timeoutMs: 10_000 }));
  const requestsBefore = client.requestCount;
  try {
    const self = findMember(cluster, hostName);
    const sysctlKeys = [
      "net.ipv4.ip_forward",
      "net.ipv4.conf.all.send_redirects",
      `net.ipv4.conf.${cluster.linuxBridge}.send_redirects`,
    ];
    const target = managementTarget(paths.ovsRunDir, cluster.ovsBridge);
    const known = options.known;
    const earlyDump =
      known === undefined ? startFlowDump(target, paths.ovsRunDir, cluster.ovsBridge) : undefined;
    const [ovs, linux] = await Promise.all([
      readOvs(client, cluster.ovsBridge),
      known?.linux ??
        readLinux({ sysctlKeys, chains: { filter: [FORWARD_CHAIN], nat: [NAT_CHAIN] } }),
    ]);
    const facts: HostFacts = {
      datapathTypes: usableDatapaths(ovs.datapathTypes),
      underlayMtu: cluster.underlayMtu ?? underlayMtu(linux, self.underlayIp),
    };
    const desired = planHost(cluster, hostName, facts);
    let flows: Flow[] = [];
    if (ovs.bridge !== undefined) {
      flows = known?.flows ?? (await finishFlowDump(earlyDump, target));
    }
    const actual: ActualHost = { ovs, flows, linux };
    const steps = diffHost(desired, actual);

    if (!options.dryRun && steps.length > 0) {
      await recordHost(paths.stateDir, desired, linux, options.dockerOwnsBridge ?? false);
      for (const step of steps) {
        if (step.kind === "linux") {
          await applyLinux(step.changes);
        } else if (step.kind === "ovs") {
          await applyOvs(client, step.changes);
        } else {
          await applyFlows(target, step.add, step.remove);
        }
      }
    }
    const changedLinux = steps.some((step) => step.kind === "linux");
    return {
      desired,
      steps,
      ovsdbRequests: client.requestCount - requestsBefore,
      known: options.dryRun
        ? undefined
        : { flows: desired.flows, linux: changedLinux ? undefined : linux },
    };
  } finally {
    if (options.client === undefined) {
      client.close();
    }
  }
}

/** Outcome of a flow dump started before it was known whether the bridge exists. */
type FlowDump = { flows: Flow[] } | { error: unknown };

/**
 * Starts dumping the bridge's rules when its OpenFlow socket exists, so that the dump runs
 * beside the OVSDB and Linux reads. The outcome is captured, because a failure matters only
 * if the bridge turns out to exist.
 */
function startFlowDump(
  target: string,
  ovsRunDir: string,
  bridge: string,
): Promise<FlowDump> | undefined {
  if (!existsSync(join(ovsRunDir, `${bridge}.mgmt`))) {
    return undefined;
  }
  return dumpFlows(target).then(
    (flows) => ({ flows }),
    (error: unknown) => ({ error }),
  );
}

/** Returns the rules of an existing bridge from the early dump, or dumps them now. */
async function finishFlowDump(
  early: Promise<FlowDump> | undefined,
  target: string,
): Promise<Flow[]> {
  if (early === undefined) {
    return dumpFlows(target);
  }
  const outcome = await early;
  if ("error" in outcome) {
    throw outcome.error;
  }
  return outcome.flows;
}

/**
 * Datapaths that can work here. ovs-vswitchd lists "system" whenever it was built with it,
 * but that datapath needs the openvswitch kernel module.
 */
function usableDatapaths(listed: readonly string[]): string[] {
  const moduleLoaded = existsSync("/sys/module/openvswitch");
  return listed.filter((type) => type !== "system" || moduleLoaded);
}

/** MTU of the interface that holds the underlay IP. */
function underlayMtu(linux: LinuxActual, underlayIp: string): number {
  for (const [name, link] of Object.entries(linux.links)) {
    if (link.addresses.some((address) => address.split("/")[0] === underlayIp)) {
      if (link.mtu <= 0) {
        throw new PlanError(
          `interface ${name} reports MTU ${link.mtu}; set underlayMtu in the cluster`,
        );
      }
      return link.mtu;
    }
  }
  throw new PlanError(
    `underlay IP ${underlayIp} is not on any interface of this host, so its MTU cannot be detected; check the host's underlayIp and --host, or set underlayMtu in the cluster`,
  );
}

/**
 * Records what ovs-mesh is about to create, keeping the values of the first run: whether the
 * Linux bridge existed and what the sysctls were before ovs-mesh changed them.
 */
async function recordHost(
  stateDir: string,
  desired: DesiredHost,
  linux: LinuxActual,
  dockerOwnsBridge: boolean,
): Promise<void> {
  const previous = await readHostRecord(stateDir);
  const sysctlsBefore: Record<string, string> = { ...previous?.sysctlsBefore };
  for (const key of Object.keys(desired.linux.sysctls)) {
    const value = linux.sysctls[key];
    if (!(key in sysctlsBefore) && value !== undefined) {
      sysctlsBefore[key] = value;
    }
  }
  const record: HostRecord = {
    ovsBridge: desired.ovs.bridge,
    linuxBridge: desired.linux.bridge,
    createdLinuxBridge:
      !dockerOwnsBridge &&
      (previous?.linuxBridge === desired.linux.bridge
        ? previous.createdLinuxBridge
        : linux.links[desired.linux.bridge] === undefined),
    route: desired.linux.route,
    sysctlsBefore,
  };
  await writeHostRecord(stateDir, record);
}
