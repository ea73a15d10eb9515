import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError } from "../../src/plan/cluster.js";
import { SubnetError } from "../../src/plan/ipam.js";
import { EtcdStore, type EtcdStoreOptions } from "../../src/store/etcd.js";
import { HostNotFoundError, JoinConflictError } from "../../src/store/errors.js";
import { ClusterNotFoundError } from "../../src/store/etcd-snapshot.js";
import { etcdctl, startFixture, testSettings, within, type EtcdFixture } from "./etcd-fixture.js";

let fixture: EtcdFixture | undefined;
const stores: EtcdStore[] = [];

before(async () => {
  fixture = await startFixture();
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

/** Opens a store for `cluster` that is closed after the file's tests. */
function open(cluster: string, options: Partial<EtcdStoreOptions> = {}): EtcdStore {
  const store = new EtcdStore({ endpoints: etcd().cluster.endpoints, cluster, ...options });
  stores.push(store);
  return store;
}

async function createCluster(cluster: string, range = "10.240.0.0/16"): Promise<EtcdStore> {
  const store = open(cluster);
  assert.equal(await store.create(testSettings({ range })), "created");
  return store;
}

function request(name: string, underlayIp: string, subnet?: string) {
  return { name, underlayIp, subnet };
}

test("EtcdStore.create is idempotent for equal settings", async () => {
  const store = await createCluster("create");
  assert.equal(await store.create(testSettings()), "unchanged");
  await assert.rejects(
    store.create(testSettings({ range: "10.241.0.0/16", tunnel: "vxlan" })),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.source, "etcd key /ovs-mesh/create/config");
      assert.deepEqual(
        error.problems.map((problem) => problem.path),
        ["range", "tunnel"],
      );
      assert.match(
        error.problems[0]?.message ?? "",
        /already exists with range "10.240.0.0\/16", not "10.241.0.0\/16"/,
      );
      return true;
    },
  );
});

test("EtcdStore.load of a missing cluster", async () => {
  await assert.rejects(open("absent").load(), (error: unknown) => {
    assert.ok(error instanceof ClusterNotFoundError);
    assert.match(
      error.message,
      /etcd has no key \/ovs-mesh\/absent\/config; create the cluster with 'ovs-mesh init'/,
    );
    return true;
  });
});

test("EtcdStore.join: 20 concurrent joins", async () => {
  await createCluster("concurrent");
  const joins = Array.from({ length: 20 }, (_, index) =>
    open("concurrent").join(request(`host${index}`, `198.18.0.${index + 1}`)),
  );
  const hosts = await Promise.all(joins);
  const subnets = hosts.map((host) => host.subnet);
  assert.equal(new Set(subnets).size, 20);
  // With no gaps left by failed claims, the 20 lowest subnets are the ones handed out.
  const expected = Array.from({ length: 20 }, (_, index) => `10.240.${index}.0/24`);
  assert.deepEqual([...subnets].sort(), [...expected].sort());

  const view = await open("concurrent").load();
  assert.equal(view.hosts.length, 20);
  assert.deepEqual(view.problems, []);
  for (const host of hosts) {
    const owner = await etcdctl(
      etcd().cluster,
      "get",
      "--print-value-only",
      `/ovs-mesh/concurrent/subnets/${host.subnet.replace("/", "_")}`,
    );
    assert.equal(owner.trim(), host.name);
  }
});

test("EtcdStore.join again keeps the subnet", async () => {
  const store = await createCluster("rejoin");
  const first = await store.join(request("host0", "198.18.0.1"));
  await store.join(request("host1", "198.18.0.2"));
  const again = await open("rejoin").join(request("host0", "198.18.0.1"));
  assert.deepEqual(again, first);

  const moved = await store.join(request("host0", "198.18.0.9"));
  assert.deepEqual(moved, { ...first, underlayIp: "198.18.0.9" });
  const view = await store.load();
  const host0 = view.hosts.find((host) => host.name === "host0");
  assert.equal(host0?.underlayIp, "198.18.0.9");
  assert.equal(host0?.subnet, first.subnet);
  assert.equal(view.hosts.length, 2);
});

