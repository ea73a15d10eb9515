import type { Cluster, HostSpec } from "./cluster.js";
import { planFlows } from "./flows.js";
import { formatIpv4, gatewayAddress, parseCidr } from "./ipv4.js";
import { MIN_INNER_MTU, innerMtu } from "./mtu.js";
import type { DesiredHost, RuleSpec } from "./state.js";
import { planTunnels } from "./tunnels.js";

/** Facts about the host that the planner needs and the cluster does not contain. */
export interface HostFacts {
  /** Datapath types that ovs-vswitchd can use on this host, such as ["netdev", "system"]. */
  datapathTypes: readonly string[];
  /** MTU of the interface that has the host's underlay IP. */
  underlayMtu: number;
}

/** A host that cannot be planned: not a member, no usable datapath, MTU too small. */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanError";
  }
}

/**
 * Computes everything one host must have for the cluster: the OVS bridge and tunnels, the
 * OpenFlow pipeline, the Linux bridge with the gateway address, the route of the cluster
 * range, sysctls and forwarding rules. Pure: the same inputs give the same state.
 */
export function planHost(cluster: Cluster, hostName: string, facts: HostFacts): DesiredHost {
  const self = findMember(cluster, hostName);
  const peers = cluster.hosts.filter((host) => host.name !== hostName).sort(byName);
  const datapath = chooseDatapath(cluster.datapath, facts.datapathTypes);
  const underlayMtu = cluster.underlayMtu ?? facts.underlayMtu;
  const mtu = innerMtu(underlayMtu, cluster.tunnel);
  if (mtu < MIN_INNER_MTU) {
    throw new PlanError(
      `underlay MTU ${underlayMtu} leaves an inner MTU of ${mtu} with ${cluster.tunnel}, below the minimum ${MIN_INNER_MTU}: raise the underlay MTU or set underlayMtu in the cluster`,
    );
  }

  return {
    host: self.name,
    subnet: self.subnet,
    innerMtu: mtu,
    datapath,
    ovs: {
      bridge: cluster.ovsBridge,
      datapathType: datapath,
      failMode: "secure",
      internalMtu: mtu,
      tunnels: planTunnels(cluster, peers, cluster.mode === "port"),
    },
    flows: planFlows(cluster, self, peers),
    linux: {
      bridge: cluster.linuxBridge,
      address: gatewayCidr(self),
      mac: bridgeMac(self),
      mtu,
      route: cluster.range,
      sysctls: {
        "net.ipv4.ip_forward": "1",
        // The host routes between containers and the overlay on the same bridge. Without
        // this it sends its containers ICMP redirects to remote containers, which they
        // cannot reach directly.
        "net.ipv4.conf.all.send_redirects": "0",
        [`net.ipv4.conf.${cluster.linuxBridge}.send_redirects`]: "0",
      },
      forwardRules: forwardRules(cluster.range, cluster.linuxBridge),
      natRules: natRules(cluster.range),
    },
  };
}

/** Returns the member with this name, or raises a {@link PlanError} listing the members. */
export function findMember(cluster: Cluster, hostName: string): HostSpec {
  const self = cluster.hosts.find((host) => host.name === hostName);
  if (self === undefined) {
    const names = cluster.hosts.map((host) => host.name).join(", ") || "none";
    throw new PlanError(
      `host ${JSON.stringify(hostName)} is not a member of the cluster (members: ${names}); add it to the cluster or pass the right --host`,
    );
  }
  return self;
}

function byName(a: HostSpec, b: HostSpec): number {
  if (a.name === b.name) {
    return 0;
  }
  return a.name < b.name ? -1 : 1;
}

/** Resolves the configured datapath against what ovs-vswitchd supports. */
export function chooseDatapath(
  choice: "auto" | "system" | "netdev",
  available: readonly string[],
): "system" | "netdev" {
  if (choice !== "auto") {
    if (!available.includes(choice)) {
      throw new PlanError(
        `datapath ${choice} is not available (ovs-vswitchd offers: ${available.join(", ") || "none"}); set datapath to auto or load the openvswitch kernel module`,
      );
    }
    return choice;
  }
  if (available.includes("system")) {
    return "system";
  }
  if (available.includes("netdev")) {
    return "netdev";
  }
  throw new PlanError(
    "ovs-vswitchd offers neither the system nor the netdev datapath; check that it runs",
  );
}

/** Returns the host's gateway address with the prefix length, such as "10.240.1.1/24". */
export function gatewayCidr(host: HostSpec): string {
  const subnet = parseCidr(host.subnet);
  if (subnet === undefined) {
    throw new RangeError(`invalid subnet ${JSON.stringify(host.subnet)} of ${host.name}`);
  }
  return `${formatIpv4(gatewayAddress(subnet))}/${subnet.length}`;
}

/**
 * Returns the MAC address of the host's Linux bridge: 02:6d, a locally administered prefix,
 * then the four bytes of the gateway address. A bridge without a MAC of its own takes the
 * lowest MAC of its ports, so re-creating br0 could change the gateway's MAC and leave
 * every container with a stale neighbor entry for its gateway. Docker's bridge driver sets
 * docker0's MAC for the same reason.
 */
export function bridgeMac(host: HostSpec): string {
  const subnet = parseCidr(host.subnet);
  if (subnet === undefined) {
    throw new RangeError(`invalid subnet ${JSON.stringify(host.subnet)} of ${host.name}`);
  }
  const gateway = gatewayAddress(subnet);
  const bytes = [24, 16, 8, 0].map((shift) => ((gateway >>> shift) & 0xff).toString(16));
  return ["02", "6d", ...bytes.map((byte) => byte.padStart(2, "0"))].join(":");
}

/** Accepts forwarded traffic inside the cluster range, even where FORWARD's policy is DROP. */
function forwardRules(range: string, linuxBridge: string): RuleSpec[] {
  return [
    ["-s", range, "-d", range, "-i", linuxBridge, "-j", "ACCEPT"],
    ["-s", range, "-d", range, "-o", linuxBridge, "-j", "ACCEPT"],
  ];
}

/** Keeps container-to-container traffic from being masqueraded (by Docker's rules, say). */
function natRules(range: string): RuleSpec[] {
  return [["-s", range, "-d", range, "-j", "RETURN"]];
}
