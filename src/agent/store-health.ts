import type { StoreProblem } from "../store/store.js";
import type { Logger } from "./log.js";
import type { AgentMetrics } from "./metrics.js";

/**
 * Tracks whether the agent's requests to the store succeed, for the store_connected metric
 * and for one log event when the store is reachable again, and reports invalid store values.
 */
export class StoreHealth {
  /** Whether a request has failed since the last one that succeeded. */
  #failing = false;
  /** Invalid values reported in the log, so that each is reported once. */
  #reported = new Set<string>();

  constructor(
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
  ) {}

  /**
   * Records a request that succeeded. Returns true, and logs "store-reachable", when earlier
   * requests had failed.
   */
  succeeded(): boolean {
    this.metrics.storeConnected = true;
    if (!this.#failing) {
      return false;
    }
    this.#failing = false;
    this.log.info({ event: "store-reachable" });
    return true;
  }

  /** Records a request that failed; the caller logs the retry with the error. */
  failed(): void {
    this.metrics.storeConnected = false;
    this.#failing = true;
  }

  /**
   * Logs each invalid store value once, when it first appears, and again only if it goes
   * away and comes back. The store's reader has skipped these values already.
   */
  reportProblems(problems: readonly StoreProblem[]): void {
    const current = new Set<string>();
    for (const problem of problems) {
      const id = `${problem.key}\n${problem.message}`;
      current.add(id);
      if (!this.#reported.has(id)) {
        this.log.warn({ event: "invalid-store-value", key: problem.key, error: problem.message });
      }
    }
    this.#reported = current;
  }
}