test("EtcdStore.join of a taken requested subnet fails", async () => {
  const store = await createCluster("requested");
  await store.join(request("host0", "198.18.0.1", "10.240.7.0/24"));
  await assert.rejects(
    store.join(request("host1", "198.18.0.2", "10.240.7.0/24")),
    (error: unknown) => {
      assert.ok(error instanceof JoinConflictError);
      assert.equal(
        error.message,
        "cannot join host host1: subnet 10.240.7.0/24 is owned by host host0; pick another subnet or let ovs-mesh choose one",
      );
      return true;
    },
  );
  await assert.rejects(
    store.join(request("host1", "198.18.0.2", "10.99.0.0/24")),
    /outside the cluster range 10.240.0.0\/16/,
  );
  await assert.rejects(
    store.join(request("host0", "198.18.0.1", "10.240.8.0/24")),
    /host host0 already owns subnet 10.240.7.0\/24/,
  );
  await assert.rejects(
    store.join(request("host2", "198.18.0.1")),
    /underlay IP 198.18.0.1 is used by host host0/,
  );
  const free = await store.join(request("host1", "198.18.0.2", "10.240.8.0/24"));
  assert.equal(free.subnet, "10.240.8.0/24");
});

test("EtcdStore.leave frees the subnet", async () => {
  const store = await createCluster("leave");
  const host = await store.join(request("host0", "198.18.0.1"));
  await store.heartbeat("host0");
  await store.leave("host0");

  const keys = await etcdctl(etcd().cluster, "get", "--prefix", "--keys-only", "/ovs-mesh/leave/");
  assert.deepEqual(
    keys.split("\n").filter((line) => line !== ""),
    ["/ovs-mesh/leave/config"],
  );
  const next = await store.join(request("host1", "198.18.0.2", host.subnet));
  assert.equal(next.subnet, host.subnet);
  await assert.rejects(store.leave("host0"), (error: unknown) => {
    assert.ok(error instanceof HostNotFoundError);
    assert.match(error.message, /host "host0" not found in cluster leave/);
    return true;
  });
});

test("EtcdStore.load skips garbage host records", async () => {
  const store = await createCluster("garbage");
  await store.join(request("host0", "198.18.0.1"));
  await etcdctl(etcd().cluster, "put", "/ovs-mesh/garbage/hosts/junk", "not json {");
  const outside = {
    name: "outside",
    underlayIp: "198.18.0.5",
    subnet: "10.99.0.0/24",
    joinedAt: 1,
    version: 1,
  };
  await etcdctl(etcd().cluster, "put", "/ovs-mesh/garbage/hosts/outside", JSON.stringify(outside));
  const unclaimed = {
    name: "unclaimed",
    underlayIp: "198.18.0.6",
    subnet: "10.240.50.0/24",
    joinedAt: 1,
    version: 1,
  };
  await etcdctl(
    etcd().cluster,
    "put",
    "/ovs-mesh/garbage/hosts/unclaimed",
    JSON.stringify(unclaimed),
  );
  await etcdctl(etcd().cluster, "put", "/ovs-mesh/garbage/subnets/10.240.60.0_24", "Not A Host");

  const view = await store.load();
  assert.deepEqual(
    view.hosts.map((host) => host.name),
    ["host0"],
  );
  const problems = new Map(view.problems.map((problem) => [problem.key, problem.message]));
  assert.deepEqual([...problems.keys()].sort(), [
    "/ovs-mesh/garbage/hosts/junk",
    "/ovs-mesh/garbage/hosts/outside",
    "/ovs-mesh/garbage/hosts/unclaimed",
    "/ovs-mesh/garbage/subnets/10.240.60.0_24",
  ]);
  assert.match(problems.get("/ovs-mesh/garbage/hosts/junk") ?? "", /^\(value\): invalid JSON/);
  assert.match(problems.get("/ovs-mesh/garbage/hosts/outside") ?? "", /outside the cluster range/);
  assert.match(
    problems.get("/ovs-mesh/garbage/hosts/unclaimed") ?? "",
    /subnet 10.240.50.0\/24 has no valid owner/,
  );
  assert.match(problems.get("/ovs-mesh/garbage/subnets/10.240.60.0_24") ?? "", /invalid owner/);

  // A subnet key with an invalid owner still blocks its subnet, and a join replaces a
  // garbage record of the same name.
  const junk = await store.join(request("junk", "198.18.0.7", undefined));
  assert.equal(junk.subnet, "10.240.1.0/24");
  await assert.rejects(
    store.join(request("other", "198.18.0.8", "10.240.60.0/24")),
    /owned by an invalid owner/,
  );
  const names = (await store.load()).hosts.map((host) => host.name);
  assert.deepEqual(names, ["host0", "junk"]);
});

