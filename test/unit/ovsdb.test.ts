import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { JsonStreamParser } from "../../src/host/json-stream.js";
import {
  OvsdbClient,
  OvsdbConnectionError,
  OvsdbError,
  fromOvsdbIntegerMap,
  fromOvsdbSet,
  fromOvsdbStringMap,
  type OvsdbOperation,
  type OvsdbTableUpdates,
} from "../../src/host/ovsdb.js";

/** A fake ovsdb-server on a unix socket that queues the client's messages and sends the test's. */
class FakeServer {
  readonly received: Record<string, unknown>[] = [];
  #waiters: (() => void)[] = [];
  #peer: Socket | undefined;

  private constructor(
    readonly server: Server,
    readonly dir: string,
    readonly socketPath: string,
  ) {}

  static async start(): Promise<FakeServer> {
    const dir = await mkdtemp(join(tmpdir(), "omt-ovsdb-unit-"));
    const socketPath = join(dir, "db.sock");
    const server = createServer();
    const fake = new FakeServer(server, dir, socketPath);
    server.on("connection", (socket) => fake.#accept(socket));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    return fake;
  }

  #accept(socket: Socket): void {
    this.#peer = socket;
    const parser = new JsonStreamParser();
    socket.on("data", (chunk: Buffer) => {
      for (const message of parser.push(chunk)) {
        this.received.push(message as Record<string, unknown>);
      }
      for (const wake of this.#waiters.splice(0)) {
        wake();
      }
    });
  }

  /** Resolves with the `index`-th message from the client once it has arrived. */
  async message(index: number): Promise<Record<string, unknown>> {
    while (this.received.length <= index) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    const message = this.received[index];
    assert.ok(message !== undefined);
    return message;
  }

  /** Sends raw text or bytes to the connected client. */
  send(text: string | Buffer): void {
    assert.ok(this.#peer !== undefined, "no client connected");
    this.#peer.write(text);
  }

  reply(id: unknown, result: unknown): void {
    this.send(JSON.stringify({ id, result, error: null }));
  }

  dropClient(): void {
    this.#peer?.destroy();
  }

  async stop(): Promise<void> {
    this.#peer?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Runs `body` with a fake server and a client connected to it; both are closed afterwards. */
async function withClient(
  body: (server: FakeServer, client: OvsdbClient) => Promise<void>,
): Promise<void> {
  const server = await FakeServer.start();
  try {
    const client = await OvsdbClient.connect(server.socketPath, { timeoutMs: 2_000 });
    try {
      await body(server, client);
    } finally {
      client.close();
    }
  } finally {
    await server.stop();
  }
}

test("OvsdbClient sends JSON-RPC 1.0 requests with numeric ids", async () => {
  await withClient(async (server, client) => {
    const select: OvsdbOperation = { op: "select", table: "Bridge", where: [] };
    const first = client.transact("Open_vSwitch", [select]);
    const second = client.transact("Open_vSwitch", [select, select]);

    const request1 = await server.message(0);
    const request2 = await server.message(1);
    assert.deepEqual(request1, { method: "transact", params: ["Open_vSwitch", select], id: 1 });
    assert.deepEqual(request2, {
      method: "transact",
      params: ["Open_vSwitch", select, select],
      id: 2,
    });
    assert.equal("jsonrpc" in request1, false);

    server.reply(2, [{ rows: [] }, { rows: [{ name: "b" }] }]);
    server.reply(1, [{ rows: [{ name: "a" }] }]);
    assert.deepEqual(await first, [{ rows: [{ name: "a" }] }]);
    assert.deepEqual(await second, [{ rows: [] }, { rows: [{ name: "b" }] }]);
    assert.equal(client.requestCount, 2);
  });
});

test("OvsdbClient reads replies split across chunks and joined in one", async () => {
  await withClient(async (server, client) => {
    const replies = [1, 2, 3].map(() => client.transact("db", [{ op: "comment", comment: "x" }]));
    await server.message(2);

    const joined =
      JSON.stringify({ id: 1, result: [{ count: 1 }], error: null }) +
      JSON.stringify({ id: 2, result: [{ count: 2 }], error: null });
    server.send(joined);
    const split = JSON.stringify({ id: 3, result: [{ uuid: ["uuid", 'é-{}\\"'] }], error: null });
    const bytes = Buffer.from(split, "utf8");
    for (let i = 0; i < bytes.length; i += 7) {
      server.send(bytes.subarray(i, i + 7));
      await sleep(1);
    }

    assert.deepEqual(await replies[0], [{ count: 1 }]);
    assert.deepEqual(await replies[1], [{ count: 2 }]);
    assert.deepEqual(await replies[2], [{ uuid: ["uuid", 'é-{}\\"'] }]);
    assert.equal(client.closed, false);
  });
});

test("OvsdbClient answers echo requests without counting them", async () => {
  await withClient(async (server, client) => {
    server.send(JSON.stringify({ id: "echo", method: "echo", params: ["probe", 7] }));

    assert.deepEqual(await server.message(0), {
      id: "echo",
      result: ["probe", 7],
      error: null,
    });
    assert.equal(client.requestCount, 0);
  });
});

test("OvsdbClient.transact names the failed operation", async () => {
  await withClient(async (server, client) => {
    const pending = client.transact("Open_vSwitch", [
      { op: "comment", comment: "first" },
      { op: "insert", table: "Bridge", row: { name: "br0" } },
      { op: "delete", table: "Port", where: [] },
    ]);
    await server.message(0);
    server.reply(1, [{}, { error: "constraint violation", details: "duplicate name br0" }, null]);

    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof OvsdbError);
      assert.equal(
        error.message,
        "OVSDB transaction on Open_vSwitch failed at operation 1 (insert Bridge): " +
          "constraint violation: duplicate name br0",
      );
      assert.equal(error.error, "constraint violation");
      assert.equal(error.details, "duplicate name br0");
      assert.equal(error.operationIndex, 1);
      return true;
    });
  });
});

