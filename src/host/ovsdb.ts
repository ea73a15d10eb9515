/**
 * OVSDB client (RFC 7047): JSON-RPC 1.0 over a unix socket, with the transact and monitor
 * methods that the OVS driver and the agent need.
 */
import { connect, type Socket } from "node:net";

import { JsonStreamParser } from "./json-stream.js";

/** A UUID as OVSDB sends it: `["uuid", "<36 hex digits and dashes>"]`. */
export type OvsdbUuid = ["uuid", string];
/** A reference to a row inserted earlier in the same transaction by its "uuid-name". */
export type OvsdbNamedUuid = ["named-uuid", string];
export type OvsdbAtom = string | number | boolean | OvsdbUuid | OvsdbNamedUuid;
export type OvsdbSet = ["set", OvsdbAtom[]];
export type OvsdbMap = ["map", [OvsdbAtom, OvsdbAtom][]];
/** A column value: one atom (also a set of one), a set or a map. */
export type OvsdbValue = OvsdbAtom | OvsdbSet | OvsdbMap;
/** Column values by column name. */
export type OvsdbRow = Record<string, OvsdbValue>;
/** `[column, function, value]`, such as `["name", "==", "br0"]`. */
export type OvsdbCondition = [string, string, OvsdbValue];
/** `[column, mutator, value]`, such as `["next_cfg", "+=", 1]`. */
export type OvsdbMutation = [string, string, OvsdbValue];

/** One operation of a transact request (RFC 7047, section 5.2). */
export type OvsdbOperation =
  | { op: "insert"; table: string; row: OvsdbRow; "uuid-name"?: string }
  | { op: "select"; table: string; where: OvsdbCondition[]; columns?: string[] }
  | { op: "update"; table: string; where: OvsdbCondition[]; row: OvsdbRow }
  | { op: "mutate"; table: string; where: OvsdbCondition[]; mutations: OvsdbMutation[] }
  | { op: "delete"; table: string; where: OvsdbCondition[] }
  | {
      op: "wait";
      table: string;
      where: OvsdbCondition[];
      columns: string[];
      until: "==" | "!=";
      rows: OvsdbRow[];
      /** Milliseconds that the server waits for the condition; 0 fails at once. */
      timeout?: number;
    }
  | { op: "comment"; comment: string };

/** Result of one operation; which members are set depends on the operation. */
export interface OvsdbResult {
  /** UUID of the inserted row. */
  uuid?: OvsdbUuid;
  /** Rows selected; column values are raw JSON, to be read with the helpers below. */
  rows?: Record<string, unknown>[];
  /** Rows updated, mutated or deleted. */
  count?: number;
}

/** A row change of a monitor: `old` is absent for an insert, `new` for a delete. */
export interface OvsdbRowUpdate {
  old?: Record<string, unknown>;
  new?: Record<string, unknown>;
}
/** Row changes by table name and row UUID. */
export type OvsdbTableUpdates = Record<string, Record<string, OvsdbRowUpdate>>;
/** Columns to monitor in one table; all columns when `columns` is absent. */
export interface OvsdbMonitorRequest {
  columns?: string[];
  select?: { initial?: boolean; insert?: boolean; delete?: boolean; modify?: boolean };
}

/** Options for {@link OvsdbClient.connect}. */
export interface OvsdbConnectOptions {
  /** Milliseconds to wait for the connection and, by default, for each reply. */
  timeoutMs: number;
}

/** An error that ovsdb-server returned for a request or for one operation of a transaction. */
export class OvsdbError extends Error {
  constructor(
    message: string,
    /** The error string from the server, such as "constraint violation". */
    readonly error: string,
    readonly details: string | undefined,
    /** Position of the failed operation in the transaction; undefined for other errors. */
    readonly operationIndex: number | undefined,
  ) {
    super(message);
    this.name = "OvsdbError";
  }
}

