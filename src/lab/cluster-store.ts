import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import type { HostSpec } from "../plan/cluster.js";
import { formatIpv4, parseCidr } from "../plan/ipv4.js";
import { FileStore } from "../store/file.js";
import { ovsMeshBinary } from "./configure.js";
import { LabError } from "./errors.js";
import { attachEtcd, startEtcd, type EtcdCluster } from "./etcd.js";
import { addNamespace, runIn, runIp } from "./namespaces.js";
import { SWITCH_BRIDGE, labDirectory, labNamespacePrefix } from "./names.js";
import type { Lab, LabStore } from "./lab.js";
import { clusterDocument } from "./topology.js";

/** Kinds of store that a lab's agents can share. */
export const LAB_STORE_KINDS = ["file", "etcd"] as const;
export type LabStoreKind = (typeof LAB_STORE_KINDS)[number];

/** Numbers of etcd members that a lab can run. */
export const ETCD_MEMBER_COUNTS = [1, 3] as const;
export type EtcdMemberCount = (typeof ETCD_MEMBER_COUNTS)[number];

/**
 * Offset of the first etcd member's address in the underlay network: members get .2 to .4,
 * below the hosts, which start at .10.
 */
const FIRST_ETCD_ADDRESS = 2;
const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;

/** The etcd namespace's veth: its name in the switch namespace, and inside the namespace. */
const ETCD_SWITCH_PORT = "etcd";
const ETCD_DEVICE = "eth0";

/** Time that `ovs-mesh init` and `ovs-mesh hosts list` may take. */
const COMMAND_TIMEOUT_MS = 60_000;

/** Plans the store of a new lab: names, addresses and directories, nothing created yet. */
export function planStore(
  lab: Lab,
  root: string,
  kind: LabStoreKind,
  members: EtcdMemberCount,
): LabStore {
  if (kind === "file") {
    return { kind, endpoints: [], namespace: null, directory: null };
  }
  const endpoints = etcdAddresses(lab, members).map(
    (address) => `http://${address}:${ETCD_CLIENT_PORT}`,
  );
  return {
    kind,
    endpoints,
    namespace: `${labNamespacePrefix(lab.name)}etcd`,
    directory: join(labDirectory(root, lab.name), "etcd"),
  };
}

function etcdAddresses(lab: Lab, members: number): string[] {
  const network = parseCidr(lab.underlayNetwork);
  if (network === undefined) {
    throw new RangeError(`invalid underlay network ${lab.underlayNetwork} in lab ${lab.name}`);
  }
  return Array.from({ length: members }, (_, index) =>
    formatIpv4(network.base + FIRST_ETCD_ADDRESS + index),
  );
}

/**
 * Creates the lab's store. File: the cluster file with the settings and no hosts, which the
 * agents add themselves to. Etcd: a namespace on the underlay switch with one address per
 * member, the members, and the cluster created with `ovs-mesh init`, as an operator would.
 */
export async function startStore(lab: Lab): Promise<void> {
  const store = requireStore(lab);
  if (store.kind === "file") {
    const temporary = `${lab.clusterFile}.tmp`;
    await writeFile(temporary, stringify({ ...clusterDocument(lab), hosts: [] }), { mode: 0o644 });
    await rename(temporary, lab.clusterFile);
    return;
  }
  const { namespace, directory } = etcdPlaces(lab, store);
  const addresses = store.endpoints.map((endpoint) => new URL(endpoint).hostname);
  const prefixLength = parseCidr(lab.underlayNetwork)?.length ?? 24;

  await addNamespace(namespace);
  // Made in the switch namespace with the peer moved straight into the etcd namespace, so
  // that no device ever appears in the root namespace.
  await runIp(lab.switchNamespace, [
    ...["link", "add", ETCD_SWITCH_PORT, "type", "veth"],
    ...["peer", "name", ETCD_DEVICE, "netns", namespace],
  ]);
  await runIp(lab.switchNamespace, ["link", "set", ETCD_SWITCH_PORT, "master", SWITCH_BRIDGE]);
  await runIp(lab.switchNamespace, ["link", "set", ETCD_SWITCH_PORT, "up"]);
  for (const address of addresses) {
    await runIp(namespace, ["address", "add", `${address}/${prefixLength}`, "dev", ETCD_DEVICE]);
  }
  // A veth hands TCP packets to its peer with the checksum left for the NIC to fill in. The
  // hosts' OVS (userspace datapath) reads them from their underlay veth with AF_PACKET and
  // passes them on unfilled, so the hosts' kernels would drop every TCP segment from etcd
  // as corrupt. With TX checksum offload off, the kernel fills in the checksum itself.
  await runIn(namespace, ["ethtool", "-K", ETCD_DEVICE, "tx", "off"]);
  await runIp(namespace, ["link", "set", ETCD_DEVICE, "up"]);

  await mkdir(directory, { recursive: true, mode: 0o700 });
  await startEtcd({
    dir: directory,
    members: addresses.length === 3 ? 3 : 1,
    netns: namespace,
    addresses,
    ports: addresses.map(() => ({ client: ETCD_CLIENT_PORT, peer: ETCD_PEER_PORT })),
    startTimeoutMs: COMMAND_TIMEOUT_MS,
  });
  await runIn(
    namespace,
    [
      ...[process.execPath, ovsMeshBinary(), "init", ...storeOptions(lab)],
      ...["--range", lab.clusterRange, "--subnet-length", String(lab.subnetLength)],
      ...["--tunnel", lab.tunnel, "--mode", lab.mode, "--datapath", "netdev"],
    ],
    { timeoutMs: COMMAND_TIMEOUT_MS },
  );
}

