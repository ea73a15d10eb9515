import {
  ConfigError,
  checkHostName,
  parseSettings,
  type ClusterSettings,
  type HostSpec,
} from "../plan/cluster.js";
import { settingsDifferences, settingsDocument } from "./document.js";
import { EtcdClient } from "./etcd-client.js";
import type { EtcdTlsFiles } from "./etcd-transport.js";
import { EtcdError } from "./etcd-errors.js";
import { planJoin, revisionIs } from "./etcd-join.js";
import { ClusterKeys } from "./etcd-keys.js";
import {
  parseSnapshot,
  snapshotView,
  type EtcdClusterView,
  type Snapshot,
} from "./etcd-snapshot.js";
import { watchCluster } from "./etcd-watch-loop.js";
import { HostNotFoundError } from "./errors.js";
import type { ClusterStore, JoinRequest } from "./store.js";

/** Options for {@link EtcdStore}. */
export interface EtcdStoreOptions {
  /** Client URLs of etcd members, such as "https://10.0.0.5:2379". */
  endpoints: readonly string[];
  /** Cluster name; every key lives under /ovs-mesh/<cluster>/. */
  cluster: string;
  tls?: EtcdTlsFiles;
  /** Milliseconds before one request to one member is abandoned; 5000 when absent. */
  requestTimeoutMs?: number;
  /**
   * Seconds between the agent's heartbeats; 10 when absent. The alive/<name> key lives for
   * three intervals after the last one.
   */
  heartbeatSeconds?: number;
  /**
   * Seconds after the last heartbeat at which a host's subnet reservation expires, so that
   * a joining host may take it over when the range is otherwise full. Undefined: never.
   */
  reservationSeconds?: number;
  /** How many times `join` reads again after losing a race for a subnet; 50 when absent. */
  joinAttempts?: number;
}

const DEFAULT_HEARTBEAT_SECONDS = 10;
const DEFAULT_JOIN_ATTEMPTS = 50;
const LEAVE_ATTEMPTS = 10;

/**
 * A cluster kept in etcd v3, for clusters whose membership changes. Subnets are claimed in
 * transactions that succeed only while the subnet key does not exist, so two hosts never
 * own one subnet however many join at once.
 */
export class EtcdStore implements ClusterStore {
  readonly keys: ClusterKeys;
  private readonly client: EtcdClient;
  private readonly heartbeatSeconds: number;
  private readonly watchStops = new Set<() => void>();
  private lastRevision: number | undefined;
  private aliveLease: string | undefined;
  private reservationLease: string | undefined;

  constructor(private readonly options: EtcdStoreOptions) {
    this.keys = new ClusterKeys(options.cluster);
    this.heartbeatSeconds = options.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS;
    this.client = new EtcdClient({
      endpoints: options.endpoints,
      tls: options.tls,
      requestTimeoutMs: options.requestTimeoutMs,
    });
  }

