/**
 * The state of one host, as ovs-mesh wants it (from the planner) or finds it (from the host
 * drivers). Both sides use the same shapes so that the diff compares like with like.
 */

/** Marks every OpenFlow rule that ovs-mesh writes: "ovsmesh" in ASCII. */
export const COOKIE = "0x6f76736d657368";

/** external_ids key set on every OVS bridge, port and interface that ovs-mesh creates. */
export const OWNER_KEY = "ovs-mesh";
/** external_ids value for {@link OWNER_KEY}. */
export const OWNER_VALUE = "managed";
/** external_ids key naming the peer host of a tunnel port. */
export const PEER_KEY = "ovs-mesh-peer";

/** iptables chain in the filter table that accepts overlay traffic; jumped to from FORWARD. */
export const FORWARD_CHAIN = "OVS-MESH-FORWARD";
/** iptables chain in the nat table that keeps overlay traffic from being masqueraded. */
export const NAT_CHAIN = "OVS-MESH-POSTROUTING";

/** An OpenFlow rule without its cookie, in the text form that `ovs-ofctl` reads and prints. */
export interface Flow {
  table: number;
  priority: number;
  /** Comma-separated match fields, such as "ip,nw_src=10.240.1.0/24"; empty matches all. */
  match: string;
  /** Actions as `ovs-ofctl dump-flows` prints them, such as "LOCAL" or "drop". */
  actions: string;
}

/** An OVS port with one interface of the same name. */
export interface TunnelPort {
  name: string;
  /** Interface type: gre, vxlan or geneve. */
  type: string;
  /** Interface options, such as remote_ip. */
  options: Record<string, string>;
  /** Interface bfd column; empty when BFD is off. */
  bfd: Record<string, string>;
  /** Name of the peer host in port mode; undefined for the flow-mode port. */
  peer: string | undefined;
}

/** The OVS side of a host. */
export interface OvsState {
  bridge: string;
  datapathType: string;
  failMode: string;
  /** MTU requested for the bridge's internal interface. */
  internalMtu: number;
  tunnels: TunnelPort[];
}

/** An iptables rule as the argument list after `-A CHAIN`. */
export type RuleSpec = readonly string[];

/** The Linux side of a host. */
export interface LinuxState {
  /** The Linux bridge that holds the containers and the OVS internal port. */
  bridge: string;
  /** Gateway address with prefix length, such as "10.240.1.1/24". */
  address: string;
  mtu: number;
  /** Cluster range routed through the Linux bridge. */
  route: string;
  /** sysctl keys (dotted form) and the values they must have. */
  sysctls: Record<string, string>;
  /** Rules of {@link FORWARD_CHAIN}, in order. */
  forwardRules: RuleSpec[];
  /** Rules of {@link NAT_CHAIN}, in order. */
  natRules: RuleSpec[];
}

/** Everything ovs-mesh configures on one host. */
export interface DesiredHost {
  host: string;
  subnet: string;
  innerMtu: number;
  datapath: "system" | "netdev";
  ovs: OvsState;
  flows: Flow[];
  linux: LinuxState;
}
