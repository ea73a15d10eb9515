import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { EtcdUnavailableError } from "../../src/store/etcd-errors.js";
import { EtcdStore } from "../../src/store/etcd.js";
import { startFixture, testSettings, type EtcdFixture } from "./etcd-fixture.js";

let fixture: EtcdFixture | undefined;

before(async () => {
  fixture = await startFixture({ tls: true });
});

after(async () => {
  await fixture?.teardown();
});

function etcd(): EtcdFixture {
  assert.ok(fixture, "etcd did not start");
  return fixture;
}

async function withStore<T>(
  tls: ConstructorParameters<typeof EtcdStore>[0]["tls"],
  body: (store: EtcdStore) => Promise<T>,
): Promise<T> {
  const store = new EtcdStore({ endpoints: etcd().cluster.endpoints, cluster: "tls", tls });
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

test("TLS: client with certificate works", async () => {
  const { cluster } = etcd();
  assert.match(cluster.endpoints[0] ?? "", /^https:\/\/127\.0\.0\.1:\d+$/);
  await withStore(cluster.tls, async (store) => {
    assert.equal(await store.create(testSettings()), "created");
    const host = await store.join({ name: "host0", underlayIp: "198.18.0.1", subnet: undefined });
    assert.equal(host.subnet, "10.240.0.0/24");
    await store.heartbeat("host0");
    const view = await store.load();
    assert.equal(view.hosts[0]?.alive, true);
  });
});

test("TLS: client without certificate rejected", async () => {
  const tls = etcd().cluster.tls;
  assert.ok(tls);
  await withStore({ ca: tls.ca, cert: undefined, key: undefined }, async (store) => {
    await assert.rejects(store.load(), (error: unknown) => {
      assert.ok(error instanceof EtcdUnavailableError);
      assert.match(error.message, /^no etcd endpoint responded: https:\/\/127\.0\.0\.1:\d+: /);
      assert.match(
        error.message,
        /pass a client certificate and key signed by a CA that the server trusts/,
      );
      return true;
    });
  });
});

test("TLS: client without CA rejected", async () => {
  await withStore(undefined, async (store) => {
    await assert.rejects(store.load(), (error: unknown) => {
      assert.ok(error instanceof EtcdUnavailableError);
      assert.match(
        error.message,
        /the server certificate is not signed by a trusted CA: pass the CA file that signed it/,
      );
      return true;
    });
  });
});

test("TLS: missing certificate file named", async () => {
  const tls = etcd().cluster.tls;
  assert.ok(tls);
  await withStore({ ...tls, cert: `${tls.cert}.absent` }, async (store) => {
    await assert.rejects(
      store.load(),
      /cannot read the etcd client certificate file .*client\.crt\.absent: ENOENT/,
    );
  });
});

test("TLS: plain HTTP rejected", async () => {
  const endpoint = (etcd().cluster.endpoints[0] ?? "").replace("https:", "http:");
  const store = new EtcdStore({ endpoints: [endpoint], cluster: "tls" });
  try {
    await assert.rejects(store.load(), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.ok(error instanceof EtcdUnavailableError);
      assert.equal(
        error.message,
        `no etcd endpoint responded: ${endpoint}: socket hang up (if the endpoint serves TLS, use an https:// URL for it)`,
      );
      return true;
    });
  } finally {
    await store.close();
  }
});
