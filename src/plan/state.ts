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
  /** MAC address that the bridge gets when ovs-mesh creates it, such as "02:6d:0a:f0:01:01". */
  mac: string;
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

/** Settings of the OVS bridge that ovs-mesh owns. */
export interface BridgeSettings {
  bridge: string;
  datapathType: string;
  failMode: string;
  internalMtu: number;
}

/** One change to the OVS database; a whole list is applied in one transaction. */
export type OvsChange =
  | ({ kind: "create-bridge" } & BridgeSettings)
  | ({ kind: "update-bridge" } & BridgeSettings)
  | { kind: "add-tunnel"; bridge: string; port: TunnelPort }
  | { kind: "update-tunnel"; bridge: string; port: TunnelPort }
  | { kind: "remove-tunnel"; bridge: string; name: string }
  | { kind: "remove-bridge"; bridge: string };

/** What the OVS database holds for one bridge; `bridge` is undefined when it does not exist. */
export interface OvsActual {
  /** Datapath types that ovs-vswitchd supports (Open_vSwitch table, datapath_types). */
  datapathTypes: string[];
  bridge:
    | (BridgeSettings & {
        /** Whether the bridge carries ovs-mesh's external_ids mark. */
        managed: boolean;
      })
    | undefined;
  /** Ports of the bridge that carry ovs-mesh's mark, other than the internal port. */
  tunnels: TunnelPort[];
  /** Names of the bridge's ports without ovs-mesh's mark; never touched. */
  foreignPorts: string[];
}

/** One change to the Linux side of a host. */
export type LinuxChange =
  | { kind: "sysctl"; key: string; value: string }
  | { kind: "create-bridge"; name: string; mac?: string }
  | { kind: "delete-bridge"; name: string }
  | { kind: "set-mtu"; device: string; mtu: number }
  | { kind: "set-master"; device: string; master: string }
  | { kind: "set-up"; device: string }
  | { kind: "add-address"; device: string; address: string }
  | { kind: "replace-route"; destination: string; device: string }
  | { kind: "remove-route"; destination: string; device: string }
  | { kind: "set-chain"; table: "filter" | "nat"; chain: string; rules: RuleSpec[] }
  | { kind: "add-jump"; table: "filter" | "nat"; from: string; chain: string }
  /** Makes the plain jump the first rule of `from`, deleting the jumps further down. */
  | { kind: "move-jump"; table: "filter" | "nat"; from: string; chain: string }
  | { kind: "remove-jump"; table: "filter" | "nat"; from: string; chain: string }
  | { kind: "remove-chain"; table: "filter" | "nat"; chain: string };

/** A network interface as the Linux driver reads it. */
export interface LinkActual {
  mtu: number;
  up: boolean;
  /** Link kind from `ip -details` (bridge, veth, tun, ...); undefined for plain devices. */
  kind: string | undefined;
  master: string | undefined;
  /** IPv4 addresses with prefix length, such as "10.240.1.1/24". */
  addresses: string[];
}

/** What the Linux side of a host holds, limited to what ovs-mesh manages or checks. */
export interface LinuxActual {
  links: Record<string, LinkActual>;
  /** IPv4 routes of the main table: destination ("default" or a CIDR) and device. */
  routes: { destination: string; device: string | undefined }[];
  /** Values of the sysctl keys that were asked for; undefined when the key does not exist. */
  sysctls: Record<string, string | undefined>;
  /** Rules of ovs-mesh's chains; undefined when the chain does not exist. */
  chains: {
    filter: Record<string, RuleSpec[] | undefined>;
    nat: Record<string, RuleSpec[] | undefined>;
  };
  /** Whether FORWARD jumps to FORWARD_CHAIN and POSTROUTING to NAT_CHAIN. */
  jumps: { forward: boolean; postrouting: boolean };
  /**
   * Whether each of those jumps is the first rule of its chain. Docker inserts its own rules
   * at the top of FORWARD and POSTROUTING each time dockerd starts.
   */
  jumpsFirst: { forward: boolean; postrouting: boolean };
}
