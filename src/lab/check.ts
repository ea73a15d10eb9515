import { DOCKER_BRIDGE } from "./containers.js";
import { deviceMtu } from "./namespaces.js";
import {
  mtuProbe,
  ping,
  transfer,
  type Endpoint,
  type MtuResult,
  type PingResult,
  type TransferResult,
} from "./probes.js";
import type { Lab } from "./lab.js";

/** Bytes sent in each TCP transfer: 10 MiB. */
export const DEFAULT_TRANSFER_BYTES = 10 * 1024 * 1024;

/** Pairs checked at once. */
export const DEFAULT_PARALLEL = 4;

/** First TCP port of the transfers. Pair n listens on FIRST_PORT + n, modulo PORT_COUNT. */
const FIRST_PORT = 20000;
const PORT_COUNT = 20000;

/** Options of {@link checkLab}. */
export interface CheckOptions {
  /** Pairs checked at once; {@link DEFAULT_PARALLEL} when absent. */
  parallel?: number;
  /** Bytes per TCP transfer; {@link DEFAULT_TRANSFER_BYTES} when absent. */
  bytes?: number;
  /** Called after each pair, in the order the pairs finish. */
  onPair?: (result: PairResult) => void;
}

/** Results for one ordered pair of containers on different hosts. */
export interface PairResult {
  source: Endpoint;
  destination: Endpoint;
  /** Inner MTU: the MTU of docker0 on the source host; null when docker0 is missing. */
  mtu: number | null;
  ping: PingResult;
  transfer: TransferResult;
  /** Don't-fragment ping of exactly the inner MTU; passes when a reply comes back. */
  mtuFits: MtuResult | null;
  /** Don't-fragment ping one byte over the inner MTU; passes when no reply comes back. */
  mtuExceeds: MtuResult | null;
  ok: boolean;
}

export interface CheckReport {
  lab: string;
  pairs: PairResult[];
  passed: number;
  failed: number;
  /** True when there is at least one pair and every pair passed. */
  ok: boolean;
}

/** Returns every ordered pair of containers that sit on different hosts. */
export function containerPairs(lab: Lab): [Endpoint, Endpoint][] {
  const endpoints: Endpoint[] = lab.hosts.flatMap((host) =>
    host.containers.map((container) => ({
      host: host.name,
      container: container.name,
      ip: container.ip,
      namespacePath: container.namespacePath,
    })),
  );
  const pairs: [Endpoint, Endpoint][] = [];
  for (const source of endpoints) {
    for (const destination of endpoints) {
      if (source.host !== destination.host) {
        pairs.push([source, destination]);
      }
    }
  }
  return pairs;
}

/**
 * Checks the data plane between every ordered pair of containers on different hosts. Each
 * pair gets a ping and a TCP transfer whose byte count the receiver confirms. Then a
 * don't-fragment ping of exactly the inner MTU must get a reply, and one a byte larger must not.
 */
export async function checkLab(lab: Lab, options: CheckOptions = {}): Promise<CheckReport> {
  const bytes = options.bytes ?? DEFAULT_TRANSFER_BYTES;
  const parallel = Math.max(1, options.parallel ?? DEFAULT_PARALLEL);

  const mtus = new Map<string, number | null>();
  for (const host of lab.hosts) {
    mtus.set(host.name, (await deviceMtu(host.namespace, DOCKER_BRIDGE)) ?? null);
  }

  const pairs = containerPairs(lab);
  const results: PairResult[] = new Array<PairResult>(pairs.length);
  await forEachLimited(pairs, parallel, async ([source, destination], index) => {
    const port = FIRST_PORT + (index % PORT_COUNT);
    const result = await checkPair(source, destination, mtus.get(source.host) ?? null, port, bytes);
    results[index] = result;
    options.onPair?.(result);
  });

  const passed = results.filter((result) => result.ok).length;
  return {
    lab: lab.name,
    pairs: results,
    passed,
    failed: results.length - passed,
    ok: results.length > 0 && passed === results.length,
  };
}

async function checkPair(
  source: Endpoint,
  destination: Endpoint,
  mtu: number | null,
  port: number,
  bytes: number,
): Promise<PairResult> {
  const pingResult = await ping(source, destination);
  const transferResult = await transfer(source, destination, port, bytes);
  const mtuFits = mtu === null ? null : await mtuProbe(source, destination, mtu, true);
  const mtuExceeds = mtu === null ? null : await mtuProbe(source, destination, mtu + 1, false);
  const ok =
    pingResult.ok &&
    transferResult.ok &&
    mtuFits !== null &&
    mtuFits.ok &&
    mtuExceeds !== null &&
    mtuExceeds.ok;
  return {
    source,
    destination,
    mtu,
    ping: pingResult,
    transfer: transferResult,
    mtuFits,
    mtuExceeds,
    ok,
  };
}

/** Calls `work` for every item, with at most `limit` calls running at once. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      const item = items[index];
      if (item !== undefined) {
        await work(item, index);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
