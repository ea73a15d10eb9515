import {
  ConfigError,
  checkHostName,
  parseHost,
  parseSettings,
  type ClusterSettings,
  type HostSpec,
} from "../plan/cluster.js";
import { checkSubnet } from "../plan/ipam.js";
import type { KeyValue } from "./etcd-codec.js";
import { HOST_RECORD_VERSION, type ClusterKeys } from "./etcd-keys.js";
import type { ClusterView, HostRecord, StoreProblem } from "./store.js";

/** A valid host record with its place in the store. */
export interface HostEntry {
  spec: HostSpec;
  /** When the host first joined, as milliseconds since the epoch. */
  joinedAt: number;
  createRevision: number;
}

/** A host as `load` reports it from etcd, with liveness and reservation state. */
export interface HostStatus extends HostRecord {
  joinedAt: number;
  /** Whether the host's heartbeat lease is still valid. */
  alive: boolean;
  /** Whether the host's subnet reservation has expired, so another host may claim it. */
  reservationExpired: boolean;
}

/** The cluster view of an etcd store. */
export interface EtcdClusterView extends ClusterView {
  hosts: HostStatus[];
  /** Store revision that the view was read at. */
  revision: number;
}

/** Every key of one cluster, read at one revision and validated. */
export interface Snapshot {
  revision: number;
  settings: ClusterSettings;
  /** Hosts whose record is valid and whose subnet key names them as owner. */
  hosts: Map<string, HostEntry>;
  /** Mod revision of every hosts/<name> key, valid or not. */
  hostRevisions: Map<string, number>;
  /** Every subnets/<cidr> key with a valid CIDR, by CIDR; owner is undefined when invalid. */
  subnets: Map<string, { owner: string | undefined; modRevision: number }>;
  alive: Set<string>;
  /** Hosts that have a seen/<name> key, with its time when that is valid. */
  seen: Map<string, number | undefined>;
  problems: StoreProblem[];
}

/** Raised when etcd has no settings key for the cluster. */
export class ClusterNotFoundError extends Error {
  constructor(readonly key: string) {
    super(
      `cluster not found: etcd has no key ${key}; create the cluster with 'ovs-mesh init' or check --cluster`,
    );
    this.name = "ClusterNotFoundError";
  }
}

/**
 * Validates every key of a cluster like user input. Invalid settings raise a
 * {@link ConfigError} naming the key; any other invalid value lands in `problems` and is
 * left out.
 */
export function parseSnapshot(
  keys: ClusterKeys,
  revision: number,
  kvs: readonly KeyValue[],
): Snapshot {
  const configKv = kvs.find((kv) => kv.key === keys.config);
  if (configKv === undefined) {
    throw new ClusterNotFoundError(keys.config);
  }
  const settings = parseSettings(
    parseJson(configKv.value, `etcd key ${keys.config}`),
    `etcd key ${keys.config}`,
  );

  const snapshot: Snapshot = {
    revision,
    settings,
    hosts: new Map(),
    hostRevisions: new Map(),
    subnets: new Map(),
    alive: new Set(),
    seen: new Map(),
    problems: [],
  };
  const records: { kv: KeyValue; name: string }[] = [];
  for (const kv of kvs) {
    const entry = keys.classify(kv.key);
    switch (entry.kind) {
      case "config":
        break;
      case "hosts":
        snapshot.hostRevisions.set(entry.name, kv.modRevision);
        records.push({ kv, name: entry.name });
        break;
      case "subnets":
        readSubnet(snapshot, kv, entry.name);
        break;
      case "alive":
        snapshot.alive.add(entry.name);
        break;
      case "seen":
        snapshot.seen.set(entry.name, readTime(snapshot, kv));
        break;
      case "unknown":
        snapshot.problems.push({ key: kv.key, message: "unknown key: remove it" });
        break;
    }
  }

  // Earlier joins first, so that of two records with one underlay IP the later is reported.
  records.sort((a, b) => a.kv.createRevision - b.kv.createRevision);
  for (const { kv, name } of records) {
    readHost(snapshot, kv, name);
  }
  return snapshot;
}

