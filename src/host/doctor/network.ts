import type { TunnelType } from "../../plan/cluster.js";
import { formatCidr, overlaps, parseCidr, parseIpv4, type Ipv4Network } from "../../plan/ipv4.js";
import { MIN_INNER_MTU, TUNNEL_OVERHEAD, innerMtu } from "../../plan/mtu.js";
import type { LinkActual } from "../../plan/state.js";
import type { Route } from "../ip-read.js";
import { fail, ok, skip, type CheckResult } from "./check.js";

/** The interface with the underlay IP, and the address's prefix length. */
export interface UnderlayLink {
  name: string;
  mtu: number;
  /** The underlay address with prefix length, such as "192.0.2.10/24". */
  address: string;
}

/** Finds the interface with the address `underlayIp`; undefined when there is none. */
export function findUnderlayLink(
  links: Readonly<Record<string, LinkActual>>,
  underlayIp: string,
): UnderlayLink | undefined {
  for (const [name, link] of Object.entries(links)) {
    const address = link.addresses.find((candidate) => candidate.split("/")[0] === underlayIp);
    if (address !== undefined) {
      return { name, mtu: link.mtu, address };
    }
  }
  return undefined;
}

/** Facts that {@link checkUnderlayMtu} needs. */
export interface UnderlayMtuFacts {
  tunnel: TunnelType | undefined;
  underlayIp: string | undefined;
  underlay: UnderlayLink | undefined;
  /** underlayMtu from the cluster settings; undefined when it is detected. */
  configuredMtu: number | undefined;
}

/**
 * Checks that the underlay carries the tunnel's packets. The interface's MTU must leave at
 * least the minimum inner MTU after the tunnel overhead. It must also be at least an
 * underlayMtu set in the cluster, because the inner MTU is computed from that value, so
 * larger tunnel packets would be dropped on the way.
 */
export function checkUnderlayMtu(facts: UnderlayMtuFacts): CheckResult {
  const id = "underlay-mtu";
  if (facts.tunnel === undefined || facts.underlayIp === undefined) {
    return skip(
      id,
      "no cluster known, so the underlay interface is unknown",
      "pass --config FILE --host NAME or --etcd",
    );
  }
  const { underlay, tunnel } = facts;
  if (underlay === undefined) {
    return fail(
      id,
      `no interface holds the underlay IP ${facts.underlayIp}`,
      "add the address to the underlay interface, or correct the host's underlayIp in the cluster",
    );
  }
  const overhead = TUNNEL_OVERHEAD[tunnel];
  if (facts.configuredMtu !== undefined && underlay.mtu < facts.configuredMtu) {
    return fail(
      id,
      `the cluster sets underlayMtu ${facts.configuredMtu}, but ${underlay.name} has MTU ${underlay.mtu}: ${tunnel} packets larger than ${underlay.mtu} bytes are dropped`,
      `lower underlayMtu in the cluster to ${underlay.mtu}, or raise the MTU of ${underlay.name} and of the underlay network`,
    );
  }
  const mtu = facts.configuredMtu ?? underlay.mtu;
  const inner = innerMtu(mtu, tunnel);
  if (inner < MIN_INNER_MTU) {
    return fail(
      id,
      `${underlay.name} has MTU ${underlay.mtu}, which leaves ${inner} bytes inside ${tunnel} tunnels (overhead ${overhead}), below the minimum ${MIN_INNER_MTU}`,
      `raise the MTU of ${underlay.name} to at least ${MIN_INNER_MTU + overhead}`,
    );
  }
  return ok(
    id,
    `${underlay.name} has MTU ${underlay.mtu}; ${tunnel} tunnels leave ${inner} for containers`,
  );
}

/** Facts that {@link checkClusterRange} needs. */
export interface ClusterRangeFacts {
  range: string | undefined;
  linuxBridge: string;
  /** The underlay address with prefix length; undefined when it was not found. */
  underlayAddress: string | undefined;
  routes: readonly Route[];
}

/**
 * Checks that the cluster range overlaps no network of the host. An overlap with the
 * underlay network would route tunnel packets to peers into the overlay. An overlap with
 * another route outside the container bridge would take over that route's traffic, or
 * lose the overlay's traffic to it.
 */
export function checkClusterRange(facts: ClusterRangeFacts): CheckResult {
  const id = "cluster-range";
  const range = facts.range === undefined ? undefined : parseCidr(facts.range);
  if (range === undefined) {
    return skip(
      id,
      "no cluster known, so the cluster range was not checked",
      "pass --config FILE --host NAME or --etcd",
    );
  }
  const conflicts: string[] = [];
  const underlay =
    facts.underlayAddress === undefined ? undefined : networkOf(facts.underlayAddress);
  if (underlay !== undefined && overlaps(range, underlay)) {
    conflicts.push(`the underlay network ${formatCidr(underlay)}`);
  }
  for (const route of facts.routes) {
    if (route.destination === "default" || route.device === facts.linuxBridge) {
      continue;
    }
    const network = parseCidr(route.destination);
    if (network === undefined || !overlaps(range, network)) {
      continue;
    }
    if (underlay !== undefined && formatCidr(network) === formatCidr(underlay)) {
      continue;
    }
    conflicts.push(`the route ${route.destination} dev ${route.device ?? "(none)"}`);
  }
  if (conflicts.length === 0) {
    return ok(
      id,
      `the cluster range ${facts.range} overlaps no underlay network and no other route`,
    );
  }
  return fail(
    id,
    `the cluster range ${facts.range} overlaps ${conflicts.join(", ")}`,
    "pick a cluster range that no network of the hosts uses, or move the conflicting network",
  );
}

/** Computes the network of an address with prefix length: 192.0.2.0/24 for "192.0.2.10/24". */
function networkOf(addressWithPrefix: string): Ipv4Network | undefined {
  const [text, lengthText] = addressWithPrefix.split("/");
  const address = text === undefined ? undefined : parseIpv4(text);
  const length = Number(lengthText);
  if (address === undefined || !Number.isInteger(length) || length < 0 || length > 32) {
    return undefined;
  }
  const size = 2 ** (32 - length);
  return { base: Math.floor(address / size) * size, length };
}
