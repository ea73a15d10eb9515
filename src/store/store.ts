import type { ClusterSettings, HostSpec } from "../plan/cluster.js";

/** A value read from a store that failed validation; reported and skipped, never applied. */
export interface StoreProblem {
  /** Store key or file path of the value. */
  key: string;
  message: string;
}

/** A host record as the store keeps it, with liveness. */
export interface HostRecord extends HostSpec {
  /** Last heartbeat, as milliseconds since the epoch; undefined when never seen. */
  lastSeen: number | undefined;
}

/** The cluster as one read of a store shows it. */
export interface ClusterView {
  settings: ClusterSettings;
  hosts: HostRecord[];
  problems: StoreProblem[];
}

/** A request to join: a subnet is chosen by the store unless `subnet` is given. */
export interface JoinRequest {
  name: string;
  underlayIp: string;
  subnet: string | undefined;
}

/** Where the cluster lives: a YAML file, or etcd for clusters whose membership changes. */
export interface ClusterStore {
  /** Reads settings and members; invalid host records land in `problems`. */
  load(): Promise<ClusterView>;
  /** Calls `onChange` after any change in the store; returns a function that stops watching. */
  watch(onChange: () => void, onError: (error: Error) => void): () => void;
  /**
   * Claims a subnet for the host, or keeps the one it owns already. Never gives one subnet
   * to two hosts, however many claim at once.
   */
  join(request: JoinRequest): Promise<HostSpec>;
  /** Records that the host is alive now. */
  heartbeat(name: string): Promise<void>;
  /** Removes the host and frees its subnet. */
  leave(name: string): Promise<void>;
  close(): Promise<void>;
}
