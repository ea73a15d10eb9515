/**
 * OVS driver: reads and changes the bridge and tunnel ports that ovs-mesh owns, over OVSDB.
 * Every object ovs-mesh creates carries external_ids OWNER_KEY=OWNER_VALUE, and only objects
 * with that mark are ever updated or removed.
 */
import {
  OWNER_KEY,
  OWNER_VALUE,
  PEER_KEY,
  type BridgeSettings,
  type OvsActual,
  type OvsChange,
  type TunnelPort,
} from "../plan/state.js";
import {
  fromOvsdbIntegerMap,
  fromOvsdbStringMap,
  toOvsdbMap,
  toOvsdbSet,
  type OvsdbAtom,
  type OvsdbClient,
  type OvsdbCondition,
  type OvsdbValue,
} from "./ovsdb.js";

import {
  OVS_DATABASE,
  byName,
  mainInterface,
  portsOf,
  readInventory,
  type BridgeRow,
  type Inventory,
  type PortRow,
} from "./ovs-inventory.js";
import {
  DEFAULT_APPLY_TIMEOUT_MS,
  OvsApplyTimeoutError,
  OvsChangeError,
  Transaction,
  commitAndWait,
  type OvsApplyOptions,
} from "./ovs-transaction.js";

export { DEFAULT_APPLY_TIMEOUT_MS, OvsApplyTimeoutError, OvsChangeError, type OvsApplyOptions };

const MARK = toOvsdbMap({ [OWNER_KEY]: OWNER_VALUE });
const IS_MARKED: OvsdbCondition = ["external_ids", "includes", MARK];
const EMPTY_SET: OvsdbValue = ["set", []];
/** Counters and BFD state of one interface, as ovs-vswitchd reports them. */
export interface InterfaceStats {
  /** Undefined when ovs-vswitchd has not reported the counter (yet). */
  rxPackets: number | undefined;
  txPackets: number | undefined;
  rxBytes: number | undefined;
  txBytes: number | undefined;
  /** Interface bfd_status column, such as `{ state: "up" }`; empty when BFD is off. */
  bfdStatus: Record<string, string>;
}

/** Reads the bridge named `bridgeName`, its tunnel ports and the datapath types, in one request. */
export async function readOvs(client: OvsdbClient, bridgeName: string): Promise<OvsActual> {
  const inventory = await readInventory(client);
  const bridge = inventory.bridges.find((row) => row.name === bridgeName);
  if (bridge === undefined) {
    return {
      datapathTypes: inventory.datapathTypes,
      bridge: undefined,
      tunnels: [],
      foreignPorts: [],
    };
  }

  let internalMtu = 0;
  const tunnels: TunnelPort[] = [];
  const foreignPorts: string[] = [];
  for (const port of portsOf(bridge, inventory)) {
    const iface = mainInterface(port, inventory);
    if (port.name === bridge.name) {
      // A bridge's internal port has the bridge's name. Its mtu_request is empty unless set.
      internalMtu = iface?.mtuRequest ?? 0;
    } else if (!port.marked) {
      foreignPorts.push(port.name);
    } else if (iface !== undefined) {
      tunnels.push({
        name: port.name,
        type: iface.type,
        options: iface.options,
        bfd: iface.bfd,
        peer: port.externalIds[PEER_KEY] ?? iface.externalIds[PEER_KEY],
      });
    }
  }

  const { name, datapathType, failMode, marked } = bridge;
  return {
    datapathTypes: inventory.datapathTypes,
    bridge: { bridge: name, datapathType, failMode, internalMtu, managed: marked },
    tunnels: tunnels.sort(byName),
    foreignPorts: foreignPorts.sort(),
  };
}

/** Order of changes in the transaction: removals free names, and bridges precede their ports. */
const CHANGE_ORDER: Record<OvsChange["kind"], number> = {
  "remove-tunnel": 0,
  "remove-bridge": 1,
  "create-bridge": 2,
  "update-bridge": 3,
  "add-tunnel": 4,
  "update-tunnel": 5,
};

