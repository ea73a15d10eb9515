import assert from "node:assert/strict";
import { test } from "node:test";
import { TABLE_CLASSIFY, TABLE_EGRESS, TABLE_INGRESS } from "../../src/plan/flows.js";
import { PlanError, chooseDatapath, planHost } from "../../src/plan/host.js";
import type { Flow } from "../../src/plan/state.js";
import { makeCluster, NETDEV_FACTS } from "./fixtures.js";

const inTable = (flows: Flow[], table: number) => flows.filter((flow) => flow.table === table);

for (const mode of ["flow", "port"] as const) {
  for (const count of [2, 3, 50]) {
    test(`planHost ${mode} mode with ${count} hosts`, () => {
      const cluster = makeCluster(count, mode);
      const desired = planHost(cluster, "host1", NETDEV_FACTS);
      const peers = count - 1;

      assert.equal(desired.subnet, "10.240.2.0/24");
      assert.equal(desired.innerMtu, 1462);
      assert.equal(desired.datapath, "netdev");
      assert.equal(desired.ovs.failMode, "secure");
      assert.equal(desired.ovs.tunnels.length, mode === "flow" ? 1 : peers);
      assert.equal(desired.linux.address, "10.240.2.1/24");
      assert.equal(desired.linux.route, "10.240.0.0/16");

      const classify = inTable(desired.flows, TABLE_CLASSIFY);
      const ingress = inTable(desired.flows, TABLE_INGRESS);
      const egress = inTable(desired.flows, TABLE_EGRESS);
      assert.equal(classify.length, mode === "flow" ? 3 : peers + 2);
      assert.equal(ingress.length, 2 * peers + 1);
      assert.equal(egress.length, 2 * peers + 1);
      assert.equal(desired.flows.length, classify.length + ingress.length + egress.length);
    });
  }
}

test("planHost ingress never sends into a tunnel", () => {
  for (const mode of ["flow", "port"] as const) {
    const desired = planHost(makeCluster(3, mode), "host0", NETDEV_FACTS);
    for (const flow of inTable(desired.flows, TABLE_INGRESS)) {
      assert.ok(["LOCAL", "drop"].includes(flow.actions), `${mode}: ${flow.actions}`);
    }
  }
});

test("planHost egress only carries the own subnet", () => {
  const desired = planHost(makeCluster(3, "flow"), "host0", NETDEV_FACTS);
  for (const flow of inTable(desired.flows, TABLE_EGRESS)) {
    if (flow.priority === 0) {
      assert.equal(flow.actions, "drop");
      continue;
    }
    assert.match(flow.match, /(nw_src|arp_spa)=10\.240\.1\.0\/24/);
  }
});

test("planHost flow mode sets tun_dst per peer", () => {
  const desired = planHost(makeCluster(3, "flow"), "host0", NETDEV_FACTS);
  const toHost2 = desired.flows.find(
    (flow) => flow.table === TABLE_EGRESS && flow.match.includes("nw_dst=10.240.3.0/24"),
  );
  assert.deepEqual(toHost2, {
    table: TABLE_EGRESS,
    priority: 100,
    match: "ip,nw_src=10.240.1.0/24,nw_dst=10.240.3.0/24",
    actions: "set_field:198.18.0.13->tun_dst,output:gre-flow",
  });
  const fromHost2 = desired.flows.find(
    (flow) => flow.table === TABLE_INGRESS && flow.match.includes("nw_src=10.240.3.0/24"),
  );
  assert.deepEqual(fromHost2, {
    table: TABLE_INGRESS,
    priority: 100,
    match: "ip,tun_src=198.18.0.13,nw_src=10.240.3.0/24",
    actions: "LOCAL",
  });
});

test("planHost port mode names ports after the peer address", () => {
  const desired = planHost(makeCluster(3, "port"), "host0", NETDEV_FACTS);
  assert.deepEqual(
    desired.ovs.tunnels.map((port) => [
      port.name,
      port.options.remote_ip,
      port.peer,
      port.bfd.enable,
    ]),
    [
      ["gre-c612000c", "198.18.0.12", "host1", "true"],
      ["gre-c612000d", "198.18.0.13", "host2", "true"],
    ],
  );
});

test("planHost uses the configured underlay MTU over the detected one", () => {
  const cluster = { ...makeCluster(2, "flow"), tunnel: "vxlan" as const, underlayMtu: 9000 };
  assert.equal(planHost(cluster, "host0", NETDEV_FACTS).innerMtu, 8950);
});

test("planHost rejects a host that is not a member", () => {
  assert.throws(
    () => planHost(makeCluster(2, "flow"), "host9", NETDEV_FACTS),
    (error: unknown) =>
      error instanceof PlanError && /"host9" is not a member .*host0, host1/.test(error.message),
  );
});

test("planHost rejects a detected underlay MTU that is too small", () => {
  assert.throws(
    () =>
      planHost(makeCluster(2, "flow"), "host0", { datapathTypes: ["netdev"], underlayMtu: 600 }),
    (error: unknown) => error instanceof PlanError && /inner MTU of 562/.test(error.message),
  );
});

test("chooseDatapath prefers system and falls back to netdev", () => {
  assert.equal(chooseDatapath("auto", ["netdev", "system"]), "system");
  assert.equal(chooseDatapath("auto", ["netdev"]), "netdev");
  assert.equal(chooseDatapath("netdev", ["netdev", "system"]), "netdev");
  assert.throws(() => chooseDatapath("system", ["netdev"]), /datapath system is not available/);
  assert.throws(() => chooseDatapath("auto", []), PlanError);
});

test("planHost for 50 hosts puts every peer in the pipeline", () => {
  const cluster = makeCluster(50, "flow");
  const desired = planHost(cluster, "host0", NETDEV_FACTS);
  for (const peer of cluster.hosts.slice(1)) {
    const rules = desired.flows.filter((flow) => flow.match.includes(peer.subnet));
    assert.equal(rules.length, 4, peer.name);
  }
});
