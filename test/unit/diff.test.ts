import assert from "node:assert/strict";
import { test } from "node:test";
import { describeSteps, diffFlows, diffHost } from "../../src/plan/diff.js";
import { PlanError, planHost } from "../../src/plan/host.js";
import { convergedHost, emptyHost, makeCluster, NETDEV_FACTS } from "./fixtures.js";

test("diffHost on an empty host orders the steps", () => {
  const desired = planHost(makeCluster(3, "flow"), "host0", NETDEV_FACTS);
  const steps = diffHost(desired, emptyHost());
  assert.deepEqual(
    steps.map((step) => step.kind),
    ["linux", "ovs", "flows", "linux"],
  );
  const [bridge, ovs, flows, rest] = steps;
  assert.equal(bridge?.kind === "linux" && bridge.changes[0]?.kind, "create-bridge");
  assert.equal(ovs?.kind === "ovs" && ovs.changes[0]?.kind, "create-bridge");
  assert.equal(flows?.kind === "flows" && flows.add.length, desired.flows.length);
  assert.ok(rest?.kind === "linux" && rest.changes.some((change) => change.kind === "set-master"));
});

test("diffHost on a converged host finds nothing", () => {
  for (const mode of ["flow", "port"] as const) {
    const desired = planHost(makeCluster(5, mode), "host2", NETDEV_FACTS);
    assert.deepEqual(diffHost(desired, convergedHost(desired)), [], mode);
  }
});

test("diffHost for a new peer in flow mode changes only rules", () => {
  const before = planHost(makeCluster(3, "flow"), "host0", NETDEV_FACTS);
  const after = planHost(makeCluster(4, "flow"), "host0", NETDEV_FACTS);
  const steps = diffHost(after, convergedHost(before));
  assert.equal(steps.length, 1);
  const [step] = steps;
  assert.ok(step?.kind === "flows");
  assert.equal(step.add.length, 4);
  assert.equal(step.remove.length, 0);
});

test("diffHost for a departed peer in port mode removes its port and rules", () => {
  const before = planHost(makeCluster(4, "port"), "host0", NETDEV_FACTS);
  const after = planHost(makeCluster(3, "port"), "host0", NETDEV_FACTS);
  const steps = diffHost(after, convergedHost(before));
  assert.deepEqual(
    steps.map((step) => step.kind),
    ["flows", "ovs"],
  );
  const [flows, ovs] = steps;
  assert.ok(ovs?.kind === "ovs");
  assert.deepEqual(ovs.changes, [{ kind: "remove-tunnel", bridge: "br0", name: "gre-c612000e" }]);
  assert.ok(flows?.kind === "flows");
  assert.equal(flows.remove.length, 5);
  assert.equal(flows.add.length, 0);
});

test("diffHost refuses a bridge that ovs-mesh did not create", () => {
  const desired = planHost(makeCluster(2, "flow"), "host0", NETDEV_FACTS);
  const actual = convergedHost(desired);
  assert.ok(actual.ovs.bridge);
  actual.ovs.bridge.managed = false;
  assert.throws(
    () => diffHost(desired, actual),
    (error: unknown) => {
      return (
        error instanceof PlanError &&
        /br0 exists but was not created by ovs-mesh/.test(error.message)
      );
    },
  );
});

test("diffHost refuses a Linux bridge name held by another device", () => {
  const desired = planHost(makeCluster(2, "flow"), "host0", NETDEV_FACTS);
  const actual = emptyHost();
  actual.linux.links.docker0 = {
    mtu: 1500,
    up: true,
    kind: "veth",
    master: undefined,
    addresses: [],
  };
  assert.throws(() => diffHost(desired, actual), /docker0 exists but is a veth device/);
});

test("diffHost restores a removed jump and a changed MTU", () => {
  const desired = planHost(makeCluster(2, "flow"), "host0", NETDEV_FACTS);
  const actual = convergedHost(desired);
  actual.linux.jumps.forward = false;
  const bridge = actual.linux.links.docker0;
  assert.ok(bridge);
  bridge.mtu = 1500;
  assert.deepEqual(describeSteps(diffHost(desired, actual)), [
    "link ~ docker0 mtu 1462",
    "iptables + filter FORWARD -j OVS-MESH-FORWARD",
  ]);
});

