import type { Cluster, HostSpec } from "../plan/cluster.js";
import type { DesiredHost } from "../plan/state.js";
import type { ClusterStore, JoinRequest } from "../store/store.js";
import { flushNeighbors } from "../host/neighbors.js";
import { Backoff, sleep } from "./backoff.js";
import { converge, type KnownHost } from "./converge.js";
import { syncDockerConfig, type DockerConfigPaths } from "./docker-sync.js";
import { LinkWatch } from "./link-watch.js";
import { errorMessage, type Logger } from "./log.js";
import { OvsWatch } from "./ovs-watch.js";
import type { HostPaths } from "./paths.js";
import { readCachedCluster, writeCachedCluster } from "./view-cache.js";
import { AgentMetrics } from "./metrics.js";
import { PeerMonitor } from "./probe.js";
import { StoreHealth } from "./store-health.js";
import { SubnetOwners } from "./subnet-owners.js";

/** Reconcile reason for a change in the store. */
const STORE_CHANGE = "store change";

/** Settings of {@link Agent}. */
export interface AgentOptions {
  store: ClusterStore;
  join: JoinRequest;
  paths: HostPaths;
  log: Logger;
  /** Milliseconds between full reconciles with a fresh read of the store. */
  resyncMs: number;
  /** Milliseconds between liveness heartbeats to the store. */
  heartbeatMs: number;
  metrics?: AgentMetrics;
  /** Milliseconds between probe rounds through the overlay; 0 turns probes off. */
  probeIntervalMs?: number;
  /**
   * Docker's daemon.json and the subnet environment file, which the agent keeps in step
   * with this host's subnet and inner MTU; when absent, the agent leaves Docker alone.
   */
  dockerConfig?: DockerConfigPaths;
}

/**
 * The per-host agent: joins the cluster (keeping its subnet), then reconciles the host on
 * every store change, OVS change and resync timer. One reconcile runs at a time; requests
 * that arrive meanwhile are merged into one more run. When the store is unreachable the
 * agent keeps the last cluster view it had, so nothing is torn down because the store is
 * silent.
 */
export class Agent {
  readonly metrics: AgentMetrics;
  #cluster: Cluster | undefined;
  #self: HostSpec | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #healthy = false;
  readonly #reasons = new Set<string>();
  readonly #stop = new AbortController();
  readonly #timers: NodeJS.Timeout[] = [];
  #unwatch: (() => void) | undefined;
  readonly #ovs: OvsWatch;
  readonly #links: LinkWatch;
  readonly #monitor: PeerMonitor;
  /** Host state that the last successful reconcile left, cleared when a reconcile fails. */
  #known: KnownHost | undefined;
  /** Delays between retries of a failed reconcile; reset by a successful one. */
  readonly #reconcileBackoff = new Backoff(500, 30_000);
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #store: StoreHealth;
  readonly #subnetOwners = new SubnetOwners();