/**
 * Applies `changes` in one transaction, then waits until ovs-vswitchd has applied it, so that
 * OpenFlow rules may name the new ports right away. Only objects carrying ovs-mesh's mark are
 * updated or removed, and tunnels are added only to marked bridges: anything else throws
 * {@link OvsChangeError} and nothing is committed. Removing a tunnel or bridge that does not
 * exist does nothing. Removals cost one more request, to look up row UUIDs.
 */
export async function applyOvs(
  client: OvsdbClient,
  changes: readonly OvsChange[],
  options: OvsApplyOptions = {},
): Promise<void> {
  if (changes.length === 0) {
    return;
  }
  const needsUuids = changes.some((c) => c.kind === "remove-tunnel" || c.kind === "remove-bridge");
  const inventory = needsUuids ? await readInventory(client) : undefined;
  const ordered = [...changes].sort((a, b) => CHANGE_ORDER[a.kind] - CHANGE_ORDER[b.kind]);

  const transaction = new Transaction();
  for (const change of ordered) {
    transaction.source = change;
    addChange(transaction, change, inventory);
  }
  await commitAndWait(client, transaction, options);
}

function addChange(transaction: Transaction, change: OvsChange, inventory: Inventory | undefined) {
  switch (change.kind) {
    case "create-bridge":
      return createBridge(transaction, change);
    case "update-bridge":
      return updateBridge(transaction, change);
    case "add-tunnel":
      return addTunnel(transaction, change.bridge, change.port);
    case "update-tunnel":
      return updateTunnel(transaction, change.port);
    case "remove-tunnel":
      return removeTunnel(transaction, change, requireInventory(inventory));
    case "remove-bridge":
      return removeBridge(transaction, change, requireInventory(inventory));
  }
}

function createBridge(transaction: Transaction, settings: BridgeSettings): void {
  const name = settings.bridge;
  const iface = transaction.insert("Interface", {
    name,
    type: "internal",
    mtu_request: mtuRequest(settings.internalMtu),
    external_ids: MARK,
  });
  const port = transaction.insert("Port", { name, interfaces: iface, external_ids: MARK });
  const bridge = transaction.insert("Bridge", {
    ...bridgeColumns(settings),
    name,
    ports: port,
    external_ids: MARK,
  });
  transaction.add({
    op: "mutate",
    table: "Open_vSwitch",
    where: [],
    mutations: [["bridges", "insert", bridge]],
  });
}

function updateBridge(transaction: Transaction, settings: BridgeSettings): void {
  const name = settings.bridge;
  const bridge: OvsdbCondition[] = [["name", "==", name], IS_MARKED];
  transaction.requireRow("Bridge", bridge, `bridge ${name} is missing or not managed by ovs-mesh`);
  transaction.requireRow(
    "Interface",
    bridge,
    `internal interface ${name} is missing or not managed by ovs-mesh`,
  );
  transaction.add({ op: "update", table: "Bridge", where: bridge, row: bridgeColumns(settings) });
  transaction.add({
    op: "update",
    table: "Interface",
    where: bridge,
    row: { mtu_request: mtuRequest(settings.internalMtu) },
  });
}

function addTunnel(transaction: Transaction, bridgeName: string, tunnel: TunnelPort): void {
  const bridge: OvsdbCondition[] = [["name", "==", bridgeName], IS_MARKED];
  transaction.requireRow(
    "Bridge",
    bridge,
    `bridge ${bridgeName} is missing or not managed by ovs-mesh, so ovs-mesh adds no port to it`,
  );
  const externalIds = tunnelExternalIds(tunnel);
  const iface = transaction.insert("Interface", { ...interfaceColumns(tunnel), name: tunnel.name });
  const port = transaction.insert("Port", {
    name: tunnel.name,
    interfaces: iface,
    external_ids: externalIds,
  });
  transaction.add({
    op: "mutate",
    table: "Bridge",
    where: bridge,
    mutations: [["ports", "insert", port]],
  });
}

