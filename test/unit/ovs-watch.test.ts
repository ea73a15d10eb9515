import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { LogFields, Logger } from "../../src/agent/log.js";
import { OvsWatch } from "../../src/agent/ovs-watch.js";

/** A logger that keeps the events, so that the test output stays clean. */
function memoryLogger(events: LogFields[]): Logger {
  return {
    info: (fields) => events.push(fields),
    warn: (fields) => events.push(fields),
    error: (fields) => events.push(fields),
  };
}

/** Runs `body` with a unix socket that accepts connections and records them. */
async function withServer(
  body: (dir: string, socketPath: string, sockets: Socket[]) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "omt-ovs-watch-"));
  const socketPath = join(dir, "db.sock");
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    // The client may close first; its write errors are expected here.
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  try {
    await body(dir, socketPath, sockets);
  } finally {
    for (const socket of sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

test("OvsWatch connects to nothing when the watch fails", () =>
  withServer(async (dir, socketPath, sockets) => {
    const watch = new OvsWatch(socketPath, join(dir, "missing"), memoryLogger([]), () => undefined);
    assert.throws(() => watch.start(), /ENOENT/);
    await sleep(200);
    watch.stop();
    assert.equal(sockets.length, 0);
  }));

test("OvsWatch closes a connection made after stop", () =>
  withServer(async (dir, socketPath, sockets) => {
    const watch = new OvsWatch(socketPath, dir, memoryLogger([]), () => undefined);
    watch.start();
    watch.stop();
    await sleep(200);
    assert.equal(sockets.length, 1, "the connection attempt did not reach the server");
    assert.equal(sockets[0]?.closed || sockets[0]?.readableEnded, true, "connection left open");
  }));
