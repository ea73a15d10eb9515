import type { Cluster, HostSpec, TunnelMode, TunnelType } from "../src/plan/cluster.js";
import { formatCidr, formatIpv4, nthSubnet, parseCidr, parseIpv4 } from "../src/plan/ipv4.js";

/** Cluster range of the synthetic clusters: room for 65,535 host subnets of /24. */
export const SYNTHETIC_RANGE = "10.0.0.0/8";
/** Underlay network of the synthetic hosts, 198.18.0.0/15 (RFC 2544, for benchmarks). */
const UNDERLAY_BASE = "198.18.0.10";
/** Hosts that fit: the /15 has 131,072 addresses and the range 65,535 subnets after the first. */
export const MAX_SYNTHETIC_HOSTS = 65_535;

/** Returns the n-th synthetic host, counting from 0: host0 owns 10.0.1.0/24. */
export function syntheticHost(index: number): HostSpec {
  const range = parseCidr(SYNTHETIC_RANGE);
  const underlay = parseIpv4(UNDERLAY_BASE);
  if (range === undefined || underlay === undefined) {
    throw new RangeError("invalid synthetic range or underlay base");
  }
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SYNTHETIC_HOSTS) {
    throw new RangeError(`host index ${index} is outside 0 to ${MAX_SYNTHETIC_HOSTS - 1}`);
  }
  return {
    name: `host${index}`,
    underlayIp: formatIpv4(underlay + index),
    subnet: formatCidr(nthSubnet(range, 24, index + 1)),
  };
}

/**
 * Returns a cluster of `hostCount` synthetic hosts with the underlay MTU set, so that
 * planning needs no underlay interface on the machine that runs it.
 */
export function syntheticCluster(
  hostCount: number,
  mode: TunnelMode,
  tunnel: TunnelType = "gre",
): Cluster {
  const hosts: HostSpec[] = [];
  for (let index = 0; index < hostCount; index += 1) {
    hosts.push(syntheticHost(index));
  }
  return {
    range: SYNTHETIC_RANGE,
    subnetLength: 24,
    tunnel,
    mode,
    datapath: "netdev",
    ovsBridge: "br0",
    linuxBridge: "docker0",
    underlayMtu: 1500,
    hosts,
  };
}