test("EtcdStore.load rejects garbage settings", async () => {
  await etcdctl(
    etcd().cluster,
    "put",
    "/ovs-mesh/badconfig/config",
    '{"range": "10.240.0.0/33", "tunnel": "ipip"}',
  );
  await assert.rejects(open("badconfig").load(), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.source, "etcd key /ovs-mesh/badconfig/config");
    assert.deepEqual(error.problems.map((problem) => problem.path).sort(), ["range", "tunnel"]);
    return true;
  });
  await etcdctl(etcd().cluster, "put", "/ovs-mesh/badconfig/config", "{{{");
  await assert.rejects(
    open("badconfig").load(),
    /invalid configuration in etcd key \/ovs-mesh\/badconfig\/config:\n {2}\(value\): invalid JSON/,
  );
});

test("EtcdStore.watch fires on changes only", async () => {
  const store = await createCluster("watch");
  await store.join(request("host0", "198.18.0.1"));
  await store.load();

  let changes = 0;
  const errors: Error[] = [];
  let changed: () => void = () => undefined;
  const stop = store.watch(
    () => {
      changes += 1;
      changed();
    },
    (error) => errors.push(error),
  );
  try {
    // Written before the watch is set up, and still reported: it starts after the last load.
    const first = new Promise<void>((resolve) => {
      changed = resolve;
    });
    await open("watch").join(request("host1", "198.18.0.2"));
    assert.ok(await within(first, 5000), "no change reported after a join");

    const countBefore = changes;
    await store.heartbeat("host0");
    await sleep(500);
    assert.equal(changes, countBefore);

    const second = new Promise<void>((resolve) => {
      changed = resolve;
    });
    await open("watch").leave("host1");
    assert.ok(await within(second, 5000), "no change reported after a leave");
    assert.deepEqual(errors, []);
  } finally {
    stop();
  }
});

test("EtcdStore.heartbeat marks the host alive", async () => {
  const store = await createCluster("heartbeat");
  await store.join(request("host0", "198.18.0.1"));
  await store.join(request("host1", "198.18.0.2"));
  const before = Date.now();
  await store.heartbeat("host0");

  const view = await store.load();
  const [host0, host1] = view.hosts;
  assert.equal(host0?.alive, true);
  assert.ok((host0?.lastSeen ?? 0) >= before);
  assert.equal(host1?.alive, false);
  assert.equal(host1?.reservationExpired, false);
  await assert.rejects(store.heartbeat("ghost"), HostNotFoundError);
});

test("EtcdStore: alive key expires", async () => {
  const store = await createCluster("lease");
  await store.join(request("host0", "198.18.0.1"));
  const short = open("lease", { heartbeatSeconds: 1 });
  await short.heartbeat("host0");
  assert.equal((await store.load()).hosts[0]?.alive, true);
  await short.heartbeat("host0");

  // Lease TTL is 3 heartbeats = 3 s; etcd checks expiry every 500 ms.
  const deadline = Date.now() + 10_000;
  let alive = true;
  while (alive && Date.now() < deadline) {
    await sleep(500);
    alive = (await store.load()).hosts[0]?.alive ?? false;
  }
  assert.equal(alive, false);
  const host0 = (await store.load()).hosts[0];
  assert.equal(host0?.reservationExpired, false);
  assert.notEqual(host0?.lastSeen, undefined);
});

test("EtcdStore.join reclaims an expired reservation", async () => {
  // Two /24 subnets in a /23.
  await createCluster("reserve", "10.250.0.0/23");
  const leased = open("reserve", { reservationSeconds: 2 });
  const a = await leased.join(request("host-a", "198.18.0.1"));
  const b = await open("reserve").join(request("host-b", "198.18.0.2"));
  assert.notEqual(a.subnet, b.subnet);

  const deadline = Date.now() + 15_000;
  let expired = false;
  while (!expired && Date.now() < deadline) {
    await sleep(500);
    const view = await open("reserve").load();
    expired = view.hosts.find((host) => host.name === "host-a")?.reservationExpired ?? false;
  }
  assert.ok(expired, "the reservation of host-a did not expire");

  const c = await open("reserve").join(request("host-c", "198.18.0.3"));
  assert.equal(c.subnet, a.subnet);
  const names = (await open("reserve").load()).hosts.map((host) => host.name);
  assert.deepEqual(names, ["host-b", "host-c"]);
  await assert.rejects(open("reserve").join(request("host-d", "198.18.0.4")), (error: unknown) => {
    assert.ok(error instanceof SubnetError);
    assert.match(error.message, /cluster range 10.250.0.0\/23 is full/);
    return true;
  });
});
