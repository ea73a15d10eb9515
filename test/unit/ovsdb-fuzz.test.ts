import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { JsonStreamError, JsonStreamParser } from "../../src/host/json-stream.js";
import { readOvs } from "../../src/host/ovs.js";
import { OvsdbClient, OvsdbConnectionError, OvsdbError } from "../../src/host/ovsdb.js";
import { Random, fuzz, fuzzAsync, mutateJson, mutateText } from "./fuzz.js";

// Hostile input for the OVSDB side: the stream parser gets mutated byte streams, and the client
// talks to a fake ovsdb-server that sends mutated, split, reordered or truncated replies. Every
// failure must be one of the driver's error types, and the process must not crash.

const BUDGET_MS = 2_000;
const REPLY_TIMEOUT_MS = 100;

const BRIDGE_UUID = "6a1c0f3e-0000-4000-8000-000000000001";
const PORT_UUID = "6a1c0f3e-0000-4000-8000-000000000002";
const INTERFACE_UUID = "6a1c0f3e-0000-4000-8000-000000000003";

/** A transact reply as ovsdb-server sends it for the four selects of readOvs. */
const INVENTORY = [
  { rows: [{ datapath_types: ["set", ["netdev", "system"]] }] },
  {
    rows: [
      {
        _uuid: ["uuid", BRIDGE_UUID],
        name: "br0",
        datapath_type: "netdev",
        fail_mode: "secure",
        ports: ["uuid", PORT_UUID],
        external_ids: ["map", [["ovs-mesh", "managed"]]],
      },
    ],
  },
  {
    rows: [
      {
        _uuid: ["uuid", PORT_UUID],
        name: "br0",
        interfaces: ["uuid", INTERFACE_UUID],
        external_ids: ["map", [["ovs-mesh", "managed"]]],
      },
    ],
  },
  {
    rows: [
      {
        _uuid: ["uuid", INTERFACE_UUID],
        name: "br0",
        type: "internal",
        options: ["map", []],
        bfd: ["map", []],
        external_ids: ["map", []],
        mtu_request: 1462,
      },
    ],
  },
];

/** The initial reply to a monitor request. */
const MONITOR = { Bridge: { [BRIDGE_UUID]: { new: { name: "br0" } } } };

/** A valid stream of several messages, for the parser. */
const STREAM = [
  { id: 1, result: INVENTORY, error: null },
  { id: null, method: "update", params: ["m", MONITOR] },
  { id: "echo", method: "echo", params: [] },
  [1, "two", { three: [3.5e-3, true, false, null] }, '\u00e9\\"{}'],
].map((message) => JSON.stringify(message));

function isAllowedParserResult(values: unknown[]): boolean {
  return values.every((value) => typeof value === "object" && value !== null);
}

test("JsonStreamParser reads a stream split anywhere", () => {
  const bytes = Buffer.from(STREAM.join("\n"), "utf8");
  const expected = STREAM.map((text) => JSON.parse(text) as unknown);
  fuzz(200, (random) => {
    const parser = new JsonStreamParser();
    const values: unknown[] = [];
    let at = 0;
    while (at < bytes.length) {
      const size = 1 + random.below(40);
      values.push(...parser.push(bytes.subarray(at, at + size)));
      at += size;
    }
    parser.end();
    assert.deepEqual(values, expected, `seed ${random.seed}`);
  });
});

test("JsonStreamParser raises only JsonStreamError on mutated streams", () => {
  let failures = 0;
  const rounds = fuzz(BUDGET_MS / 2, (random) => {
    const text = STREAM.map((message) =>
      random.below(2) === 0 ? mutateText(random, message) : message,
    ).join(random.pick(["", " ", "\n"]));
    const bytes = Buffer.from(text, "utf8");
    const parser = new JsonStreamParser({ maxValueBytes: 4096, maxDepth: 16 });
    try {
      let at = 0;
      while (at < bytes.length) {
        const size = 1 + random.below(64);
        const values = parser.push(bytes.subarray(at, at + size));
        assert.ok(isAllowedParserResult(values), `seed ${random.seed}: a bare value came out`);
        at += size;
      }
      parser.end();
    } catch (error) {
      if (!(error instanceof JsonStreamError)) {
        assert.fail(`seed ${random.seed}: raised ${String(error)} for ${JSON.stringify(text)}`);
      }
      failures += 1;
    }
  });
  assert.ok(rounds >= 100, `only ${rounds} rounds`);
  assert.ok(failures > 0, "no mutated stream was rejected");
});

/** What the fake server does with one request. */
type Behaviour =
  | "valid"
  | "mutated-json"
  | "mutated-text"
  | "split-after-requests"
  | "close"
  | "truncate"
  | "wrong-id"
  | "deep";

