import { runLines, type LineProgram } from "../host/exec.js";
import { Backoff, sleep } from "./backoff.js";
import { errorMessage, type Logger } from "./log.js";

/**
 * `ip monitor` prints one line per event with -o. iproute2 6.1 accepts -json for monitor
 * but still prints text, so the lines are read as text.
 */
const MONITOR_ARGV = ["ip", "-o", "monitor", "link", "address"] as const;

/** Milliseconds that events are collected before one reconcile is requested. */
const DEFAULT_DEBOUNCE_MS = 100;

/**
 * Watches the host's links and addresses with `ip monitor` and calls `onChange` when they
 * change, so that the agent repairs its Linux bridge within moments when someone deletes and
 * re-creates it, takes a port out of it or removes its gateway address. Without this, such
 * drift would last until the next resync. Events within the debounce interval are merged
 * into one call. When `ip monitor` exits, it is started again with backoff and `onChange` is
 * called, because events in the gap were missed.
 */
export class LinkWatch {
  readonly #stop = new AbortController();
  readonly #names = new Set<string>();
  #program: LineProgram | undefined;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly onChange: (reason: string) => void,
    private readonly debounceMs = DEFAULT_DEBOUNCE_MS,
  ) {}

  /** Starts `ip monitor` in the background. */
  start(): void {
    this.#loop = this.#monitor();
  }

  /** Stops `ip monitor` and waits until it has exited. */
  async stop(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#program?.stop();
    await this.#loop;
  }

  async #monitor(): Promise<void> {
    const backoff = new Backoff(1000, 30_000);
    while (!this.#stop.signal.aborted) {
      const program = runLines(MONITOR_ARGV, (line) => this.#onLine(line));
      this.#program = program;
      try {
        // Resolves only when stop() ended the program.
        await program.exited;
        return;
      } catch (error) {
        if (this.#stop.signal.aborted) {
          return;
        }
        const delayMs = backoff.next();
        this.log.warn({
          event: "retry",
          during: "monitoring links",
          attempt: backoff.attempts,
          delayMs,
          error: errorMessage(error),
        });
        await sleep(delayMs, this.#stop.signal);
        this.onChange("link monitor restarted");
      }
    }
  }

  #onLine(line: string): void {
    const name = linkName(line);
    if (name === undefined) {
      return;
    }
    this.#names.add(name);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), this.debounceMs);
    }
  }

  #flush(): void {
    this.#timer = undefined;
    const names = [...this.#names].sort();
    this.#names.clear();
    if (!this.#stop.signal.aborted) {
      this.onChange(`link change: ${names.join(", ")}`);
    }
  }
}

/**
 * Returns the interface name of one `ip -o monitor link address` line, such as "docker0"
 * for "Deleted 5: docker0: <BROADCAST,...> mtu 1450 ..." or "5: docker0    inet 10.240.1.1/24 ...".
 * Returns undefined for lines that name no interface.
 */
export function linkName(line: string): string | undefined {
  const match = /^(?:Deleted )?\d+: ([^\s:@]+)/.exec(line);
  return match?.[1];
}