  /**
   * Writes the cluster settings. Returns "unchanged" when the cluster exists with the same
   * settings; raises a {@link ConfigError} listing each setting that differs otherwise.
   */
  async create(settings: ClusterSettings): Promise<"created" | "unchanged"> {
    const document = settingsDocument(settings);
    const created = await this.client.txn(
      [revisionIs(this.keys.config, undefined)],
      [{ put: { key: this.keys.config, value: JSON.stringify(document) } }],
    );
    if (created.succeeded) {
      return "created";
    }

    const source = `etcd key ${this.keys.config}`;
    const { kvs } = await this.client.range(this.keys.config);
    const text = kvs[0]?.value ?? "";
    let stored: unknown;
    try {
      stored = JSON.parse(text);
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw new ConfigError(source, [
          {
            path: "(value)",
            message: `the cluster exists, but its settings are invalid JSON: remove the key or fix it`,
          },
        ]);
      }
      throw error;
    }
    const existing = settingsDocument(parseSettings(stored, source));
    const problems = settingsDifferences(existing, document).map((difference) => ({
      path: difference.field,
      message: `cluster ${this.keys.cluster} already exists with ${difference.field} ${difference.existing}, not ${difference.requested}: use the existing settings or another cluster name`,
    }));
    if (problems.length > 0) {
      throw new ConfigError(source, problems);
    }
    return "unchanged";
  }

  /** Reads the cluster; invalid values land in `problems` and invalid settings raise a ConfigError. */
  async load(): Promise<EtcdClusterView> {
    const snapshot = await this.snapshot();
    this.lastRevision = snapshot.revision;
    return snapshotView(snapshot);
  }

  /**
   * Watches the cluster's keys, from just after the last `load` when there was one, so no
   * change between the two is missed. Heartbeats (alive/ and seen/ keys) do not call
   * `onChange`, because they leave membership as it was. After an error the watch reports
   * it to `onError` and reconnects with backoff.
   */
  watch(onChange: () => void, onError: (error: Error) => void): () => void {
    const stop = watchCluster(this.client, this.keys, {
      startRevision: this.lastRevision === undefined ? undefined : this.lastRevision + 1,
      onChange,
      onError,
    });
    const stopAndForget = (): void => {
      this.watchStops.delete(stopAndForget);
      stop();
    };
    this.watchStops.add(stopAndForget);
    return stopAndForget;
  }

  async join(request: JoinRequest): Promise<HostSpec> {
    const nameProblem = checkHostName(request.name);
    if (nameProblem !== undefined) {
      throw new ConfigError("join request", [{ path: "name", message: nameProblem }]);
    }
    const attempts = this.options.joinAttempts ?? DEFAULT_JOIN_ATTEMPTS;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (this.options.reservationSeconds !== undefined) {
        this.reservationLease = await this.renewLease(
          this.reservationLease,
          this.options.reservationSeconds,
        );
      }
      const plan = planJoin(await this.snapshot(), request, {
        keys: this.keys,
        now: Date.now(),
        reservationLease: this.reservationLease,
      });
      const result = await this.client.txn(plan.compares, plan.operations);
      if (result.succeeded) {
        return plan.host;
      }
      // Another writer changed a key that the plan read: read again and plan anew.
    }
    throw new Error(
      `could not join host ${request.name} after ${attempts} attempts: other writers kept changing the keys it depends on; try again`,
    );
  }

  /**
   * Writes alive/<name> with a lease of three heartbeat intervals and seen/<name>, and
   * renews the reservation lease when reservations expire. Raises {@link HostNotFoundError}
   * when the host has not joined.
   */
  async heartbeat(name: string): Promise<void> {
    try {
      await this.writeHeartbeat(name);
    } catch (error) {
      // A lease that expired between its renewal and the write: start with new leases.
      if (error instanceof EtcdError && /lease not found/.test(error.detail)) {
        this.aliveLease = undefined;
        this.reservationLease = undefined;
        await this.writeHeartbeat(name);
        return;
      }
      throw error;
    }
  }

  private async writeHeartbeat(name: string): Promise<void> {
    this.aliveLease = await this.renewLease(this.aliveLease, 3 * this.heartbeatSeconds);
    if (this.options.reservationSeconds !== undefined) {
      this.reservationLease = await this.renewLease(
        this.reservationLease,
        this.options.reservationSeconds,
      );
    }
    const now = String(Date.now());
    const result = await this.client.txn(
      [{ key: this.keys.host(name), target: "CREATE", result: "GREATER", revision: 0 }],
      [
        { put: { key: this.keys.alive(name), value: now, lease: this.aliveLease } },
        {
          put: {
            key: this.keys.seen(name),
            value: now,
            ...(this.reservationLease === undefined ? {} : { lease: this.reservationLease }),
          },
        },
      ],
    );
    if (!result.succeeded) {
      throw new HostNotFoundError(name, `cluster ${this.keys.cluster}`);
    }
  }

  /**
   * Removes the host record, every subnet it owns and its liveness keys in one transaction.
   * Works on invalid records too, so that an operator can clear them.
   */
  async leave(name: string): Promise<void> {
    for (let attempt = 0; attempt < LEAVE_ATTEMPTS; attempt++) {
      const { kvs } = await this.client.range(this.keys.prefix, true);
      const hostKv = kvs.find((kv) => kv.key === this.keys.host(name));
      const subnetKvs = kvs.filter(
        (kv) => this.keys.classify(kv.key).kind === "subnets" && kv.value === name,
      );
      if (hostKv === undefined && subnetKvs.length === 0) {
        throw new HostNotFoundError(name, `cluster ${this.keys.cluster}`);
      }

      const result = await this.client.txn(
        [
          revisionIs(this.keys.host(name), hostKv?.modRevision),
          ...subnetKvs.map((kv) => revisionIs(kv.key, kv.modRevision)),
        ],
        [
          { delete: { key: this.keys.host(name) } },
          { delete: { key: this.keys.alive(name) } },
          { delete: { key: this.keys.seen(name) } },
          ...subnetKvs.map((kv) => ({ delete: { key: kv.key } })),
        ],
      );
      if (result.succeeded) {
        return;
      }
    }
    throw new Error(
      `could not remove host ${name} after ${LEAVE_ATTEMPTS} attempts: its keys kept changing; try again`,
    );
  }

  /** Stops every watch and closes idle connections. Leases run out on their own. */
  async close(): Promise<void> {
    for (const stop of [...this.watchStops]) {
      stop();
    }
    this.client.close();
  }

  private async snapshot(): Promise<Snapshot> {
    const { revision, kvs } = await this.client.range(this.keys.prefix, true);
    return parseSnapshot(this.keys, revision, kvs);
  }

  /** Renews `lease`, or grants a new one when there is none or it has expired. */
  private async renewLease(lease: string | undefined, ttlSeconds: number): Promise<string> {
    if (lease !== undefined && (await this.client.keepAlive(lease))) {
      return lease;
    }
    return this.client.grantLease(ttlSeconds);
  }
}
