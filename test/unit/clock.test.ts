import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { measureClockSkew } from "../../src/host/doctor/clock.js";

/** Serves /version on 127.0.0.1 with a Date header `offsetMs` away from this clock. */
async function fakeEtcd(offsetMs: number | undefined): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (offsetMs !== undefined) {
      headers.date = new Date(Date.now() + offsetMs).toUTCString();
    }
    response.sendDate = false;
    response.writeHead(request.url === "/version" ? 200 : 404, headers);
    response.end('{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

for (const offsetMs of [0, 90_000, -45_000]) {
  test(`measureClockSkew finds an offset of ${offsetMs} ms`, async () => {
    const { server, url } = await fakeEtcd(offsetMs);
    try {
      const skew = await measureClockSkew(url, undefined);
      assert.equal(skew.endpoint, url);
      assert.ok(skew.uncertaintyMs >= 500, `uncertainty ${skew.uncertaintyMs} ms`);
      assert.ok(skew.uncertaintyMs < 1500, `uncertainty ${skew.uncertaintyMs} ms`);
      assert.ok(
        Math.abs(skew.offsetMs - offsetMs) <= skew.uncertaintyMs,
        `measured ${skew.offsetMs} ms, expected ${offsetMs} ms ± ${skew.uncertaintyMs}`,
      );
    } finally {
      server.close();
    }
  });
}

test("measureClockSkew rejects a response without Date", async () => {
  const { server, url } = await fakeEtcd(undefined);
  try {
    await assert.rejects(measureClockSkew(url, undefined), /returned no valid Date header/);
  } finally {
    server.close();
  }
});

test("measureClockSkew reports an unreachable endpoint", async () => {
  const { server, url } = await fakeEtcd(0);
  server.close();
  await new Promise((resolve) => server.once("close", resolve));
  await assert.rejects(
    measureClockSkew(url, undefined),
    /GET http:\/\/127\.0\.0\.1:\d+\/version failed/,
  );
});
