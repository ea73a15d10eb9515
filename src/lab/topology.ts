import { join } from "node:path";
import type { TunnelMode, TunnelType } from "../plan/cluster.js";
import { formatCidr, formatIpv4, gatewayAddress, nthSubnet, parseCidr } from "../plan/ipv4.js";
import { LabError } from "./errors.js";
import type { Lab, LabContainer, LabHost } from "./lab.js";
import {
  DB_FILE,
  DB_SOCKET,
  checkContainerName,
  checkLabHostName,
  checkLabName,
  containerName,
  containerNamespace,
  hostName,
  hostNamespace,
  hostRunDirectory,
  labDirectory,
  namespacePath,
  switchNamespace,
} from "./names.js";

/**
 * Underlay network of every lab, from 198.18.0.0/15, which RFC 2544 reserves for benchmarks.
 * The addresses exist only inside the lab's namespaces. Host i gets 198.18.0.(i+10).
 */
export const UNDERLAY_NETWORK = "198.18.0.0/24";
const FIRST_UNDERLAY_HOST = 10;

/** MTU of the lab's veth links, as the kernel creates them. */
export const UNDERLAY_MTU = 1500;

/** Cluster range of every lab; host i owns 10.240.(i+1).0/24. */
export const CLUSTER_RANGE = "10.240.0.0/16";
export const SUBNET_LENGTH = 24;

/** Hosts that fit in the underlay network: 198.18.0.10 to 198.18.0.254. */
export const MAX_HOSTS = 245;

/** Containers that fit in a host's /24 next to the gateway: .2 to .254. */
export const MAX_CONTAINERS = 253;

/** Unix socket paths longer than this do not fit in `sockaddr_un.sun_path` (108 bytes). */
const MAX_SOCKET_PATH = 107;

/**
 * Socket name of maximum length that OVS creates in a run directory: `ovs-vswitchd.PID.ctl`
 * with a 7-digit pid, because Linux caps pid_max at 4194304.
 */
const LONGEST_SOCKET_NAME = "ovs-vswitchd.4194304.ctl";

/** Options of `ovs-mesh lab up`: the lab's name, size and tunnel settings. */
export interface LabOptions {
  name: string;
  hosts: number;
  containers: number;
  tunnel: TunnelType;
  mode: TunnelMode;
}

export const DEFAULT_LAB_OPTIONS: Omit<LabOptions, "name"> = {
  hosts: 3,
  containers: 2,
  tunnel: "gre",
  mode: "flow",
};

/** Returns the underlay address of the n-th host, counting from 0. */
export function underlayAddress(index: number): string {
  const network = parseCidr(UNDERLAY_NETWORK);
  if (network === undefined || index < 0 || index >= MAX_HOSTS) {
    throw new RangeError(`host index ${index} is outside 0 to ${MAX_HOSTS - 1}`);
  }
  return formatIpv4(network.base + FIRST_UNDERLAY_HOST + index);
}

/** Returns the subnet of the n-th host, counting from 0: the (n+1)-th /24 of the range. */
export function hostSubnet(index: number): string {
  const range = parseCidr(CLUSTER_RANGE);
  if (range === undefined || index < 0 || index >= MAX_HOSTS) {
    throw new RangeError(`host index ${index} is outside 0 to ${MAX_HOSTS - 1}`);
  }
  return formatCidr(nthSubnet(range, SUBNET_LENGTH, index + 1));
}

/** Returns the address of the n-th container in a subnet: .2, .3, ... after the gateway. */
export function containerAddress(subnet: string, index: number): string {
  const network = parseCidr(subnet);
  if (network === undefined || index < 0 || index >= MAX_CONTAINERS) {
    throw new RangeError(`container index ${index} is outside 0 to ${MAX_CONTAINERS - 1}`);
  }
  return formatIpv4(gatewayAddress(network) + 1 + index);
}

/** Checks the options and derives every name, address and path of the lab. */
export function planLab(options: LabOptions, root: string, now: Date = new Date()): Lab {
  checkOptions(options);
  checkSocketPaths(root, options);

  const hosts: LabHost[] = [];
  for (let index = 0; index < options.hosts; index += 1) {
    hosts.push(planHost(options.name, root, hostName(index), index, options.containers));
  }
  return {
    version: 1,
    name: options.name,
    status: "building",
    createdAt: now.toISOString(),
    tunnel: options.tunnel,
    mode: options.mode,
    underlayNetwork: UNDERLAY_NETWORK,
    underlayMtu: UNDERLAY_MTU,
    clusterRange: CLUSTER_RANGE,
    subnetLength: SUBNET_LENGTH,
    clusterFile: join(labDirectory(root, options.name), "cluster.yaml"),
    switchNamespace: switchNamespace(options.name),
    hosts,
  };
}