/** The connection to ovsdb-server failed, closed, timed out or carried something not OVSDB. */
export class OvsdbConnectionError extends Error {
  constructor(
    readonly socketPath: string,
    reason: string,
  ) {
    super(`OVSDB connection to ${socketPath}: ${reason}`);
    this.name = "OvsdbConnectionError";
  }
}

interface PendingRequest {
  method: string;
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One connection to ovsdb-server. Requests may overlap; replies are matched by id.
 * Pending requests reject with {@link OvsdbConnectionError} when the connection ends.
 */
export class OvsdbClient {
  readonly #socket: Socket;
  readonly #socketPath: string;
  readonly #timeoutMs: number;
  readonly #parser = new JsonStreamParser();
  readonly #pending = new Map<number, PendingRequest>();
  readonly #monitors = new Map<string, (updates: OvsdbTableUpdates) => void>();
  readonly #closeListeners = new Set<(error: Error | undefined) => void>();
  #nextId = 1;
  #requestCount = 0;
  /** Set once the connection has ended: the reason, or null after {@link close}. */
  #ended: Error | null | undefined;

  private constructor(socket: Socket, socketPath: string, timeoutMs: number) {
    this.#socket = socket;
    this.#socketPath = socketPath;
    this.#timeoutMs = timeoutMs;

    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (error) => this.#end(this.#connectionError(error.message)));
    socket.on("close", () => this.#end(this.#connectionError("closed by the server")));
  }

  /** Opens a connection to the unix socket of ovsdb-server. */
  static connect(socketPath: string, options: OvsdbConnectOptions): Promise<OvsdbClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const fail = (reason: string) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new OvsdbConnectionError(socketPath, reason));
      };
      const timer = setTimeout(
        () => fail(`no connection within ${options.timeoutMs} ms; is ovsdb-server running?`),
        options.timeoutMs,
      );
      socket.once("error", (error) => fail(`${error.message}; is ovsdb-server running?`));
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new OvsdbClient(socket, socketPath, options.timeoutMs));
      });
    });
  }

  /** Number of requests sent on this connection; replies to the server's echo are not counted. */
  get requestCount(): number {
    return this.#requestCount;
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#ended !== undefined;
  }

  /**
   * Runs operations as one transaction and returns one result per operation.
   * Rejects with {@link OvsdbError} naming the operation when one fails, or when the commit fails.
   */
  async transact(
    database: string,
    operations: readonly OvsdbOperation[],
    options: { timeoutMs?: number } = {},
  ): Promise<OvsdbResult[]> {
    const reply = await this.#request("transact", [database, ...operations], options.timeoutMs);
    if (!Array.isArray(reply)) {
      throw this.#protocolError(`transact returned ${JSON.stringify(reply)}, not an array`);
    }
    const results: OvsdbResult[] = [];
    for (const [index, item] of reply.entries()) {
      if (!isObject(item)) {
        // Operations after a failed one are not run and have null results.
        results.push({});
        continue;
      }
      if (item.error !== undefined && item.error !== null) {
        throw transactError(database, operations, index, item);
      }
      if (item.rows !== undefined && !(Array.isArray(item.rows) && item.rows.every(isObject))) {
        throw this.#protocolError(
          `transact result ${index} has rows that are not a list of objects: ${JSON.stringify(item.rows)}`,
        );
      }
      results.push(item);
    }
    return results;
  }

  /**
   * Starts monitoring tables and returns their current rows as one update. Later changes are
   * passed to `onUpdate` until {@link cancelMonitor} or the end of the connection.
   */
  async monitor(
    database: string,
    monitorId: string,
    requests: Record<string, OvsdbMonitorRequest>,
    onUpdate: (updates: OvsdbTableUpdates) => void,
  ): Promise<OvsdbTableUpdates> {
    if (this.#monitors.has(monitorId)) {
      throw new RangeError(`monitor id ${JSON.stringify(monitorId)} is already in use`);
    }
    // Registered before the request, because updates may follow the reply in the same chunk.
    this.#monitors.set(monitorId, onUpdate);
    try {
      const initial = await this.#request("monitor", [database, monitorId, requests]);
      if (!isTableUpdates(initial)) {
        throw this.#protocolError(`monitor returned ${JSON.stringify(initial)}`);
      }
      return initial;
    } catch (error) {
      this.#monitors.delete(monitorId);
      throw error;
    }
  }

  /** Stops a monitor started with {@link monitor}. */
  async cancelMonitor(monitorId: string): Promise<void> {
    this.#monitors.delete(monitorId);
    await this.#request("monitor_cancel", [monitorId]);
  }

  /**
   * Calls `listener` once when the connection ends, with the reason, or with undefined after
   * {@link close}. Returns a function that removes the listener.
   */
  onClose(listener: (error: Error | undefined) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Closes the connection; pending requests reject. */
  close(): void {
    this.#end(null);
  }

  #request(method: string, params: unknown[], timeoutMs = this.#timeoutMs): Promise<unknown> {
    if (this.#ended !== undefined) {
      return Promise.reject(this.#ended ?? this.#connectionError("closed"));
    }
    const id = this.#nextId++;
    this.#requestCount++;

    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(this.#connectionError(`no reply to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { method, resolve, reject, timer });
      // JSON-RPC 1.0 has no "jsonrpc" member; ovsdb-server closes the connection if one is sent.
      this.#socket.write(JSON.stringify({ method, params, id }));
    });
  }

  #receive(chunk: Buffer): void {
    let messages: unknown[];
    try {
      messages = this.#parser.push(chunk);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.#end(this.#connectionError(`invalid data from the server: ${reason}`));
      return;
    }
    for (const message of messages) {
      if (this.#ended !== undefined) {
        return;
      }
      this.#dispatch(message);
    }
  }

  #dispatch(message: unknown): void {
    if (!isObject(message)) {
      this.#end(this.#protocolError(`message is not an object: ${JSON.stringify(message)}`));
      return;
    }
    if (typeof message.method === "string") {
      this.#handleServerRequest(message.method, message.params, message.id);
      return;
    }

    const id = message.id;
    const pending = typeof id === "number" ? this.#pending.get(id) : undefined;
    if (pending === undefined || typeof id !== "number") {
      // A reply to a request that timed out, whose caller has received the timeout error.
      return;
    }
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (message.error !== undefined && message.error !== null) {
      pending.reject(requestError(pending.method, message.error));
    } else {
      pending.resolve(message.result);
    }
  }

  #handleServerRequest(method: string, params: unknown, id: unknown): void {
    if (method === "echo" && id !== null && id !== undefined) {
      // ovsdb-server sends echo to probe an idle connection and drops it when no reply comes.
      this.#socket.write(JSON.stringify({ id, result: params, error: null }));
    } else if (method === "update" && Array.isArray(params)) {
      const [monitorId, updates] = params;
      const listener = typeof monitorId === "string" ? this.#monitors.get(monitorId) : undefined;
      if (!isTableUpdates(updates)) {
        this.#end(this.#protocolError(`update is malformed: ${JSON.stringify(updates)}`));
        return;
      }
      listener?.(updates);
    } else if (id !== null && id !== undefined) {
      this.#socket.write(JSON.stringify({ id, result: null, error: `unknown method ${method}` }));
    }
    // Other notifications, such as "locked", concern features this client does not use.
  }

  #end(reason: Error | null): void {
    if (this.#ended !== undefined) {
      return;
    }
    this.#ended = reason;
    this.#socket.destroy();

    const rejection = reason ?? this.#connectionError("closed");
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(rejection);
    }
    this.#pending.clear();
    this.#monitors.clear();
    for (const listener of this.#closeListeners) {
      listener(reason ?? undefined);
    }
    this.#closeListeners.clear();
  }

  #connectionError(reason: string): OvsdbConnectionError {
    return new OvsdbConnectionError(this.#socketPath, reason);
  }

  #protocolError(reason: string): OvsdbConnectionError {
    return this.#connectionError(`unexpected message from the server: ${reason}`);
  }
}

