import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { EtcdStore } from "../../src/store/etcd.js";
import { startFixture, testSettings, within, type EtcdFixture } from "./etcd-fixture.js";

let fixture: EtcdFixture | undefined;
const stores: EtcdStore[] = [];

before(async () => {
  fixture = await startFixture({ members: 3 });
});

after(async () => {
  for (const store of stores) {
    await store.close();
  }
  await fixture?.teardown();
});

function etcd(): EtcdFixture {
  assert.ok(fixture, "etcd did not start");
  return fixture;
}

function open(): EtcdStore {
  const store = new EtcdStore({
    endpoints: etcd().cluster.endpoints,
    cluster: "three",
    requestTimeoutMs: 3000,
  });
  stores.push(store);
  return store;
}

test("3 members: one stopped member tolerated", async () => {
  const { cluster } = etcd();
  assert.equal(cluster.endpoints.length, 3);
  assert.equal(await open().create(testSettings()), "created");
  await open().join({ name: "host0", underlayIp: "198.18.0.1", subnet: undefined });

  // The first endpoint is the one every client tries first.
  await cluster.stopMember(0);
  try {
    const joins = Array.from({ length: 5 }, (_, index) =>
      open().join({
        name: `host${index + 1}`,
        underlayIp: `198.18.0.${index + 2}`,
        subnet: undefined,
      }),
    );
    const hosts = await Promise.all(joins);
    assert.equal(new Set(hosts.map((host) => host.subnet)).size, 5);
    const view = await open().load();
    assert.equal(view.hosts.length, 6);
    assert.deepEqual(view.problems, []);
    await open().heartbeat("host1");
  } finally {
    await cluster.startMember(0);
  }
  assert.equal((await open().load()).hosts.length, 6);
});

test("3 members: watch reconnects after stop", async () => {
  const { cluster } = etcd();
  // A restarted member may reject requests for a moment; wait until member 0 serves reads,
  // so that the watched store below connects to it first.
  const first = new EtcdStore({ endpoints: cluster.endpoints.slice(0, 1), cluster: "three" });
  stores.push(first);
  const deadline = Date.now() + 15_000;
  let ready = false;
  let lastError: unknown;
  while (!ready && Date.now() < deadline) {
    try {
      await first.load();
      ready = true;
    } catch (error) {
      lastError = error;
      await sleep(200);
    }
  }
  assert.ok(ready, `member 0 did not serve reads after its restart: ${String(lastError)}`);

  const store = open();
  await store.load();
  const errors: Error[] = [];
  let changed: () => void = () => undefined;
  let failed: () => void = () => undefined;
  const stop = store.watch(
    () => changed(),
    (error) => {
      errors.push(error);
      failed();
    },
  );
  try {
    // A change seen proves that the watch stream is open, through member 0.
    const established = new Promise<void>((resolve) => {
      changed = resolve;
    });
    await open().join({ name: "early", underlayIp: "198.18.0.49", subnet: undefined });
    assert.ok(await within(established, 5000), "the watch did not report a change");

    const lost = new Promise<void>((resolve) => {
      failed = resolve;
    });
    await cluster.stopMember(0);
    assert.ok(await within(lost, 10_000), "the watch did not report the lost member");
    assert.match(
      errors[0]?.message ?? "",
      /etcd closed the watch stream|ECONNRESET|socket hang up/,
    );

    const change = new Promise<void>((resolve) => {
      changed = resolve;
    });
    await open().join({ name: "late", underlayIp: "198.18.0.50", subnet: undefined });
    assert.ok(await within(change, 15_000), "the watch did not report a change after reconnecting");
  } finally {
    stop();
    await cluster.startMember(0);
  }
});
