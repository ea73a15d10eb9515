import { encode, headerRevision, prefixEnd, toKeyValue, type KeyValue } from "./etcd-codec.js";
import { EtcdTransport, type EtcdTransportOptions } from "./etcd-transport.js";
import { EtcdWatch, type WatchHandlers } from "./etcd-watch.js";

/** Options for {@link EtcdClient}. */
export type EtcdClientOptions = EtcdTransportOptions;

/** A condition of a transaction. */
export type Compare =
  | { key: string; target: "CREATE" | "MOD"; result: "EQUAL" | "GREATER"; revision: number }
  | { key: string; target: "VALUE"; result: "EQUAL"; value: string };

/** A write in a transaction. */
export type Operation =
  { put: { key: string; value: string; lease?: string } } | { delete: { key: string } };

/**
 * A client for etcd v3 through its JSON gateway (`/v3/...` over HTTP or HTTPS). Each call
 * tries the endpoints in turn, starting with the last one that responded, and moves on when
 * one cannot be reached or reports that it has no leader.
 */
export class EtcdClient {
  private readonly transport: EtcdTransport;

  constructor(options: EtcdClientOptions) {
    this.transport = new EtcdTransport(options);
  }

  /** Reads one key, or every key that starts with `key` when `prefix` is set. */
  async range(key: string, prefix = false): Promise<{ revision: number; kvs: KeyValue[] }> {
    const body: Record<string, string> = { key: encode(key) };
    if (prefix) {
      body.range_end = prefixEnd(key);
    }
    const response = await this.transport.call("/v3/kv/range", body);
    const kvs = Array.isArray(response.kvs) ? response.kvs.map(toKeyValue) : [];
    return { revision: headerRevision(response), kvs };
  }

  /** Runs the writes in `success` if every compare holds, else those in `failure`. */
  async txn(
    compare: readonly Compare[],
    success: readonly Operation[],
    failure: readonly Operation[] = [],
  ): Promise<{ succeeded: boolean; revision: number }> {
    const response = await this.transport.call("/v3/kv/txn", {
      compare: compare.map(toCompare),
      success: success.map(toRequestOp),
      failure: failure.map(toRequestOp),
    });
    // The gateway leaves out fields that hold their default value, such as false.
    return { succeeded: response.succeeded === true, revision: headerRevision(response) };
  }

  /** Creates a lease that expires after `ttlSeconds` without a keepalive; returns its ID. */
  async grantLease(ttlSeconds: number): Promise<string> {
    const response = await this.transport.call("/v3/lease/grant", { TTL: String(ttlSeconds) });
    if (typeof response.ID !== "string") {
      throw new Error(`etcd granted a lease without an ID: ${JSON.stringify(response)}`);
    }
    return response.ID;
  }

  /** Renews a lease; returns false when it no longer exists. */
  async keepAlive(lease: string): Promise<boolean> {
    const response = await this.transport.call("/v3/lease/keepalive", { ID: lease });
    const result = response.result;
    if (typeof result !== "object" || result === null) {
      return false;
    }
    const ttl = (result as Record<string, unknown>).TTL;
    return typeof ttl === "string" && Number(ttl) > 0;
  }

  /** Watches every key under `prefix`, from `startRevision` when given, until cancelled. */
  watchPrefix(
    prefix: string,
    startRevision: number | undefined,
    handlers: WatchHandlers,
  ): EtcdWatch {
    const body: Record<string, unknown> = {
      create_request: {
        key: encode(prefix),
        range_end: prefixEnd(prefix),
        ...(startRevision === undefined ? {} : { start_revision: String(startRevision) }),
      },
    };
    return new EtcdWatch(handlers, () => this.transport.openStream("/v3/watch", body));
  }

  /** Closes idle connections; calls in flight finish. */
  close(): void {
    this.transport.close();
  }
}

function toCompare(compare: Compare): Record<string, string> {
  const base = { key: encode(compare.key), target: compare.target, result: compare.result };
  switch (compare.target) {
    case "CREATE":
      return { ...base, create_revision: String(compare.revision) };
    case "MOD":
      return { ...base, mod_revision: String(compare.revision) };
    case "VALUE":
      return { ...base, value: encode(compare.value) };
  }
}

function toRequestOp(operation: Operation): Record<string, unknown> {
  if ("put" in operation) {
    const { key, value, lease } = operation.put;
    return {
      request_put: { key: encode(key), value: encode(value), ...(lease ? { lease } : {}) },
    };
  }
  return { request_delete_range: { key: encode(operation.delete.key) } };
}