/** Builds the error for a failed operation, or for a failed commit (an extra result). */
function transactError(
  database: string,
  operations: readonly OvsdbOperation[],
  index: number,
  result: Record<string, unknown>,
): OvsdbError {
  const error = String(result.error);
  const details = typeof result.details === "string" ? result.details : undefined;
  const operation = operations[index];
  const where =
    operation === undefined
      ? "commit"
      : `operation ${index} (${operation.op}${"table" in operation ? ` ${operation.table}` : ""})`;
  const suffix = details === undefined ? "" : `: ${details}`;
  return new OvsdbError(
    `OVSDB transaction on ${database} failed at ${where}: ${error}${suffix}`,
    error,
    details,
    operation === undefined ? undefined : index,
  );
}

/** Builds the error for a reply whose "error" member is set. */
function requestError(method: string, error: unknown): OvsdbError {
  const text = isObject(error) && typeof error.error === "string" ? error.error : String(error);
  const details = isObject(error) && typeof error.details === "string" ? error.details : undefined;
  const suffix = details === undefined ? "" : `: ${details}`;
  return new OvsdbError(`OVSDB ${method} failed: ${text}${suffix}`, text, details, undefined);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks the two outer levels of table updates; row contents are checked where they are read. */
function isTableUpdates(value: unknown): value is OvsdbTableUpdates {
  if (!isObject(value)) {
    return false;
  }
  return Object.values(value).every(
    (rows) => isObject(rows) && Object.values(rows).every(isObject),
  );
}

/** Encodes a string map column. */
export function toOvsdbMap(map: Record<string, string>): OvsdbMap {
  return ["map", Object.entries(map)];
}

/** Encodes a set column. */
export function toOvsdbSet(atoms: readonly OvsdbAtom[]): OvsdbSet {
  return ["set", [...atoms]];
}

/** Decodes a set column (a single atom is a set of one). Throws TypeError on anything else. */
export function fromOvsdbSet(value: unknown, column: string): unknown[] {
  if (Array.isArray(value) && value[0] === "set" && Array.isArray(value[1])) {
    return value[1];
  }
  const isUuid = Array.isArray(value) && (value[0] === "uuid" || value[0] === "named-uuid");
  if (isUuid || ["string", "number", "boolean"].includes(typeof value)) {
    return [value];
  }
  throw new TypeError(`column ${column}: expected a set, got ${JSON.stringify(value)}`);
}

/** Decodes a map column of strings to strings, such as external_ids or options. */
export function fromOvsdbStringMap(value: unknown, column: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const [key, item] of mapPairs(value, column)) {
    if (typeof item !== "string") {
      throw new TypeError(`column ${column}: value of ${key} is not a string`);
    }
    map[key] = item;
  }
  return map;
}