function updateTunnel(transaction: Transaction, tunnel: TunnelPort): void {
  const own: OvsdbCondition[] = [["name", "==", tunnel.name], IS_MARKED];
  const reason = `is missing or not managed by ovs-mesh`;
  transaction.requireRow("Port", own, `port ${tunnel.name} ${reason}`);
  transaction.requireRow("Interface", own, `interface ${tunnel.name} ${reason}`);
  transaction.add({ op: "update", table: "Interface", where: own, row: interfaceColumns(tunnel) });
  transaction.add({
    op: "update",
    table: "Port",
    where: own,
    row: { external_ids: tunnelExternalIds(tunnel) },
  });
}

function removeTunnel(
  transaction: Transaction,
  change: Extract<OvsChange, { kind: "remove-tunnel" }>,
  inventory: Inventory,
): void {
  const port = [...inventory.ports.values()].find((row) => row.name === change.name);
  if (port === undefined) {
    return;
  }
  if (!port.marked) {
    throw notManaged(change, `port ${port.name}`);
  }
  const bridge = inventory.bridges.find((row) => row.name === change.bridge);
  if (bridge === undefined || !bridge.portUuids.includes(port.uuid)) {
    throw new OvsChangeError(change, `port ${port.name} is not on bridge ${change.bridge}`);
  }
  detachPort(transaction, bridge, port);
}

function removeBridge(
  transaction: Transaction,
  change: Extract<OvsChange, { kind: "remove-bridge" }>,
  inventory: Inventory,
): void {
  const bridge = inventory.bridges.find((row) => row.name === change.bridge);
  if (bridge === undefined) {
    return;
  }
  if (!bridge.marked) {
    throw notManaged(change, `bridge ${bridge.name}`);
  }
  const foreign = portsOf(bridge, inventory).filter((port) => !port.marked);
  if (foreign.length > 0) {
    const names = foreign.map((port) => port.name).join(", ");
    throw new OvsChangeError(
      change,
      `bridge ${bridge.name} contains ports that ovs-mesh did not create (${names}); ` +
        `move or delete them before removing the bridge`,
    );
  }
  deleteBridge(transaction, bridge);
}

/** Removes a marked port from a bridge. OVSDB deletes the unreferenced Port and Interface rows. */
function detachPort(transaction: Transaction, bridge: BridgeRow, port: PortRow): void {
  transaction.requireRow(
    "Port",
    [["_uuid", "==", ["uuid", port.uuid]], IS_MARKED],
    `port ${port.name} changed while ovs-mesh was removing it`,
  );
  transaction.add({
    op: "mutate",
    table: "Bridge",
    where: [["_uuid", "==", ["uuid", bridge.uuid]]],
    mutations: [["ports", "delete", ["uuid", port.uuid]]],
  });
}

/**
 * Removes a marked bridge, with all its ports. The bridge's port set must still be the one that
 * was read, so that a port added by someone else in the meantime is not deleted with it.
 */
function deleteBridge(transaction: Transaction, bridge: BridgeRow): void {
  transaction.add({
    op: "wait",
    timeout: 0,
    table: "Bridge",
    where: [["_uuid", "==", ["uuid", bridge.uuid]], IS_MARKED],
    columns: ["ports"],
    until: "==",
    rows: [{ ports: toOvsdbSet(bridge.portUuids.map((uuid): OvsdbAtom => ["uuid", uuid])) }],
  });
  transaction.explainLast(`bridge ${bridge.name} changed while ovs-mesh was removing it`);
  transaction.add({
    op: "mutate",
    table: "Open_vSwitch",
    where: [],
    mutations: [["bridges", "delete", ["uuid", bridge.uuid]]],
  });
}

/**
 * Removes every bridge that carries ovs-mesh's mark and every marked port on other bridges, in
 * one transaction, and returns what it removed, such as "bridge br0" or "port gre0 on bridge
 * br-ext". A marked bridge that contains unmarked ports is kept, because deleting it would delete
 * them; only its marked tunnel ports are removed.
 */
