import type { TunnelMode, TunnelType } from "../plan/cluster.js";

/** Process ids of a lab host's OVS daemons; null until the daemon has started. */
export interface DaemonPids {
  ovsdbServer: number | null;
  ovsVswitchd: number | null;
}

/**
 * A container of a lab host: a network namespace with one veth into the host's docker0,
 * either created by the lab or, with `lab up --docker`, a container of the host's dockerd.
 */
export interface LabContainer {
  name: string;
  /** Named network namespace; empty for a Docker container, which has none. */
  namespace: string;
  /**
   * Network namespace file that `nsenter --net=` takes: /run/netns/NAME, or /proc/PID/ns/net
   * of a Docker container's first process, which changes when the container restarts.
   */
  namespacePath: string;
  /** Address with no prefix length, such as "10.240.1.2". */
  ip: string;
  /** Docker's id of the container; absent for a namespace that the lab created. */
  dockerId?: string;
}

/** The Docker daemon of a lab host, which `lab up --docker` starts in the host namespace. */
export interface LabDocker {
  /** State directory of dockerd and containerd: daemon.json, sockets, logs and images. */
  dir: string;
  /** dockerd's API socket. */
  socket: string;
}

/** The `ovs-mesh agent` of a lab host, in a lab whose hosts share a store. */
export interface LabAgent {
  /** Process id; null until the agent has started. */
  pid: number | null;
  /** Address of the agent's /metrics and /healthz endpoint, HOST:PORT. */
  metricsAddress: string;
  pidFile: string;
  logFile: string;
}

/** Where the agents of a lab keep the cluster. */
export interface LabStore {
  kind: "file" | "etcd";
  /** Client URLs of the etcd members; empty for the file store. */
  endpoints: string[];
  /** Namespace of the etcd members, attached to the underlay switch; null for the file store. */
  namespace: string | null;
  /** Directory of the etcd members' data, logs and pidfiles; null for the file store. */
  directory: string | null;
}

/** One lab host: a network namespace with its own OVS daemons. */
export interface LabHost {
  name: string;
  namespace: string;
  underlayIp: string;
  /** Subnet of the cluster range that the host owns, such as "10.240.1.0/24". */
  subnet: string;
  /** Gateway address of the subnet, held by docker0, such as "10.240.1.1". */
  gateway: string;
  /** OVS_RUNDIR of the host's daemons: database, sockets, pidfiles and logs. */
  runDirectory: string;
  dbSocket: string;
  dbFile: string;
  pids: DaemonPids;
  /** The host's agent; absent in labs that configure hosts with `ovs-mesh apply`. */
  agent?: LabAgent;
  containers: LabContainer[];
  /** The host's Docker daemon; absent when its containers are plain namespaces. */
  docker?: LabDocker;
}

/**
 * A lab as `lab.json` records it. `lab up` writes the whole plan before it creates anything
 * and fills in the daemon pids as they start, so that `lab down` finds everything after a
 * crash half-way through.
 */
export interface Lab {
  version: 1;
  name: string;
  /** "building" until `lab up` has finished every step. */
  status: "building" | "ready";
  createdAt: string;
  tunnel: TunnelType;
  mode: TunnelMode;
  underlayNetwork: string;
  underlayMtu: number;
  clusterRange: string;
  subnetLength: number;
  /** Cluster file that the hosts are configured from. */
  clusterFile: string;
  /**
   * The store that the hosts' agents share. Absent when `ovs-mesh apply` configures the
   * hosts from {@link clusterFile}. With a store, each agent claims its host's subnet, so a
   * host's subnet and addresses stay empty until the lab has read the claim.
   */
  store?: LabStore;
  /**
   * Number of the next host that `lab add` creates. Host numbers, and so underlay addresses,
   * are not reused while numbers are left, because the hosts' userspace OVS keeps sending
   * tunnel packets to the MAC address it has cached for an underlay address.
   */
  nextHostIndex?: number;
  switchNamespace: string;
  hosts: LabHost[];
  /**
   * Directories that Docker daemons share machine-wide and that did not exist before the
   * lab's first dockerd started; `lab down` removes those that are empty by then.
   */
  dockerSharedDirs?: string[];
}
