import type { IncomingMessage } from "node:http";
import { EtcdError } from "./etcd-errors.js";
import { headerRevision, toKeyValue, type KeyValue } from "./etcd-codec.js";

/** One change seen by a watch. */
export interface WatchEvent {
  type: "PUT" | "DELETE";
  kv: KeyValue;
}

/** Callbacks of one watch stream. */
export interface WatchHandlers {
  /** Called once etcd has set up the watch, with the store's revision at that time. */
  onCreated(revision: number): void;
  /** Called for each batch of changes, with the revision of the last one. */
  onEvents(revision: number, events: WatchEvent[]): void;
}

/** Raised when the requested start revision was compacted away, so changes were lost. */
export class WatchCompactedError extends Error {
  constructor(readonly compactRevision: number) {
    super(`the watch start revision was compacted; the oldest revision kept is ${compactRevision}`);
    this.name = "WatchCompactedError";
  }
}

/**
 * One watch stream through etcd's JSON gateway, which sends one JSON object per line.
 * `done` resolves when the watch is cancelled and rejects when the stream fails or ends.
 */
export class EtcdWatch {
  readonly done: Promise<void>;
  private resolve: () => void = () => undefined;
  private reject: (error: Error) => void = () => undefined;
  private settled = false;
  private response: IncomingMessage | undefined;

  constructor(
    private readonly handlers: WatchHandlers,
    open: () => Promise<IncomingMessage>,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    open().then(
      (response) => this.attach(response),
      (error: unknown) => this.fail(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /** Closes the stream; `done` resolves. */
  cancel(): void {
    if (this.settled) {
      return;
    }
    this.settled = true;
    this.response?.destroy();
    this.resolve();
  }

  private attach(response: IncomingMessage): void {
    if (this.settled) {
      response.destroy();
      return;
    }
    this.response = response;
    let buffer = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      buffer += chunk;
      for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line !== "") {
          this.handleLine(line);
        }
      }
    });
    response.on("error", (error) => this.fail(error));
    response.on("close", () => this.fail(new Error("etcd closed the watch stream")));
  }

  private handleLine(line: string): void {
    if (this.settled) {
      return;
    }
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof SyntaxError) {
        this.fail(new Error(`etcd sent a watch message that is not JSON: ${line.slice(0, 200)}`));
        return;
      }
      throw error;
    }

    if (typeof message.error === "object" && message.error !== null) {
      const detail = message.error as Record<string, unknown>;
      const code = typeof detail.grpc_code === "number" ? detail.grpc_code : undefined;
      this.fail(new EtcdError("watch stream", code, String(detail.message ?? line.slice(0, 200))));
      return;
    }
    const result = (message.result ?? {}) as Record<string, unknown>;
    const revision = headerRevision(result);
    if (result.canceled === true) {
      const compacted = Number(result.compact_revision ?? 0);
      const reason =
        typeof result.cancel_reason === "string" ? result.cancel_reason : "no reason given";
      this.fail(
        compacted > 0
          ? new WatchCompactedError(compacted)
          : new Error(`etcd cancelled the watch: ${reason}`),
      );
      return;
    }
    if (result.created === true) {
      this.handlers.onCreated(revision);
    }
    if (Array.isArray(result.events) && result.events.length > 0) {
      const events = result.events.map((event: unknown) => {
        const object = (event ?? {}) as Record<string, unknown>;
        // The gateway leaves out the default event type, PUT.
        const type: "PUT" | "DELETE" = object.type === "DELETE" ? "DELETE" : "PUT";
        return { type, kv: toKeyValue(object.kv) };
      });
      this.handlers.onEvents(revision, events);
    }
  }

  private fail(error: Error): void {
    if (this.settled) {
      return;
    }
    this.settled = true;
    this.response?.destroy();
    this.reject(error);
  }
}