test("diffHost moves jumps that Docker pushed down", () => {
  const desired = planHost(makeCluster(2, "flow"), "host0", NETDEV_FACTS);
  const cases = [
    {
      jumpsFirst: { forward: false, postrouting: true },
      expected: ["iptables ~ filter FORWARD -j OVS-MESH-FORWARD (moved to rule 1)"],
    },
    {
      jumpsFirst: { forward: true, postrouting: false },
      expected: ["iptables ~ nat POSTROUTING -j OVS-MESH-POSTROUTING (moved to rule 1)"],
    },
    {
      jumpsFirst: { forward: false, postrouting: false },
      expected: [
        "iptables ~ filter FORWARD -j OVS-MESH-FORWARD (moved to rule 1)",
        "iptables ~ nat POSTROUTING -j OVS-MESH-POSTROUTING (moved to rule 1)",
      ],
    },
  ];
  for (const { jumpsFirst, expected } of cases) {
    const actual = convergedHost(desired);
    actual.linux.jumpsFirst = jumpsFirst;
    assert.deepEqual(
      describeSteps(diffHost(desired, actual)),
      expected,
      JSON.stringify(jumpsFirst),
    );
  }
});

test("diffHost adds a missing jump rather than moving it", () => {
  const desired = planHost(makeCluster(2, "flow"), "host0", NETDEV_FACTS);
  const actual = convergedHost(desired);
  actual.linux.jumps.postrouting = false;
  actual.linux.jumpsFirst.postrouting = false;
  const steps = diffHost(desired, actual);
  assert.deepEqual(steps, [
    {
      kind: "linux",
      changes: [
        { kind: "add-jump", table: "nat", from: "POSTROUTING", chain: "OVS-MESH-POSTROUTING" },
      ],
    },
  ]);
});

test("diffHost accepts a docker0 that Docker created", () => {
  const desired = planHost(makeCluster(2, "flow"), "host0", NETDEV_FACTS);
  const actual = emptyHost();
  // dockerd 20.10 creates docker0 with bip and mtu from daemon.json and brings it up.
  actual.linux.links.docker0 = {
    mtu: desired.linux.mtu,
    up: true,
    kind: "bridge",
    master: undefined,
    addresses: [desired.linux.address],
  };
  const [first] = diffHost(desired, actual);
  assert.equal(first?.kind, "ovs", "no change to docker0 itself comes first");
  const lines = describeSteps(diffHost(desired, actual));
  assert.equal(lines.filter((line) => line.includes("docker0 (Linux bridge)")).length, 0);
  assert.ok(lines.includes("link ~ br0 master docker0"));
});

test("diffFlows replaces a rule whose actions changed", () => {
  const flow = { table: 20, priority: 100, match: "ip,nw_dst=10.240.2.0/24", actions: "output:a" };
  const changed = { ...flow, actions: "output:b" };
  assert.deepEqual(diffFlows([changed], [flow]), { add: [changed], remove: [] });
  assert.deepEqual(diffFlows([flow], [flow]), { add: [], remove: [] });
});

test("diffFlows ignores the order of match fields", () => {
  const desired = {
    table: 10,
    priority: 100,
    match: "ip,tun_src=192.0.2.2,nw_src=10.240.2.0/24",
    actions: "LOCAL",
  };
  const dumped = { ...desired, match: "ip,nw_src=10.240.2.0/24,tun_src=192.0.2.2" };
  assert.deepEqual(diffFlows([desired], [dumped]), { add: [], remove: [] });
});

test("diffFlows adds and removes by table, priority and match", () => {
  const unchanged = {
    table: 20,
    priority: 100,
    match: "ip,nw_dst=10.240.2.0/24",
    actions: "output:a",
  };
  const added = { ...unchanged, match: "ip,nw_dst=10.240.3.0/24" };
  const removed = { ...unchanged, match: "ip,nw_dst=10.240.4.0/24" };
  const otherTable = { ...unchanged, table: 10 };
  const otherPriority = { ...unchanged, priority: 0 };
  const result = diffFlows([unchanged, added], [unchanged, removed, otherTable, otherPriority]);
  assert.deepEqual(result.add, [added]);
  assert.deepEqual(result.remove, [removed, otherTable, otherPriority]);
});

test("diffFlows removes every duplicate of a rule no longer desired", () => {
  const flow = { table: 20, priority: 100, match: "ip,nw_dst=10.240.2.0/24", actions: "output:a" };
  assert.deepEqual(diffFlows([], [flow, { ...flow }]), { add: [], remove: [flow, { ...flow }] });
});