  constructor(private readonly options: AgentOptions) {
    this.metrics = options.metrics ?? new AgentMetrics();
    this.#ovs = new OvsWatch(
      options.paths.ovsdbSocket,
      options.paths.ovsRunDir,
      options.log,
      (reason) => this.requestReconcile(reason),
    );
    this.#store = new StoreHealth(this.metrics, options.log);
    this.#links = new LinkWatch(options.log, (reason) => this.requestReconcile(reason));
    this.#monitor = new PeerMonitor({
      metrics: this.metrics,
      log: options.log,
      stateDir: options.paths.stateDir,
      intervalMs: options.probeIntervalMs,
    });
  }

  /** Whether the last reconcile succeeded. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** The host's own record once joined. */
  get self(): HostSpec | undefined {
    return this.#self;
  }

  /** Starts the agent; resolves once it has joined the cluster. */
  async start(): Promise<void> {
    const { log, join, paths } = this.options;
    log.info({ event: "start", underlayIp: join.underlayIp, requestedSubnet: join.subnet ?? null });

    this.#cluster = await readCachedCluster(paths.stateDir);
    if (this.#cluster) {
      this.#self = this.#cluster.hosts.find((host) => host.name === join.name);
      log.info({ event: "cache-loaded", peers: this.#cluster.hosts.length - 1 });
    }
    this.#ovs.start();
    this.#links.start();

    await this.#retry("joining the cluster", async () => {
      this.#self = await this.options.store.join(join);
    });
    log.info({ event: "joined", subnet: this.#self?.subnet });
    await this.#refresh();
    // Before the first reconcile, so that a dockerd ordered after the agent (systemd
    // Before=docker.service) creates docker0 with this host's subnet, not its default.
    await this.#syncDocker(undefined);
    // Requests made before the join found no cluster view; without this the first
    // reconcile would wait for a store change or the resync timer.
    this.requestReconcile("joined");

    this.#unwatch = this.options.store.watch(
      () => void this.#refreshAndReconcile(STORE_CHANGE),
      (error) => log.error({ event: "error", during: "watching the store", error: error.message }),
    );
    this.#every(this.options.resyncMs, () => void this.#refreshAndReconcile("resync"));
    this.#every(this.options.heartbeatMs, () => void this.#heartbeat());
    void this.#heartbeat();
    this.#monitor.start();
  }

  /** Asks for a reconcile; merged with any already waiting. */
  requestReconcile(reason: string): void {
    this.#reasons.add(reason);
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#reconcileLoop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Waits for the reconcile in progress, if any. */
  async idle(): Promise<void> {
    while (this.#running) {
      await this.#running;
    }
  }

  /** Stops every loop and closes connections; the data plane stays as it is. */
  async stop(): Promise<void> {
    this.#stop.abort();
    for (const timer of this.#timers) {
      clearInterval(timer);
    }
    this.#unwatch?.();
    await this.#monitor.stop();
    await this.#links.stop();
    await this.idle();
    // After idle(), because a reconcile that fails while stopping schedules a retry.
    clearTimeout(this.#retryTimer);
    this.#ovs.stop();
    await this.options.store.close();
    this.options.log.info({ event: "stop" });
  }

  async #reconcileLoop(): Promise<void> {
    do {
      this.#again = false;
      const reasons = [...this.#reasons];
      this.#reasons.clear();
      await this.#reconcileOnce(reasons);
    } while (this.#again && !this.#stop.signal.aborted);
  }

  async #reconcileOnce(reasons: string[]): Promise<void> {
    const cluster = this.#cluster;
    if (cluster === undefined || this.#self === undefined || this.#stop.signal.aborted) {
      return;
    }
    const started = performance.now();
    try {
      const client = await this.#ovs.client();
      // When only the store changed, the rules and the Linux state are as the last reconcile
      // left them, so they need not be read again. OVS and link events, the resync and
      // retries read everything, which also catches rules changed by hand.
      const onlyStore = reasons.every((reason) => reason === STORE_CHANGE);
      const result = await converge(cluster, this.#self.name, this.options.paths, {
        dryRun: false,
        client,
        known: onlyStore ? this.#known : undefined,
        dockerOwnsBridge: this.options.dockerConfig !== undefined,
      });
      this.#known = result.known;
      const durationMs = Math.round(performance.now() - started);
      const changes = result.steps.reduce(
        (sum, step) =>
          sum +
          (step.kind === "flows" ? step.add.length + step.remove.length : step.changes.length),
        0,
      );
      this.metrics.recordReconcile(durationMs, undefined, result.desired);
      this.#healthy = true;
      await this.#syncDocker(result.desired);
      this.#reconcileBackoff.reset();
      clearTimeout(this.#retryTimer);
      await this.#flushNeighbors(cluster, this.#self.name);
      await this.#monitor.update(cluster, result.desired);
      this.options.log.info({
        event: "reconcile",
        reasons,
        peers: cluster.hosts.length - 1,
        changes,
        flows: result.desired.flows.length,
        durationMs,
      });
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      this.metrics.recordReconcile(durationMs, error, undefined);
      this.#healthy = false;
      this.#known = undefined;
      const delayMs = this.#reconcileBackoff.next();
      this.options.log.warn({
        event: "retry",
        during: "reconcile",
        reasons,
        attempt: this.#reconcileBackoff.attempts,
        delayMs,
        error: errorMessage(error),
      });
      // Any change or resync before then also retries; stop() clears the timer.
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => this.requestReconcile("retry after error"), delayMs);
    }
  }

  /**
   * Writes Docker's bip and mtu for this host when the agent has a daemon.json to keep.
   * Without a reconcile result it plans the host with a dry run. A failure is logged and
   * the next reconcile tries again.
   */
  async #syncDocker(desired: DesiredHost | undefined): Promise<void> {
    const paths = this.options.dockerConfig;
    const cluster = this.#cluster;
    const self = this.#self;
    if (paths === undefined || cluster === undefined || self === undefined) {
      return;
    }
    try {
      const planned =
        desired ??
        (
          await converge(cluster, self.name, this.options.paths, {
            dryRun: true,
            client: await this.#ovs.client(),
          })
        ).desired;
      await syncDockerConfig(paths, planned, cluster.range, this.options.log);
    } catch (error) {
      this.options.log.error({
        event: "error",
        during: "writing Docker's configuration",
        path: paths.daemonJsonPath,
        error: errorMessage(error),
      });
    }
  }

  /** Flushes the Linux bridge's neighbor entries of each peer subnet that has a new owner. */
  async #flushNeighbors(cluster: Cluster, self: string): Promise<void> {
    for (const subnet of this.#subnetOwners.changed(cluster, self)) {
      try {
        await flushNeighbors(cluster.linuxBridge, subnet);
      } catch (error) {
        // Stale entries only delay traffic to the subnet until they expire.
        this.options.log.error({
          event: "error",
          during: "flushing neighbor entries",
          subnet,
          error: errorMessage(error),
        });
      }
    }
  }

  async #refreshAndReconcile(reason: string): Promise<void> {
    try {
      await this.#refresh();
    } catch (error) {
      this.#store.failed();
      this.options.log.warn({
        event: "retry",
        during: "reading the store",
        error: errorMessage(error),
      });
    }
    this.requestReconcile(reason);
  }

  /** Reads the store and keeps the view if it is usable. */
  async #refresh(): Promise<void> {
    const view = await this.options.store.load();
    this.#store.succeeded();
    this.#store.reportProblems(view.problems);
    const self = view.hosts.find((host) => host.name === this.options.join.name);
    if (self === undefined) {
      this.options.log.warn({
        event: "not-a-member",
        note: "this host is not in the store; keeping the last view",
      });
      return;
    }
    const cluster: Cluster = {
      ...view.settings,
      hosts: view.hosts.map(({ name, underlayIp, subnet }) => ({ name, underlayIp, subnet })),
    };
    this.#self = self;
    this.#cluster = cluster;
    await writeCachedCluster(this.options.paths.stateDir, cluster);
  }

  async #heartbeat(): Promise<void> {
    if (this.#self === undefined) {
      return;
    }
    try {
      await this.options.store.heartbeat(this.#self.name);
    } catch (error) {
      this.#store.failed();
      this.options.log.warn({ event: "retry", during: "heartbeat", error: errorMessage(error) });
      return;
    }
    if (this.#store.succeeded()) {
      // Store changes made while it was unreachable may not have reached the watch yet.
      await this.#refreshAndReconcile("store reachable");
    }
  }

  async #retry(during: string, action: () => Promise<void>): Promise<void> {
    const backoff = new Backoff();
    for (;;) {
      try {
        await action();
        this.#store.succeeded();
        return;
      } catch (error) {
        this.#store.failed();
        if (this.#stop.signal.aborted) {
          throw error;
        }
        const delayMs = backoff.next();
        this.options.log.warn({
          event: "retry",
          during,
          attempt: backoff.attempts,
          delayMs,
          error: errorMessage(error),
        });
        // With a cached view the data plane is restored while the store is unreachable.
        this.requestReconcile("cached view");
        await sleep(delayMs, this.#stop.signal);
      }
    }
  }

  #every(ms: number, action: () => void): void {
    const timer = setInterval(action, ms);
    this.#timers.push(timer);
  }
}