/**
 * Plans host number `index` of a lab that exists, as `lab add` adds it, with the checks
 * that {@link planLab} makes.
 */
export function planAddedHost(lab: Lab, root: string, index: number, containers: number): LabHost {
  const { name, tunnel, mode } = lab;
  const options = { name, hosts: index + 1, containers, tunnel, mode };
  checkOptions(options);
  checkSocketPaths(root, options);
  return planHost(lab.name, root, hostName(index), index, containers);
}

function planHost(
  lab: string,
  root: string,
  name: string,
  index: number,
  containerCount: number,
): LabHost {
  const problem = checkLabHostName(name);
  if (problem) {
    throw new LabError(problem);
  }
  const subnet = hostSubnet(index);
  const network = parseCidr(subnet);
  if (network === undefined) {
    throw new RangeError(`host subnet ${subnet} is not a valid CIDR`);
  }
  const runDirectory = hostRunDirectory(root, lab, name);

  const containers: LabContainer[] = [];
  for (let slot = 0; slot < containerCount; slot += 1) {
    const container = containerName(slot);
    const containerProblem = checkContainerName(container);
    if (containerProblem) {
      throw new LabError(containerProblem);
    }
    const namespace = containerNamespace(lab, name, container);
    containers.push({
      name: container,
      namespace,
      namespacePath: namespacePath(namespace),
      ip: containerAddress(subnet, slot),
    });
  }
  return {
    name,
    namespace: hostNamespace(lab, name),
    underlayIp: underlayAddress(index),
    subnet,
    gateway: formatIpv4(gatewayAddress(network)),
    runDirectory,
    dbSocket: join(runDirectory, DB_SOCKET),
    dbFile: join(runDirectory, DB_FILE),
    pids: { ovsdbServer: null, ovsVswitchd: null },
    containers,
  };
}

function checkOptions(options: LabOptions): void {
  const problem = checkLabName(options.name);
  if (problem) {
    throw new LabError(problem);
  }
  if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > MAX_HOSTS) {
    throw new LabError(`invalid host count ${options.hosts}: expected 1 to ${MAX_HOSTS}`);
  }
  const containers = options.containers;
  if (!Number.isInteger(containers) || containers < 0 || containers > MAX_CONTAINERS) {
    throw new LabError(`invalid container count ${containers}: expected 0 to ${MAX_CONTAINERS}`);
  }
}

function checkSocketPaths(root: string, options: LabOptions): void {
  const longestHost = hostName(options.hosts - 1);
  const path = join(hostRunDirectory(root, options.name, longestHost), LONGEST_SOCKET_NAME);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new LabError(
      `unix socket paths under ${root} would reach ${Buffer.byteLength(path)} bytes, over the limit of ${MAX_SOCKET_PATH}: use a shorter lab name or state directory`,
    );
  }
}

/**
 * Returns every namespace of the lab, containers first, so that they can be removed in order.
 * Docker containers have no named namespace and are left out.
 */
export function labNamespaces(lab: Lab): string[] {
  const containers = lab.hosts.flatMap((host) =>
    host.containers.map((c) => c.namespace).filter((namespace) => namespace !== ""),
  );
  const hosts = lab.hosts.map((host) => host.namespace);
  return [...containers, ...hosts, lab.switchNamespace];
}

/**
 * Returns the cluster file of the lab, in the schema that `parseCluster` reads. The datapath
 * is always netdev: the lab's machines have no OVS kernel module, and the lab puts each
 * host's underlay address on br-phy, which only the userspace datapath needs.
 */
export function clusterDocument(lab: Lab): Record<string, unknown> {
  return {
    range: lab.clusterRange,
    subnetLength: lab.subnetLength,
    tunnel: lab.tunnel,
    mode: lab.mode,
    datapath: "netdev",
    hosts: lab.hosts.map((host) => ({
      name: host.name,
      underlayIp: host.underlayIp,
      subnet: host.subnet,
    })),
  };
}