test("OvsdbClient.transact reports a failed commit", async () => {
  await withClient(async (server, client) => {
    const pending = client.transact("Open_vSwitch", [{ op: "delete", table: "Bridge", where: [] }]);
    await server.message(0);
    server.reply(1, [
      { count: 1 },
      { error: "referential integrity violation", details: "row is referenced" },
    ]);

    await assert.rejects(pending, {
      name: "OvsdbError",
      message:
        "OVSDB transaction on Open_vSwitch failed at commit: " +
        "referential integrity violation: row is referenced",
      operationIndex: undefined,
    });
  });
});

test("OvsdbClient rejects a reply with an error member", async () => {
  await withClient(async (server, client) => {
    const pending = client.transact("Nope", []);
    await server.message(0);
    server.send(
      JSON.stringify({
        id: 1,
        result: null,
        error: { error: "unknown database", details: "Nope is not a database" },
      }),
    );

    await assert.rejects(pending, {
      name: "OvsdbError",
      message: "OVSDB transact failed: unknown database: Nope is not a database",
      error: "unknown database",
    });
  });
});

test("OvsdbClient rejects pending requests when the server closes", async () => {
  await withClient(async (server, client) => {
    const reasons: (Error | undefined)[] = [];
    client.onClose((error) => reasons.push(error));
    const pending = client.transact("db", []);
    await server.message(0);

    server.dropClient();

    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof OvsdbConnectionError);
      assert.equal(error.message, `OVSDB connection to ${server.socketPath}: closed by the server`);
      return true;
    });
    assert.equal(reasons.length, 1);
    assert.ok(reasons[0] instanceof OvsdbConnectionError);
    assert.equal(client.closed, true);
    await assert.rejects(client.transact("db", []), { message: /closed by the server$/ });
  });
});

test("OvsdbClient.close() rejects pending requests and calls onClose", async () => {
  await withClient(async (server, client) => {
    const reasons: (Error | undefined)[] = [];
    client.onClose((error) => reasons.push(error));
    const pending = client.transact("db", []);
    await server.message(0);

    client.close();

    await assert.rejects(pending, { name: "OvsdbConnectionError", message: /: closed$/ });
    assert.deepEqual(reasons, [undefined]);
  });
});

test("OvsdbClient ends the connection on invalid data", async () => {
  await withClient(async (server, client) => {
    const pending = client.transact("db", []);
    await server.message(0);

    server.send("HTTP/1.1 400 Bad Request\r\n\r\n");

    await assert.rejects(pending, {
      name: "OvsdbConnectionError",
      message:
        `OVSDB connection to ${server.socketPath}: invalid data from the server: ` +
        "expected '{' or '[' to start a JSON value, found 'H' (stream byte 0)",
    });
  });
});

