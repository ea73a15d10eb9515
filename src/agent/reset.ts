import { rm } from "node:fs/promises";
import { join } from "node:path";
import { applyLinux, readLinux } from "../host/linux.js";
import { OvsdbClient } from "../host/ovsdb.js";
import { deleteOwnFlows, dumpFlows, managementTarget } from "../host/openflow.js";
import { readOvs, removeManaged } from "../host/ovs.js";
import { readHostRecord } from "../host/state-file.js";
import { DEFAULT_SETTINGS } from "../plan/cluster.js";
import { FORWARD_CHAIN, NAT_CHAIN, type LinuxChange } from "../plan/state.js";
import type { HostPaths } from "./paths.js";

/** What {@link resetHost} removed or restored, one line each. */
export interface ResetResult {
  removed: string[];
}

/**
 * Removes what ovs-mesh created on this host and nothing else: OVS bridges and ports that
 * carry its external_ids mark (with their OpenFlow rules), its iptables chains and the jumps
 * to them, and, as recorded when it applied, the cluster route, the Linux bridge if ovs-mesh
 * created it, and the sysctl values it changed.
 */
export async function resetHost(paths: HostPaths): Promise<ResetResult> {
  const removed: string[] = [];
  const record = await readHostRecord(paths.stateDir);

  const client = await OvsdbClient.connect(paths.ovsdbSocket, { timeoutMs: 10_000 });
  try {
    removed.push(...(await removeManaged(client)));
    removed.push(...(await removeRulesOfKeptBridge(client, paths, record?.ovsBridge)));
  } finally {
    client.close();
  }

  const linux = await readLinux({
    sysctlKeys: Object.keys(record?.sysctlsBefore ?? {}),
    chains: { filter: [FORWARD_CHAIN], nat: [NAT_CHAIN] },
  });
  const changes: LinuxChange[] = [];
  if (linux.jumps.forward) {
    changes.push({ kind: "remove-jump", table: "filter", from: "FORWARD", chain: FORWARD_CHAIN });
  }
  if (linux.chains.filter[FORWARD_CHAIN] !== undefined) {
    changes.push({ kind: "remove-chain", table: "filter", chain: FORWARD_CHAIN });
  }
  if (linux.jumps.postrouting) {
    changes.push({ kind: "remove-jump", table: "nat", from: "POSTROUTING", chain: NAT_CHAIN });
  }
  if (linux.chains.nat[NAT_CHAIN] !== undefined) {
    changes.push({ kind: "remove-chain", table: "nat", chain: NAT_CHAIN });
  }

  if (record !== undefined) {
    const routed = linux.routes.some(
      (route) => route.destination === record.route && route.device === record.linuxBridge,
    );
    if (routed) {
      changes.push({ kind: "remove-route", destination: record.route, device: record.linuxBridge });
    }
    if (record.createdLinuxBridge && linux.links[record.linuxBridge]?.kind === "bridge") {
      changes.push({ kind: "delete-bridge", name: record.linuxBridge });
    }
    for (const [key, value] of Object.entries(record.sysctlsBefore)) {
      if (linux.sysctls[key] !== undefined && linux.sysctls[key] !== value) {
        changes.push({ kind: "sysctl", key, value });
      }
    }
  }

  await applyLinux(changes);
  removed.push(...changes.map(describeRemoval));
  await rm(join(paths.stateDir, "host.json"), { force: true });
  await rm(join(paths.stateDir, "cluster.json"), { force: true });
  return { removed };
}

/**
 * Deletes ovs-mesh's OpenFlow rules from its bridge when {@link removeManaged} kept the bridge
 * because it has ports that ovs-mesh did not create. Left behind, the rules would still name
 * the port numbers of the removed tunnels, which OVS may give to new ports.
 */
async function removeRulesOfKeptBridge(
  client: OvsdbClient,
  paths: HostPaths,
  recordedBridge: string | undefined,
): Promise<string[]> {
  const ovs = await readOvs(client, recordedBridge ?? DEFAULT_SETTINGS.ovsBridge);
  if (ovs.bridge === undefined || !ovs.bridge.managed) {
    return [];
  }
  const target = managementTarget(paths.ovsRunDir, ovs.bridge.bridge);
  if ((await dumpFlows(target)).length === 0) {
    return [];
  }
  await deleteOwnFlows(target);
  return [
    `OpenFlow rules on bridge ${ovs.bridge.bridge}, which stays because of ports that ovs-mesh did not create (${ovs.foreignPorts.join(", ")})`,
  ];
}

function describeRemoval(change: LinuxChange): string {
  switch (change.kind) {
    case "remove-jump":
      return `iptables ${change.table} ${change.from} jump to ${change.chain}`;
    case "remove-chain":
      return `iptables ${change.table} chain ${change.chain}`;
    case "remove-route":
      return `route ${change.destination} dev ${change.device}`;
    case "delete-bridge":
      return `Linux bridge ${change.name}`;
    case "sysctl":
      return `sysctl ${change.key} restored to ${change.value}`;
    default:
      return change.kind;
  }
}