const BEHAVIOURS: Behaviour[] = [
  "valid",
  "mutated-json",
  "mutated-json",
  "mutated-text",
  "split-after-requests",
  "close",
  "truncate",
  "wrong-id",
  "deep",
];

/** Requests that ovsdb-server might send, some of them malformed. */
const SERVER_REQUESTS: unknown[] = [
  { id: "echo", method: "echo", params: [] },
  { id: null, method: "update", params: ["m", MONITOR] },
  { id: null, method: "update", params: ["m", { Bridge: [] }] },
  { id: null, method: "update", params: ["other", MONITOR] },
  { id: 7, method: "lock", params: ["x"] },
  { id: null, method: "locked", params: ["x"] },
  { id: null, method: 5, params: null },
];

/** A fake ovsdb-server whose replies follow a {@link Random} that each round replaces. */
class HostileServer {
  random = new Random(0);
  readonly #sockets = new Set<Socket>();

  private constructor(
    readonly server: Server,
    readonly dir: string,
    readonly socketPath: string,
  ) {}

  static async start(): Promise<HostileServer> {
    const dir = await mkdtemp(join(tmpdir(), "omt-ovsdb-fuzz-"));
    const socketPath = join(dir, "db.sock");
    const server = createServer();
    const hostile = new HostileServer(server, dir, socketPath);
    server.on("connection", (socket) => hostile.#accept(socket));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    return hostile;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    // The client may close first; its write errors are expected here.
    socket.on("error", () => this.#sockets.delete(socket));
    const parser = new JsonStreamParser();
    socket.on("data", (chunk: Buffer) => {
      for (const message of parser.push(chunk)) {
        this.#answer(socket, message as Record<string, unknown>);
      }
    });
  }

  #answer(socket: Socket, request: Record<string, unknown>): void {
    if (request.method === undefined) {
      // The client's reply to an echo.
      return;
    }
    const result = request.method === "transact" ? INVENTORY : MONITOR;
    const reply = { id: request.id, result, error: null };
    const random = this.random;
    const behaviour = random.pick(BEHAVIOURS);
    switch (behaviour) {
      case "valid":
        socket.write(JSON.stringify(reply));
        break;
      case "mutated-json":
        socket.write(JSON.stringify(mutateJson(random, reply)));
        break;
      case "mutated-text":
        socket.write(mutateText(random, JSON.stringify(reply)));
        break;
      case "split-after-requests": {
        const before = [random.pick(SERVER_REQUESTS), random.pick(SERVER_REQUESTS)];
        const bytes = Buffer.from(
          before.map((item) => JSON.stringify(item)).join("") + JSON.stringify(reply),
        );
        let at = 0;
        while (at < bytes.length) {
          const size = 1 + random.below(30);
          socket.write(bytes.subarray(at, at + size));
          at += size;
        }
        break;
      }
      case "close":
        socket.destroy();
        break;
      case "truncate": {
        const text = JSON.stringify(reply);
        socket.end(text.slice(0, random.below(text.length)));
        break;
      }
      case "wrong-id":
        socket.write(JSON.stringify({ ...reply, id: 1_000_000 + random.below(1000) }));
        break;
      case "deep":
        socket.write(`{"id":${String(request.id)},"result":${"[".repeat(2000)}`);
        break;
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Errors that the OVSDB driver raises by design. */
function isDriverError(error: unknown): boolean {
  if (error instanceof OvsdbError || error instanceof OvsdbConnectionError) {
    return true;
  }
  // The column decoders raise TypeError with the column's name.
  return error instanceof TypeError && error.message.startsWith("column ");
}

test("OvsdbClient survives a hostile server", async () => {
  const server = await HostileServer.start();
  const outcomes = { resolved: 0, rejected: 0 };
  try {
    const rounds = await fuzzAsync(BUDGET_MS, async (random) => {
      server.random = random;
      const client = await OvsdbClient.connect(server.socketPath, { timeoutMs: REPLY_TIMEOUT_MS });
      try {
        const settled = await Promise.allSettled([
          readOvs(client, "br0"),
          client.monitor("Open_vSwitch", "m", { Bridge: { columns: ["name"] } }, () => undefined),
          client.transact("Open_vSwitch", [{ op: "comment", comment: "fuzz" }]),
        ]);
        for (const outcome of settled) {
          if (outcome.status === "fulfilled") {
            outcomes.resolved += 1;
            continue;
          }
          outcomes.rejected += 1;
          const error: unknown = outcome.reason;
          assert.ok(
            isDriverError(error),
            `seed ${random.seed}: rejected with ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
          );
        }
      } finally {
        client.close();
      }
    });
    assert.ok(rounds >= 20, `only ${rounds} rounds`);
    assert.ok(outcomes.resolved > 0, "no request succeeded, so the fake server is broken");
    assert.ok(outcomes.rejected > 0, "no request failed, so the mutations do nothing");
  } finally {
    await server.stop();
  }
});