export async function removeManaged(
  client: OvsdbClient,
  options: OvsApplyOptions = {},
): Promise<string[]> {
  const inventory = await readInventory(client);
  const transaction = new Transaction();
  const removed: string[] = [];

  for (const bridge of inventory.bridges) {
    const ports = portsOf(bridge, inventory);
    if (bridge.marked && ports.every((port) => port.marked)) {
      transaction.source = { kind: "remove-bridge", bridge: bridge.name };
      deleteBridge(transaction, bridge);
      removed.push(`bridge ${bridge.name}`);
      continue;
    }
    for (const port of ports) {
      if (port.marked && !(bridge.marked && port.name === bridge.name)) {
        transaction.source = { kind: "remove-tunnel", bridge: bridge.name, name: port.name };
        detachPort(transaction, bridge, port);
        removed.push(`port ${port.name} on bridge ${bridge.name}`);
      }
    }
  }

  if (removed.length > 0) {
    await commitAndWait(client, transaction, options);
  }
  return removed;
}

/** Reads counters and BFD state of the named interfaces; names not found are left out. */
export async function readInterfaceStats(
  client: OvsdbClient,
  names: readonly string[],
): Promise<Record<string, InterfaceStats>> {
  if (names.length === 0) {
    return {};
  }
  const results = await client.transact(
    OVS_DATABASE,
    names.map((name) => ({
      op: "select",
      table: "Interface",
      where: [["name", "==", name]],
      columns: ["name", "statistics", "bfd_status"],
    })),
  );

  const stats: Record<string, InterfaceStats> = {};
  for (const [index, name] of names.entries()) {
    const row = results[index]?.rows?.[0];
    if (row === undefined) {
      continue;
    }
    const counters = fromOvsdbIntegerMap(row.statistics, "Interface statistics");
    stats[name] = {
      rxPackets: counters.rx_packets,
      txPackets: counters.tx_packets,
      rxBytes: counters.rx_bytes,
      txBytes: counters.tx_bytes,
      bfdStatus: fromOvsdbStringMap(row.bfd_status, "Interface bfd_status"),
    };
  }
  return stats;
}

function bridgeColumns(settings: BridgeSettings): Record<string, OvsdbValue> {
  return {
    datapath_type: settings.datapathType,
    fail_mode: settings.failMode === "" ? EMPTY_SET : settings.failMode,
    // OpenFlow 1.3 for set_field to tun_dst; 1.0 keeps plain ovs-ofctl calls working.
    protocols: toOvsdbSet(["OpenFlow10", "OpenFlow13"]),
  };
}

function interfaceColumns(tunnel: TunnelPort): Record<string, OvsdbValue> {
  return {
    type: tunnel.type,
    options: toOvsdbMap(tunnel.options),
    bfd: toOvsdbMap(tunnel.bfd),
    external_ids: tunnelExternalIds(tunnel),
  };
}

function tunnelExternalIds(tunnel: TunnelPort): OvsdbValue {
  const ids: Record<string, string> = { [OWNER_KEY]: OWNER_VALUE };
  if (tunnel.peer !== undefined) {
    ids[PEER_KEY] = tunnel.peer;
  }
  return toOvsdbMap(ids);
}

/** mtu_request value: empty (OVS picks the MTU) for 0. */
function mtuRequest(mtu: number): OvsdbValue {
  return mtu > 0 ? mtu : EMPTY_SET;
}

function notManaged(change: OvsChange, object: string): OvsChangeError {
  return new OvsChangeError(
    change,
    `${object} is not managed by ovs-mesh (its external_ids lack ${OWNER_KEY}=${OWNER_VALUE}); ` +
      `ovs-mesh changes only what it created`,
  );
}

function requireInventory(inventory: Inventory | undefined): Inventory {
  if (inventory === undefined) {
    throw new Error("removals need the current rows, which were not read");
  }
  return inventory;
}