test("OvsdbClient times out a request without a reply", async () => {
  const server = await FakeServer.start();
  try {
    const client = await OvsdbClient.connect(server.socketPath, { timeoutMs: 100 });
    const started = Date.now();

    await assert.rejects(client.transact("db", []), {
      name: "OvsdbConnectionError",
      message: `OVSDB connection to ${server.socketPath}: no reply to transact within 100 ms`,
    });
    assert.ok(Date.now() - started >= 90);
    client.close();
  } finally {
    await server.stop();
  }
});

test("OvsdbClient.connect fails for a missing socket", async () => {
  const dir = await mkdtemp(join(tmpdir(), "omt-ovsdb-unit-"));
  try {
    const socketPath = join(dir, "missing.sock");

    await assert.rejects(OvsdbClient.connect(socketPath, { timeoutMs: 1_000 }), {
      name: "OvsdbConnectionError",
      message: new RegExp(
        `^OVSDB connection to ${socketPath}: connect ENOENT .*is ovsdb-server running\\?$`,
      ),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("OvsdbClient.monitor returns the initial rows and delivers updates", async () => {
  await withClient(async (server, client) => {
    const updates: OvsdbTableUpdates[] = [];
    const initialRows = { Bridge: { "u-1": { new: { name: "br0" } } } };
    const change = { Bridge: { "u-1": { old: { name: "br0" }, new: { name: "br1" } } } };
    const pending = client.monitor(
      "Open_vSwitch",
      "bridges",
      { Bridge: { columns: ["name"] } },
      (update) => updates.push(update),
    );

    assert.deepEqual(await server.message(0), {
      method: "monitor",
      params: ["Open_vSwitch", "bridges", { Bridge: { columns: ["name"] } }],
      id: 1,
    });
    // The reply and the first update arrive in one chunk, as they can from ovsdb-server.
    server.send(
      JSON.stringify({ id: 1, result: initialRows, error: null }) +
        JSON.stringify({ id: null, method: "update", params: ["bridges", change] }) +
        JSON.stringify({ id: null, method: "update", params: ["other", change] }),
    );

    assert.deepEqual(await pending, initialRows);
    await sleep(10);
    assert.deepEqual(updates, [change]);

    const cancelled = client.cancelMonitor("bridges");
    assert.deepEqual(await server.message(1), {
      method: "monitor_cancel",
      params: ["bridges"],
      id: 2,
    });
    server.reply(2, {});
    await cancelled;
    server.send(JSON.stringify({ id: null, method: "update", params: ["bridges", change] }));
    await sleep(10);
    assert.equal(updates.length, 1);
  });
});

test("OvsdbClient.monitor rejects a monitor id in use", async () => {
  await withClient(async (server, client) => {
    const first = client.monitor("db", "m", {}, () => undefined);

    await assert.rejects(
      client.monitor("db", "m", {}, () => undefined),
      {
        name: "RangeError",
        message: 'monitor id "m" is already in use',
      },
    );
    await server.message(0);
    server.reply(1, {});
    assert.deepEqual(await first, {});
  });
});

test("fromOvsdbSet decodes sets and single atoms", () => {
  assert.deepEqual(fromOvsdbSet(["set", []], "c"), []);
  assert.deepEqual(fromOvsdbSet(["set", ["a", "b"]], "c"), ["a", "b"]);
  assert.deepEqual(fromOvsdbSet("secure", "c"), ["secure"]);
  assert.deepEqual(fromOvsdbSet(["uuid", "u"], "c"), [["uuid", "u"]]);
  assert.throws(() => fromOvsdbSet(["map", []], "fail_mode"), {
    name: "TypeError",
    message: 'column fail_mode: expected a set, got ["map",[]]',
  });
});

test("fromOvsdbStringMap and fromOvsdbIntegerMap check value types", () => {
  assert.deepEqual(fromOvsdbStringMap(["map", [["a", "1"]]], "c"), { a: "1" });
  assert.deepEqual(fromOvsdbIntegerMap(["map", [["rx_packets", 5]]], "c"), { rx_packets: 5 });
  assert.throws(() => fromOvsdbStringMap(["map", [["a", 1]]], "options"), {
    name: "TypeError",
    message: "column options: value of a is not a string",
  });
  assert.throws(() => fromOvsdbIntegerMap(["set", []], "statistics"), {
    name: "TypeError",
    message: 'column statistics: expected a map, got ["set",[]]',
  });
});