/** Returns the ovs-mesh options that select the lab's store, such as `--etcd URL --cluster NAME`. */
export function storeOptions(lab: Lab): string[] {
  const store = requireStore(lab);
  if (store.kind === "file") {
    return ["--config", lab.clusterFile];
  }
  return ["--etcd", store.endpoints.join(","), "--cluster", lab.name];
}

/**
 * Reads the hosts from the lab's store. Etcd is reachable only from the underlay network, so
 * `ovs-mesh hosts list` runs in the etcd namespace.
 */
export async function readStoreHosts(lab: Lab): Promise<HostSpec[]> {
  const store = requireStore(lab);
  if (store.kind === "file") {
    const view = await new FileStore(lab.clusterFile).load();
    return view.hosts.map(({ name, underlayIp, subnet }) => ({ name, underlayIp, subnet }));
  }
  const { namespace } = etcdPlaces(lab, store);
  const { stdout } = await runIn(
    namespace,
    [process.execPath, ovsMeshBinary(), "hosts", "list", "--json", ...storeOptions(lab)],
    { timeoutMs: COMMAND_TIMEOUT_MS },
  );
  return parseHostList(stdout);
}

/** Parses the hosts of `ovs-mesh hosts list --json`. */
export function parseHostList(text: string): HostSpec[] {
  const value: unknown = JSON.parse(text);
  const hosts =
    typeof value === "object" && value !== null && "hosts" in value ? value.hosts : undefined;
  if (!Array.isArray(hosts)) {
    throw new LabError(`ovs-mesh hosts list --json printed no hosts list: ${text.slice(0, 200)}`);
  }
  return hosts.map((host: unknown) => {
    const record = typeof host === "object" && host !== null ? host : {};
    const field = (key: string): string => {
      const fieldValue: unknown = (record as Record<string, unknown>)[key];
      if (typeof fieldValue !== "string") {
        throw new LabError(`ovs-mesh hosts list --json printed a host without ${key}`);
      }
      return fieldValue;
    };
    return { name: field("name"), underlayIp: field("underlayIp"), subnet: field("subnet") };
  });
}

/** Returns the lab's etcd members, to stop or restart them. */
export async function labEtcd(lab: Lab): Promise<EtcdCluster> {
  const { directory } = etcdPlaces(lab, requireStore(lab));
  const cluster = await attachEtcd(directory);
  if (cluster === undefined) {
    throw new LabError(`lab ${lab.name} has no etcd record in ${directory}`);
  }
  return cluster;
}

/** Returns the lab's store, or raises a {@link LabError} for a lab configured by apply. */
export function requireStore(lab: Lab): LabStore {
  if (lab.store === undefined) {
    throw new LabError(
      `lab ${lab.name} configures its hosts with 'ovs-mesh apply' and has no agents: build it with 'ovs-mesh lab up --store file' or '--store etcd'`,
    );
  }
  return lab.store;
}

function etcdPlaces(lab: Lab, store: LabStore): { namespace: string; directory: string } {
  if (store.kind !== "etcd" || store.namespace === null || store.directory === null) {
    throw new LabError(`lab ${lab.name} keeps its cluster in a file, not in etcd`);
  }
  return { namespace: store.namespace, directory: store.directory };
}
