import { OWNER_KEY, OWNER_VALUE } from "../plan/state.js";
import { fromOvsdbSet, fromOvsdbStringMap, fromOvsdbUuid, type OvsdbClient } from "./ovsdb.js";

/** The OVSDB database of Open vSwitch. */
export const OVS_DATABASE = "Open_vSwitch";

export interface BridgeRow {
  uuid: string;
  name: string;
  marked: boolean;
  datapathType: string;
  failMode: string;
  portUuids: string[];
}

export interface PortRow {
  uuid: string;
  name: string;
  marked: boolean;
  externalIds: Record<string, string>;
  interfaceUuids: string[];
}

export interface InterfaceRow {
  name: string;
  type: string;
  options: Record<string, string>;
  bfd: Record<string, string>;
  externalIds: Record<string, string>;
  mtuRequest: number | undefined;
}

/** The rows of the four tables that the driver looks at, read in one transaction. */
export interface Inventory {
  datapathTypes: string[];
  bridges: BridgeRow[];
  ports: Map<string, PortRow>;
  interfaces: Map<string, InterfaceRow>;
}

export async function readInventory(client: OvsdbClient): Promise<Inventory> {
  const [system, bridges, ports, interfaces] = await client.transact(OVS_DATABASE, [
    { op: "select", table: "Open_vSwitch", where: [], columns: ["datapath_types"] },
    {
      op: "select",
      table: "Bridge",
      where: [],
      columns: ["_uuid", "name", "datapath_type", "fail_mode", "ports", "external_ids"],
    },
    {
      op: "select",
      table: "Port",
      where: [],
      columns: ["_uuid", "name", "interfaces", "external_ids"],
    },
    {
      op: "select",
      table: "Interface",
      where: [],
      columns: ["_uuid", "name", "type", "options", "bfd", "external_ids", "mtu_request"],
    },
  ]);

  const datapathTypes = system?.rows?.[0]?.datapath_types;
  const inventory: Inventory = {
    datapathTypes:
      datapathTypes === undefined ? [] : fromOvsdbSet(datapathTypes, "datapath_types").map(String),
    bridges: (bridges?.rows ?? []).map(bridgeRow).sort(byName),
    ports: new Map(),
    interfaces: new Map(),
  };
  for (const row of ports?.rows ?? []) {
    const port = portRow(row);
    inventory.ports.set(port.uuid, port);
  }
  for (const row of interfaces?.rows ?? []) {
    inventory.interfaces.set(fromOvsdbUuid(row._uuid, "Interface _uuid"), interfaceRow(row));
  }
  return inventory;
}

function bridgeRow(row: Record<string, unknown>): BridgeRow {
  const externalIds = fromOvsdbStringMap(row.external_ids, "Bridge external_ids");
  return {
    uuid: fromOvsdbUuid(row._uuid, "Bridge _uuid"),
    name: String(row.name),
    marked: externalIds[OWNER_KEY] === OWNER_VALUE,
    datapathType: String(row.datapath_type),
    failMode: fromOvsdbSet(row.fail_mode, "Bridge fail_mode").map(String)[0] ?? "",
    portUuids: fromOvsdbSet(row.ports, "Bridge ports").map((v) => fromOvsdbUuid(v, "Bridge ports")),
  };
}

function portRow(row: Record<string, unknown>): PortRow {
  const externalIds = fromOvsdbStringMap(row.external_ids, "Port external_ids");
  return {
    uuid: fromOvsdbUuid(row._uuid, "Port _uuid"),
    name: String(row.name),
    marked: externalIds[OWNER_KEY] === OWNER_VALUE,
    externalIds,
    interfaceUuids: fromOvsdbSet(row.interfaces, "Port interfaces").map((value) =>
      fromOvsdbUuid(value, "Port interfaces"),
    ),
  };
}

function interfaceRow(row: Record<string, unknown>): InterfaceRow {
  const mtu = fromOvsdbSet(row.mtu_request, "Interface mtu_request")[0];
  return {
    name: String(row.name),
    type: String(row.type),
    options: fromOvsdbStringMap(row.options, "Interface options"),
    bfd: fromOvsdbStringMap(row.bfd, "Interface bfd"),
    externalIds: fromOvsdbStringMap(row.external_ids, "Interface external_ids"),
    mtuRequest: typeof mtu === "number" ? mtu : undefined,
  };
}

/** Returns the bridge's ports sorted by name, skipping UUIDs without a row. */
export function portsOf(bridge: BridgeRow, inventory: Inventory): PortRow[] {
  return bridge.portUuids
    .map((uuid) => inventory.ports.get(uuid))
    .filter((port): port is PortRow => port !== undefined)
    .sort(byName);
}

/** Orders rows by name in code-unit order, like Array.prototype.sort() on strings. */
export function byName(a: { name: string }, b: { name: string }): number {
  if (a.name === b.name) {
    return 0;
  }
  return a.name < b.name ? -1 : 1;
}

/** Finds the interface named like its port, the only one on ports that ovs-mesh creates. */
export function mainInterface(port: PortRow, inventory: Inventory): InterfaceRow | undefined {
  const interfaces = port.interfaceUuids
    .map((uuid) => inventory.interfaces.get(uuid))
    .filter((iface): iface is InterfaceRow => iface !== undefined);
  return interfaces.find((iface) => iface.name === port.name) ?? interfaces[0];
}
