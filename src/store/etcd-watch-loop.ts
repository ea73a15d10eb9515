import type { EtcdClient } from "./etcd-client.js";
import type { ClusterKeys } from "./etcd-keys.js";
import { WatchCompactedError, type EtcdWatch } from "./etcd-watch.js";

/** Options for {@link watchCluster}. */
export interface WatchClusterOptions {
  /** First revision to report; undefined to start from the store's current revision. */
  startRevision: number | undefined;
  onChange: () => void;
  onError: (error: Error) => void;
  /** Delay before the first reconnect, in milliseconds; doubles up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Watches a cluster's keys and calls `onChange` for every batch of membership changes.
 * A failed stream is reported to `onError` and reopened after a backoff, from the revision
 * after the last one seen, so no change is lost. When that revision has been compacted,
 * the watch restarts at the current revision and calls `onChange` once, because changes
 * in between are unknown. Returns a function that stops watching.
 */
export function watchCluster(
  client: EtcdClient,
  keys: ClusterKeys,
  options: WatchClusterOptions,
): () => void {
  const minBackoffMs = options.minBackoffMs ?? 250;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  let next = options.startRevision;
  let stopped = false;
  let current: EtcdWatch | undefined;
  let wake: (() => void) | undefined;

  const notify = (): void => {
    try {
      options.onChange();
    } catch (error) {
      options.onError(error instanceof Error ? error : new Error(String(error)));
    }
  };

  const loop = async (): Promise<void> => {
    let backoffMs = minBackoffMs;
    let missed = false;
    while (!stopped) {
      const watch = client.watchPrefix(keys.prefix, next, {
        onCreated: (revision) => {
          backoffMs = minBackoffMs;
          next ??= revision + 1;
          if (missed) {
            missed = false;
            notify();
          }
        },
        onEvents: (revision, events) => {
          next = revision + 1;
          if (events.some((event) => !keys.isLiveness(event.kv.key))) {
            notify();
          }
        },
      });
      current = watch;
      try {
        await watch.done;
      } catch (error) {
        if (stopped) {
          return;
        }
        if (error instanceof WatchCompactedError) {
          next = undefined;
          missed = true;
        }
        options.onError(error instanceof Error ? error : new Error(String(error)));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoffMs * (0.5 + Math.random() / 2));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
      }
    }
  };

  loop().catch((error: unknown) => {
    options.onError(error instanceof Error ? error : new Error(String(error)));
  });

  return () => {
    stopped = true;
    current?.cancel();
    wake?.();
  };
}