/** The view that `load` returns. */
export function snapshotView(snapshot: Snapshot): EtcdClusterView {
  const hosts = [...snapshot.hosts.values()]
    .map((entry): HostStatus => ({
      ...entry.spec,
      lastSeen: snapshot.seen.get(entry.spec.name),
      joinedAt: entry.joinedAt,
      alive: snapshot.alive.has(entry.spec.name),
      reservationExpired: !snapshot.seen.has(entry.spec.name),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    settings: snapshot.settings,
    hosts,
    problems: snapshot.problems,
    revision: snapshot.revision,
  };
}

function readSubnet(snapshot: Snapshot, kv: KeyValue, cidr: string): void {
  const { range, subnetLength } = snapshot.settings;
  const problem = checkSubnet(range, subnetLength, cidr, []);
  if (problem !== undefined) {
    snapshot.problems.push({ key: kv.key, message: problem });
    return;
  }
  const ownerProblem = checkHostName(kv.value);
  if (ownerProblem !== undefined) {
    // The subnet stays taken: claiming it would fail on the existing key anyway.
    snapshot.problems.push({ key: kv.key, message: `invalid owner: ${ownerProblem}` });
  }
  snapshot.subnets.set(cidr, {
    owner: ownerProblem === undefined ? kv.value : undefined,
    modRevision: kv.modRevision,
  });
}

function readTime(snapshot: Snapshot, kv: KeyValue): number | undefined {
  const time = Number(kv.value);
  if (!/^\d+$/.test(kv.value) || !Number.isSafeInteger(time)) {
    snapshot.problems.push({
      key: kv.key,
      message: `invalid timestamp ${JSON.stringify(kv.value.slice(0, 40))}: expected milliseconds since the epoch`,
    });
    return undefined;
  }
  return time;
}

function readHost(snapshot: Snapshot, kv: KeyValue, name: string): void {
  const report = (message: string): void => {
    snapshot.problems.push({ key: kv.key, message });
  };
  let record: { spec: HostSpec; joinedAt: number };
  try {
    record = parseHostRecord(kv.value, snapshot.settings, kv.key);
  } catch (error) {
    if (error instanceof ConfigError) {
      report(error.problems.map((problem) => `${problem.path}: ${problem.message}`).join("; "));
      return;
    }
    throw error;
  }

  const { spec } = record;
  if (spec.name !== name) {
    report(
      `record names host ${JSON.stringify(spec.name)}, but the key names ${JSON.stringify(name)}`,
    );
    return;
  }
  const owner = snapshot.subnets.get(spec.subnet)?.owner;
  if (owner !== name) {
    const found = owner === undefined ? "has no valid owner" : `is owned by ${owner}`;
    report(`subnet ${spec.subnet} ${found}: a host record must own its subnet`);
    return;
  }
  const clash = [...snapshot.hosts.values()].find(
    (other) => other.spec.underlayIp === spec.underlayIp,
  );
  if (clash !== undefined) {
    report(
      `underlay IP ${spec.underlayIp} is also used by host ${clash.spec.name}, which joined first`,
    );
    return;
  }
  snapshot.hosts.set(name, { ...record, createRevision: kv.createRevision });
}

/** Validates a host record's JSON; raises a {@link ConfigError} naming `source`. */
export function parseHostRecord(
  text: string,
  settings: ClusterSettings,
  source: string,
): { spec: HostSpec; joinedAt: number } {
  const value = parseJson(text, source);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(source, [{ path: "(value)", message: "expected a JSON object" }]);
  }
  const { joinedAt, version, ...host } = value as Record<string, unknown>;
  const problems = [];
  if (typeof joinedAt !== "number" || !Number.isSafeInteger(joinedAt) || joinedAt < 0) {
    problems.push({
      path: "joinedAt",
      message: `expected milliseconds since the epoch, found ${JSON.stringify(joinedAt)}`,
    });
  }
  if (typeof version === "number" && version > HOST_RECORD_VERSION) {
    problems.push({
      path: "version",
      message: `record version ${version} is from a newer ovs-mesh than this one (${HOST_RECORD_VERSION}): upgrade ovs-mesh`,
    });
  } else if (version !== HOST_RECORD_VERSION) {
    problems.push({
      path: "version",
      message: `expected ${HOST_RECORD_VERSION}, found ${JSON.stringify(version)}`,
    });
  }

  let spec: HostSpec | undefined;
  try {
    spec = parseHost(host, settings, source);
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw error;
    }
    problems.push(...error.problems);
  }
  if (problems.length > 0 || spec === undefined) {
    throw new ConfigError(source, problems);
  }
  return { spec, joinedAt: joinedAt as number };
}

/** Serializes a host record in the form that {@link parseHostRecord} reads. */
export function formatHostRecord(spec: HostSpec, joinedAt: number): string {
  return JSON.stringify({
    name: spec.name,
    underlayIp: spec.underlayIp,
    subnet: spec.subnet,
    joinedAt,
    version: HOST_RECORD_VERSION,
  });
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new ConfigError(source, [
        {
          path: "(value)",
          message: `invalid JSON (${error.message}): ${JSON.stringify(text.slice(0, 60))}`,
        },
      ]);
    }
    throw error;
  }
}