/** Decodes a map column of strings to integers, such as Interface statistics. */
export function fromOvsdbIntegerMap(value: unknown, column: string): Record<string, number> {
  const map: Record<string, number> = {};
  for (const [key, item] of mapPairs(value, column)) {
    if (typeof item !== "number") {
      throw new TypeError(`column ${column}: value of ${key} is not a number`);
    }
    map[key] = item;
  }
  return map;
}

function mapPairs(value: unknown, column: string): [string, unknown][] {
  if (!Array.isArray(value) || value[0] !== "map" || !Array.isArray(value[1])) {
    throw new TypeError(`column ${column}: expected a map, got ${JSON.stringify(value)}`);
  }
  const pairs: [string, unknown][] = [];
  for (const pair of value[1] as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string") {
      throw new TypeError(`column ${column}: invalid map entry ${JSON.stringify(pair)}`);
    }
    pairs.push([pair[0], pair[1]]);
  }
  return pairs;
}

/** Decodes a UUID atom. */
export function fromOvsdbUuid(value: unknown, column: string): string {
  if (!Array.isArray(value) || value[0] !== "uuid" || typeof value[1] !== "string") {
    throw new TypeError(`column ${column}: expected a UUID, got ${JSON.stringify(value)}`);
  }
  return value[1];
}
