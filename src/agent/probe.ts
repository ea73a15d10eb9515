import { ping, type PingFunction } from "../host/ping.js";
import type { Cluster, HostSpec } from "../plan/cluster.js";
import { formatIpv4, gatewayAddress, parseCidr } from "../plan/ipv4.js";
import type { DesiredHost } from "../plan/state.js";
import { errorMessage, type Logger } from "./log.js";
import type { AgentMetrics, PeerProbe } from "./metrics.js";
import { writeStatusFile, type Health, type StatusFile } from "./status-file.js";

/**
 * Default milliseconds between probe rounds. Each round runs one ping process per peer (two
 * for a peer that misses the first reply). With 9 peers, the agent's CPU use, children
 * included, measured about 0.4% of one CPU at 10 s and 0.65% at 5 s, against 0.14% with
 * probes off (scripts/measure-agent-cpu.sh, docs/probe-cost.md).
 */
export const DEFAULT_PROBE_INTERVAL_MS = 10_000;
/** Default number of peers probed at the same time. */
export const DEFAULT_PROBE_CONCURRENCY = 4;

/** Settings of {@link PeerMonitor}. */
export interface PeerMonitorOptions {
  metrics: AgentMetrics;
  log: Logger;
  /** Directory of the status file. */
  stateDir: string;
  /** Milliseconds from the end of one probe round to the start of the next; 0 turns probes off. */
  intervalMs?: number;
  /** Peers probed at the same time. */
  concurrency?: number;
  /** Sends one echo request; iputils ping when absent. */
  ping?: PingFunction;
  /** Current time in milliseconds since the epoch; Date.now when absent. */
  now?: () => number;
}

/** The cluster view and host state of the last successful reconcile. */
interface Subject {
  cluster: Cluster;
  desired: DesiredHost;
  peers: HostSpec[];
}

/**
 * Probes every peer's gateway (the first address of its subnet) through the overlay from this
 * host's gateway, records health, round-trip time and the time of the last change in
 * {@link AgentMetrics.probes}, and writes the status file after every round and every
 * reconcile. A probe sends one echo request, and one more when the first gets no reply.
 * The first packet to a peer can be lost while the userspace datapath resolves the peer's
 * underlay MAC address, and a single loss must not flap the peer to down.
 *
 * Probes only report: a peer that stops replying keeps its tunnels and rules.
 */
export class PeerMonitor {
  readonly #intervalMs: number;
  readonly #concurrency: number;
  readonly #ping: PingFunction;
  readonly #now: () => number;
  readonly #errors = new Map<string, string>();
  #subject: Subject | undefined;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;

  constructor(private readonly options: PeerMonitorOptions) {
    this.#intervalMs = options.intervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
    this.#concurrency = Math.max(1, options.concurrency ?? DEFAULT_PROBE_CONCURRENCY);
    this.#ping = options.ping ?? ping;
    this.#now = options.now ?? Date.now;
  }

  /** Starts the probe rounds; the first runs at once. */
  start(): void {
    if (this.#intervalMs > 0) {
      this.#schedule(0);
    }
  }

  /** Stops probing and waits for a round in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  /** Takes the cluster view and host state of a successful reconcile and writes the status. */
  async update(cluster: Cluster, desired: DesiredHost): Promise<void> {
    const peers = cluster.hosts.filter((host) => host.name !== desired.host);
    const names = new Set(peers.map((peer) => peer.name));
    for (const name of this.options.metrics.probes.keys()) {
      if (!names.has(name)) {
        this.options.metrics.probes.delete(name);
        this.#errors.delete(name);
      }
    }
    this.#subject = { cluster, desired, peers };
    await this.#writeStatus();
  }

  /** Probes every peer once, at most `concurrency` at a time, then writes the status file. */
  async probeAll(): Promise<void> {
    const subject = this.#subject;
    if (subject === undefined) {
      return;
    }
    const source = gatewayOf(subject.desired.subnet);
    const queue = [...subject.peers];
    const worker = async () => {
      for (let peer = queue.shift(); peer !== undefined; peer = queue.shift()) {
        await this.#probe(source, peer);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, queue.length) }, worker));
    await this.#writeStatus();
  }

  /** Returns the status file's content for the current state; undefined before the first reconcile. */
  status(): StatusFile | undefined {
    const subject = this.#subject;
    if (subject === undefined) {
      return undefined;
    }
    const { cluster, desired, peers } = subject;
    return {
      version: 1,
      host: desired.host,
      updatedAt: new Date(this.#now()).toISOString(),
      subnet: desired.subnet,
      gateway: gatewayOf(desired.subnet),
      innerMtu: desired.innerMtu,
      datapath: desired.datapath,
      tunnel: cluster.tunnel,
      mode: cluster.mode,
      ovsBridge: desired.ovs.bridge,
      linuxBridge: desired.linux.bridge,
      probeIntervalSeconds: this.#intervalMs / 1000,
      peers: peers.map((peer) => {
        const probe = this.options.metrics.probes.get(peer.name);
        return {
          name: peer.name,
          underlayIp: peer.underlayIp,
          subnet: peer.subnet,
          health: healthOf(probe),
          rttMs: probe?.rttSeconds === undefined ? null : round3(probe.rttSeconds * 1000),
          lastChange: probe === undefined ? null : new Date(probe.lastChange).toISOString(),
          error: this.#errors.get(peer.name) ?? null,
        };
      }),
    };
  }

  async #probe(source: string, peer: HostSpec): Promise<void> {
    const destination = gatewayOf(peer.subnet);
    let result = await this.#ping(source, destination);
    if (!result.answered && result.error === undefined) {
      result = await this.#ping(source, destination);
    }

    const previous = this.options.metrics.probes.get(peer.name);
    const now = this.#now();
    const probe: PeerProbe = {
      healthy: result.answered,
      rttSeconds: result.rttSeconds,
      lastChange:
        previous === undefined || previous.healthy !== result.answered ? now : previous.lastChange,
    };
    this.options.metrics.probes.set(peer.name, probe);
    if (result.error === undefined) {
      this.#errors.delete(peer.name);
    } else {
      this.#errors.set(peer.name, result.error);
    }
    if (previous?.healthy !== result.answered) {
      this.options.log.info({
        event: "peer-health",
        peer: peer.name,
        gateway: destination,
        health: healthOf(probe),
        rttMs: probe.rttSeconds === undefined ? null : round3(probe.rttSeconds * 1000),
        ...(result.error === undefined ? {} : { error: result.error }),
      });
    }
  }

  async #writeStatus(): Promise<void> {
    const status = this.status();
    if (status === undefined) {
      return;
    }
    try {
      await writeStatusFile(this.options.stateDir, status);
    } catch (error) {
      this.options.log.error({
        event: "error",
        during: "writing the status file",
        stateDir: this.options.stateDir,
        error: errorMessage(error),
      });
    }
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#round = this.probeAll()
        .catch((error: unknown) => {
          this.options.log.error({
            event: "error",
            during: "probing peers",
            error: errorMessage(error),
          });
        })
        .finally(() => {
          this.#round = undefined;
          if (!this.#stopped) {
            this.#schedule(this.#intervalMs);
          }
        });
    }, delayMs);
  }
}

function healthOf(probe: PeerProbe | undefined): Health {
  if (probe === undefined) {
    return "unknown";
  }
  return probe.healthy ? "up" : "down";
}

function gatewayOf(subnet: string): string {
  const network = parseCidr(subnet);
  if (network === undefined) {
    throw new RangeError(`invalid subnet ${JSON.stringify(subnet)}`);
  }
  return formatIpv4(gatewayAddress(network));
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
