import type { OvsChange } from "../plan/state.js";
import {
  OvsdbError,
  type OvsdbClient,
  type OvsdbCondition,
  type OvsdbOperation,
  type OvsdbResult,
  type OvsdbValue,
} from "./ovsdb.js";
import { OVS_DATABASE } from "./ovs-inventory.js";

/** Default milliseconds that applyOvs and removeManaged wait for ovs-vswitchd. */
export const DEFAULT_APPLY_TIMEOUT_MS = 30_000;

/** Options for applyOvs and removeManaged. */
export interface OvsApplyOptions {
  /** Milliseconds to wait for ovs-vswitchd to apply the committed change. */
  timeoutMs?: number;
}

/** A change that the driver rejects, because its object is not ovs-mesh's or OVSDB failed it. */
export class OvsChangeError extends Error {
  constructor(
    readonly change: OvsChange,
    reason: string,
  ) {
    super(`${change.kind}: ${reason}`);
    this.name = "OvsChangeError";
  }
}

/** ovs-vswitchd did not reach the configuration that a committed transaction asked for. */
export class OvsApplyTimeoutError extends Error {
  constructor(
    readonly nextCfg: number,
    readonly timeoutMs: number,
  ) {
    super(
      `ovs-vswitchd did not apply the change within ${timeoutMs} ms (cur_cfg did not reach ` +
        `next_cfg ${nextCfg}); the database holds the change, so check that ovs-vswitchd ` +
        `is running and connected to this database`,
    );
    this.name = "OvsApplyTimeoutError";
  }
}

/**
 * Operations of one transaction, each remembered with the change it belongs to and, for
 * preconditions, the message to report when it fails.
 */
export class Transaction {
  readonly operations: OvsdbOperation[] = [];
  readonly sources: (OvsChange | undefined)[] = [];
  readonly failureMessages = new Map<number, string>();
  /** The change that the next operations belong to. */
  source: OvsChange | undefined;
  #nextRowName = 1;

  add(operation: OvsdbOperation): void {
    this.operations.push(operation);
    this.sources.push(this.source);
  }

  /** Adds an insert and returns the reference to the new row for later operations. */
  insert(table: string, row: Record<string, OvsdbValue>): OvsdbValue {
    const name = `row${this.#nextRowName++}`;
    this.add({ op: "insert", table, row, "uuid-name": name });
    return ["named-uuid", name];
  }

  /** Adds a precondition: a row matching `where` exists, or the whole transaction aborts. */
  requireRow(table: string, where: OvsdbCondition[], failureMessage: string): void {
    // With timeout 0 a wait fails at once; "!=" with no rows means "at least one row matches".
    this.add({ op: "wait", timeout: 0, table, where, columns: ["name"], until: "!=", rows: [] });
    this.explainLast(failureMessage);
  }

  /** Sets the message reported when the last operation fails. */
  explainLast(failureMessage: string): void {
    this.failureMessages.set(this.operations.length - 1, failureMessage);
  }
}

/**
 * Commits the transaction with next_cfg raised by one, then waits until ovs-vswitchd reports
 * that value in cur_cfg, as `ovs-vsctl` does without --no-wait.
 */
export async function commitAndWait(
  client: OvsdbClient,
  transaction: Transaction,
  options: OvsApplyOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS;
  transaction.source = undefined;
  transaction.add({
    op: "mutate",
    table: "Open_vSwitch",
    where: [],
    mutations: [["next_cfg", "+=", 1]],
  });
  transaction.add({ op: "select", table: "Open_vSwitch", where: [], columns: ["next_cfg"] });

  let results: OvsdbResult[];
  try {
    results = await client.transact(OVS_DATABASE, transaction.operations);
  } catch (error) {
    throw explainFailure(error, transaction);
  }
  const nextCfg = results.at(-1)?.rows?.[0]?.next_cfg;
  if (typeof nextCfg !== "number") {
    throw new Error(
      "the Open_vSwitch table has no row, so the database was never initialized; " +
        "run `ovs-vsctl init` or start Open vSwitch with its service script",
    );
  }

  const wait: OvsdbOperation = {
    op: "wait",
    timeout: timeoutMs,
    table: "Open_vSwitch",
    where: [["cur_cfg", ">=", nextCfg]],
    columns: ["cur_cfg"],
    until: "!=",
    rows: [],
  };
  try {
    // ovsdb-server delays the reply to a wait until its condition is true or its timeout ends,
    // so this is one request. The client waits a little longer than the server.
    await client.transact(OVS_DATABASE, [wait], { timeoutMs: timeoutMs + 5_000 });
  } catch (error) {
    if (error instanceof OvsdbError && error.error === "timed out") {
      throw new OvsApplyTimeoutError(nextCfg, timeoutMs);
    }
    throw error;
  }
}

/** Names the change behind a failed operation, with the precondition's message if it has one. */
function explainFailure(error: unknown, transaction: Transaction): unknown {
  if (!(error instanceof OvsdbError) || error.operationIndex === undefined) {
    return error;
  }
  const source = transaction.sources[error.operationIndex];
  const message = transaction.failureMessages.get(error.operationIndex);
  if (source === undefined) {
    return error;
  }
  if (message !== undefined && error.error === "timed out") {
    return new OvsChangeError(source, message);
  }
  return new OvsChangeError(source, error.message);
}
