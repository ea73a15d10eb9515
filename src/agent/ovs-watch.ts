import { watch, type FSWatcher } from "node:fs";
import { OvsdbClient } from "../host/ovsdb.js";
import { Backoff, sleep } from "./backoff.js";
import { errorMessage, type Logger } from "./log.js";

const MONITOR_ID = "ovs-mesh-agent";

/**
 * Keeps one OVSDB connection open for the agent and calls `onChange` when the switch may
 * have drifted: an OVSDB row of a bridge, port or interface changed, the connection came
 * back after ovsdb-server restarted, or ovs-vswitchd re-created a bridge's OpenFlow socket
 * after a restart (which loses every OpenFlow rule without any OVSDB change).
 */
export class OvsWatch {
  #client: OvsdbClient | undefined;
  #runDirWatcher: FSWatcher | undefined;
  readonly #stop = new AbortController();
  #connected: Promise<void> | undefined;

  constructor(
    private readonly socketPath: string,
    private readonly runDir: string,
    private readonly log: Logger,
    private readonly onChange: (reason: string) => void,
  ) {}

  /** Starts connecting in the background; {@link client} waits for the connection. */
  start(): void {
    // The watch comes first: when it fails (no such directory), no connection is left open.
    this.#runDirWatcher = watch(this.runDir, (_event, file) => {
      if (file?.endsWith(".mgmt")) {
        this.onChange("ovs-vswitchd socket");
      }
    });
    this.#runDirWatcher.on("error", (error) => {
      this.log.error({
        event: "error",
        during: "watching the OVS run directory",
        error: error.message,
      });
    });
    this.#connected = this.#connect();
  }

  /** The open connection, waiting for it (with retries) if needed. */
  async client(): Promise<OvsdbClient> {
    while (!this.#stop.signal.aborted) {
      if (this.#client && !this.#client.closed) {
        return this.#client;
      }
      await (this.#connected ?? (this.#connected = this.#connect()));
      if (this.#client === undefined || this.#client.closed) {
        this.#connected = undefined;
      }
    }
    throw new Error("the agent is stopping");
  }

  async #connect(): Promise<void> {
    const backoff = new Backoff();
    while (!this.#stop.signal.aborted) {
      try {
        const client = await OvsdbClient.connect(this.socketPath, { timeoutMs: 10_000 });
        if (this.#stop.signal.aborted) {
          // stop() ran while the connection was being made.
          client.close();
          return;
        }
        await client.monitor(
          "Open_vSwitch",
          MONITOR_ID,
          {
            Bridge: { columns: ["name", "ports", "fail_mode", "datapath_type", "external_ids"] },
            Port: { columns: ["name", "interfaces", "external_ids"] },
            Interface: { columns: ["name", "type", "options", "bfd", "mtu_request", "ofport"] },
          },
          () => this.onChange("ovsdb update"),
        );
        client.onClose((error) => {
          if (!this.#stop.signal.aborted) {
            this.log.warn({ event: "ovsdb-disconnected", error: error?.message ?? "closed" });
            this.#connected = undefined;
            this.onChange("ovsdb reconnect");
          }
        });
        this.#client = client;
        if (backoff.attempts > 0) {
          this.log.info({ event: "ovsdb-connected", attempts: backoff.attempts });
        }
        this.onChange("ovsdb connected");
        return;
      } catch (error) {
        const delayMs = backoff.next();
        this.log.warn({
          event: "retry",
          during: "connecting to ovsdb-server",
          socket: this.socketPath,
          attempt: backoff.attempts,
          delayMs,
          error: errorMessage(error),
        });
        await sleep(delayMs, this.#stop.signal);
      }
    }
  }

  stop(): void {
    this.#stop.abort();
    this.#runDirWatcher?.close();
    this.#client?.close();
  }
}
