/** TCP throughput with iperf3 and round-trip time with ping, between two namespaces. */
import { setTimeout as sleep } from "node:timers/promises";

import { run } from "../src/host/exec.js";
import { inNamespace } from "../src/lab/namespaces.js";

/** A network namespace and an address in it. */
export interface Endpoint {
  namespace: string;
  address: string;
  /** CPU that programs started for this endpoint run on; any CPU when absent. */
  cpu?: number;
}

/** Settings of one iperf3 test. */
export interface ThroughputOptions {
  /** Seconds measured, after `omitSeconds` of TCP slow start that iperf3 leaves out. */
  seconds: number;
  omitSeconds: number;
}

const IPERF_PORT = 5201;
const LISTEN_WAIT_MS = 5_000;

/** Result of one iperf3 test. */
export interface ThroughputResult {
  /** Rate that the receiver counted, in bit/s. */
  bitsPerSecond: number;
  /** TCP segments that the sender retransmitted. */
  retransmits: number;
}

/** Runs one iperf3 test from `client` to `server`. */
export async function measureThroughput(
  client: Endpoint,
  server: Endpoint,
  options: ThroughputOptions,
): Promise<ThroughputResult> {
  const limitMs = (options.seconds + options.omitSeconds + 20) * 1000;
  // -1: the server exits after one test, so no process outlives the measurement.
  const listener = run(
    inNamespace(server.namespace, [
      ...pinned(server),
      "iperf3",
      "--server",
      "--one-off",
      "--bind",
      server.address,
      "--port",
      String(IPERF_PORT),
    ]),
    { timeoutMs: limitMs },
  );
  let listenerError: unknown;
  const listenerDone = listener.then(
    () => undefined,
    (error: unknown) => {
      listenerError = error;
    },
  );

  await waitForListener(server, () => listenerError !== undefined);
  if (listenerError !== undefined) {
    throw listenerError;
  }
  const { stdout } = await run(
    inNamespace(client.namespace, [
      ...pinned(client),
      "iperf3",
      "--client",
      server.address,
      "--port",
      String(IPERF_PORT),
      "--time",
      String(options.seconds),
      "--omit",
      String(options.omitSeconds),
      "--json",
    ]),
    { timeoutMs: limitMs },
  );
  await listenerDone;
  if (listenerError !== undefined) {
    throw listenerError;
  }
  return parseIperfReport(stdout);
}

function pinned(endpoint: Endpoint): string[] {
  return endpoint.cpu === undefined ? [] : ["taskset", "--cpu-list", String(endpoint.cpu)];
}

async function waitForListener(server: Endpoint, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + LISTEN_WAIT_MS;
  while (Date.now() < deadline && !exited()) {
    const { stdout } = await run(
      inNamespace(server.namespace, ["ss", "-H", "-l", "-t", "-n", `sport = :${IPERF_PORT}`]),
    );
    if (stdout.trim() !== "") {
      return;
    }
    await sleep(50);
  }
  if (!exited()) {
    throw new Error(
      `iperf3 in ${server.namespace} did not listen on port ${IPERF_PORT} within 5 s`,
    );
  }
}

/** Reads the received rate and the retransmissions from `iperf3 --json` output. */
export function parseIperfReport(json: string): ThroughputResult {
  const report: unknown = JSON.parse(json);
  const rate = pick(report, ["end", "sum_received", "bits_per_second"]);
  const retransmits = pick(report, ["end", "sum_sent", "retransmits"]);
  if (typeof rate !== "number") {
    const error = pick(report, ["error"]);
    throw new Error(
      `iperf3 reported no received rate${typeof error === "string" ? `: ${error}` : ""}`,
    );
  }
  return { bitsPerSecond: rate, retransmits: typeof retransmits === "number" ? retransmits : 0 };
}

function pick(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null || !(key in current)) {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Sends `count` echo requests 50 ms apart and returns the average round-trip time in ms. */
export async function measureRoundTrip(
  client: Endpoint,
  server: Endpoint,
  count: number,
): Promise<number> {
  const { stdout } = await run(
    inNamespace(client.namespace, [
      "ping",
      "-n",
      "-q",
      "-c",
      String(count),
      "-i",
      "0.05",
      "-w",
      String(Math.ceil(count * 0.05) + 5),
      server.address,
    ]),
    { timeoutMs: (count * 0.05 + 15) * 1000 },
  );
  return averageRoundTrip(stdout);
}

/** Reads the average of "rtt min/avg/max/mdev = 0.041/0.052/0.070/0.009 ms". */
export function averageRoundTrip(text: string): number {
  const match = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(text);
  if (match?.[1] === undefined) {
    throw new Error(`ping printed no round-trip summary: ${text.trim().split("\n").at(-1) ?? ""}`);
  }
  return Number(match[1]);
}

/** Pings until three replies arrive, so that ARP and tunnel next hops are resolved first. */
export async function warmUp(client: Endpoint, server: Endpoint): Promise<void> {
  await run(
    inNamespace(client.namespace, [
      "ping",
      "-n",
      "-q",
      "-c",
      "3",
      "-i",
      "0.2",
      "-w",
      "10",
      server.address,
    ]),
    { timeoutMs: 15_000 },
  );
}
