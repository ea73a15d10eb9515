import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { run } from "../../src/host/exec.js";
import {
  OvsApplyTimeoutError,
  OvsChangeError,
  applyOvs,
  readInterfaceStats,
  readOvs,
  removeManaged,
} from "../../src/host/ovs.js";
import { OvsdbClient } from "../../src/host/ovsdb.js";
import type { BridgeSettings, OvsActual, OvsChange, TunnelPort } from "../../src/plan/state.js";
import { createNetns, deleteNetns, startOvsInstance, type OvsInstance } from "./ovs-instance.js";

// Tunnel endpoints are documentation addresses (RFC 5737). The namespace has no route to them,
// so BFD and tunnel traffic never leave it.
const BRIDGE: BridgeSettings = {
  bridge: "br0",
  datapathType: "netdev",
  failMode: "secure",
  internalMtu: 1400,
};
const FLOW_PORT: TunnelPort = {
  name: "gre-flow",
  type: "gre",
  options: { remote_ip: "flow" },
  bfd: {},
  peer: undefined,
};
const PEER1_PORT: TunnelPort = {
  name: "gre-c6336402",
  type: "gre",
  options: { remote_ip: "198.51.100.2" },
  bfd: { enable: "true" },
  peer: "host1",
};
const PEER2_PORT: TunnelPort = {
  name: "vxlan-c6336403",
  type: "vxlan",
  options: { remote_ip: "198.51.100.3" },
  bfd: { enable: "true", min_rx: "500" },
  peer: "host2",
};

let netns: string | undefined;
let ovs: OvsInstance | undefined;
let client: OvsdbClient | undefined;

before(async () => {
  netns = await createNetns();
  ovs = await startOvsInstance(netns);
  client = await OvsdbClient.connect(ovs.dbSocket, { timeoutMs: 10_000 });
});

after(async () => {
  client?.close();
  try {
    await ovs?.stop();
  } finally {
    if (netns !== undefined) {
      await deleteNetns(netns);
    }
  }
});

function connection(): OvsdbClient {
  assert.ok(client !== undefined, "the OVS instance did not start");
  return client;
}

/** Runs ovs-vsctl against the test instance and returns its trimmed output. */
async function vsctl(...args: string[]): Promise<string> {
  assert.ok(ovs !== undefined, "the OVS instance did not start");
  const { stdout } = await run(["ovs-vsctl", `--db=unix:${ovs.dbSocket}`, "--timeout=10", ...args]);
  return stdout.trim();
}

function expectedState(tunnels: TunnelPort[], settings = BRIDGE, foreignPorts: string[] = []) {
  const expected: OvsActual = {
    datapathTypes: ["netdev"],
    bridge: { ...settings, managed: true },
    tunnels: [...tunnels].sort((a, b) => (a.name < b.name ? -1 : 1)),
    foreignPorts,
  };
  return expected;
}

test("readOvs finds no bridge in a new database", async () => {
  assert.deepEqual(await readOvs(connection(), "br0"), {
    datapathTypes: ["netdev"],
    bridge: undefined,
    tunnels: [],
    foreignPorts: [],
  });
});

test("applyOvs creates the bridge and tunnels in one transaction", async () => {
  const ovsdb = connection();
  const requestsBefore = ovsdb.requestCount;

  await applyOvs(ovsdb, [
    { kind: "create-bridge", ...BRIDGE },
    { kind: "add-tunnel", bridge: "br0", port: FLOW_PORT },
    { kind: "add-tunnel", bridge: "br0", port: PEER1_PORT },
    { kind: "add-tunnel", bridge: "br0", port: PEER2_PORT },
  ]);

  // One transaction, and one request that waits for ovs-vswitchd.
  assert.equal(ovsdb.requestCount - requestsBefore, 2);
  // ovs-vswitchd has numbered the ports already, so OpenFlow rules can name them.
  for (const name of ["br0", FLOW_PORT.name, PEER1_PORT.name, PEER2_PORT.name]) {
    const ofport = Number(await vsctl("get", "Interface", name, "ofport"));
    assert.ok(ofport > 0, `${name} has ofport ${ofport}`);
  }
  assert.equal(await vsctl("get", "Bridge", "br0", "protocols"), "[OpenFlow10, OpenFlow13]");
  assert.equal(await vsctl("get", "Bridge", "br0", "fail_mode"), "secure");
  assert.equal(await vsctl("get", "Interface", "br0", "type"), "internal");
  assert.equal(await vsctl("get", "Interface", "br0", "mtu"), "1400");
  assert.equal(await vsctl("get", "Port", PEER1_PORT.name, "external_ids:ovs-mesh-peer"), "host1");
});

test("readOvs returns exactly what applyOvs created", async () => {
  const actual = await readOvs(connection(), "br0");

  assert.deepEqual(actual, expectedState([FLOW_PORT, PEER1_PORT, PEER2_PORT]));
});

test("applyOvs with no changes sends nothing", async () => {
  const ovsdb = connection();
  const requestsBefore = ovsdb.requestCount;

  await applyOvs(ovsdb, []);

  assert.equal(ovsdb.requestCount, requestsBefore);
  assert.deepEqual(await readOvs(ovsdb, "br0"), expectedState([FLOW_PORT, PEER1_PORT, PEER2_PORT]));
});

test("applyOvs of the current settings changes nothing", async () => {
  const ovsdb = connection();

  await applyOvs(ovsdb, [
    { kind: "update-bridge", ...BRIDGE },
    { kind: "update-tunnel", bridge: "br0", port: PEER1_PORT },
  ]);

  assert.deepEqual(await readOvs(ovsdb, "br0"), expectedState([FLOW_PORT, PEER1_PORT, PEER2_PORT]));
});

test("applyOvs updates the bridge and a tunnel", async () => {
  const ovsdb = connection();
  const settings = { ...BRIDGE, internalMtu: 1350 };
  const peer1: TunnelPort = {
    ...PEER1_PORT,
    options: { remote_ip: "198.51.100.12" },
    bfd: {},
    peer: "host1-new",
  };

  await applyOvs(ovsdb, [
    { kind: "update-bridge", ...settings },
    { kind: "update-tunnel", bridge: "br0", port: peer1 },
  ]);

  assert.deepEqual(
    await readOvs(ovsdb, "br0"),
    expectedState([FLOW_PORT, peer1, PEER2_PORT], settings),
  );
  assert.equal(await vsctl("get", "Interface", "br0", "mtu"), "1350");

  await applyOvs(ovsdb, [
    { kind: "update-bridge", ...BRIDGE },
    { kind: "update-tunnel", bridge: "br0", port: PEER1_PORT },
  ]);
  assert.deepEqual(await readOvs(ovsdb, "br0"), expectedState([FLOW_PORT, PEER1_PORT, PEER2_PORT]));
});

test("applyOvs removes a tunnel", async () => {
  const ovsdb = connection();

  await applyOvs(ovsdb, [{ kind: "remove-tunnel", bridge: "br0", name: PEER2_PORT.name }]);

  assert.deepEqual(await readOvs(ovsdb, "br0"), expectedState([FLOW_PORT, PEER1_PORT]));
  assert.equal(await vsctl("list-ports", "br0"), `${PEER1_PORT.name}\n${FLOW_PORT.name}`);
  // Port and Interface rows go with the last reference to them.
  assert.equal(await vsctl("--columns=name", "find", "Interface", `name=${PEER2_PORT.name}`), "");
});

test("applyOvs ignores the removal of a missing tunnel", async () => {
  const ovsdb = connection();

  await applyOvs(ovsdb, [{ kind: "remove-tunnel", bridge: "br0", name: "gre-missing" }]);

  assert.deepEqual(await readOvs(ovsdb, "br0"), expectedState([FLOW_PORT, PEER1_PORT]));
});

test("readInterfaceStats reports counters and BFD state", async () => {
  const stats = await readInterfaceStats(connection(), [PEER1_PORT.name, FLOW_PORT.name, "nope"]);

  assert.deepEqual(Object.keys(stats).sort(), [FLOW_PORT.name, PEER1_PORT.name].sort());
  const peer1 = stats[PEER1_PORT.name];
  assert.ok(peer1 !== undefined);
  assert.equal(typeof peer1.rxPackets, "number");
  assert.equal(typeof peer1.txBytes, "number");
  // BFD runs, but no BFD peer replies from the documentation address.
  assert.equal(peer1.bfdStatus.state, "down");
  assert.deepEqual(stats[FLOW_PORT.name]?.bfdStatus, {});
});

test("readOvs reports foreign ports and bridges", async () => {
  const ovsdb = connection();
  await vsctl("add-port", "br0", "foreign0", "--", "set", "Interface", "foreign0", "type=internal");
  await vsctl("add-br", "br-foreign", "--", "set", "Bridge", "br-foreign", "datapath_type=netdev");

  const own = await readOvs(ovsdb, "br0");
  const foreign = await readOvs(ovsdb, "br-foreign");

  assert.deepEqual(own, expectedState([FLOW_PORT, PEER1_PORT], BRIDGE, ["foreign0"]));
  assert.deepEqual(foreign.bridge, {
    bridge: "br-foreign",
    datapathType: "netdev",
    failMode: "",
    internalMtu: 0,
    managed: false,
  });
  assert.deepEqual(foreign.tunnels, []);
  assert.deepEqual(foreign.foreignPorts, []);
});

/** Changes to objects without ovs-mesh's mark, with the message each one must fail with. */
const REJECTED_CHANGES: { name: string; change: OvsChange; message: string }[] = [
  {
    name: "update-bridge of a foreign bridge",
    change: { kind: "update-bridge", ...BRIDGE, bridge: "br-foreign" },
    message: "update-bridge: bridge br-foreign is missing or not managed by ovs-mesh",
  },
  {
    name: "add-tunnel to a foreign bridge",
    change: { kind: "add-tunnel", bridge: "br-foreign", port: { ...FLOW_PORT, name: "gre-x" } },
    message:
      "add-tunnel: bridge br-foreign is missing or not managed by ovs-mesh, " +
      "so ovs-mesh adds no port to it",
  },
  {
    name: "update-tunnel of a foreign port",
    change: { kind: "update-tunnel", bridge: "br0", port: { ...FLOW_PORT, name: "foreign0" } },
    message: "update-tunnel: port foreign0 is missing or not managed by ovs-mesh",
  },
  {
    name: "remove-tunnel of a foreign port",
    change: { kind: "remove-tunnel", bridge: "br0", name: "foreign0" },
    message:
      "remove-tunnel: port foreign0 is not managed by ovs-mesh (its external_ids lack ovs-mesh=managed); " +
      "ovs-mesh changes only what it created",
  },
  {
    name: "remove-bridge of a foreign bridge",
    change: { kind: "remove-bridge", bridge: "br-foreign" },
    message:
      "remove-bridge: bridge br-foreign is not managed by ovs-mesh (its external_ids lack ovs-mesh=managed); " +
      "ovs-mesh changes only what it created",
  },
  {
    name: "remove-bridge of a bridge with a foreign port",
    change: { kind: "remove-bridge", bridge: "br0" },
    message:
      "remove-bridge: bridge br0 contains ports that ovs-mesh did not create (foreign0); " +
      "move or delete them before removing the bridge",
  },
];

for (const { name, change, message } of REJECTED_CHANGES) {
  test(`applyOvs rejects ${name}`, async () => {
    const ovsdb = connection();
    const before = await vsctl("show");
    // A valid change in the same list proves that nothing of the transaction is committed.
    const valid: OvsChange = { kind: "add-tunnel", bridge: "br0", port: PEER2_PORT };

    await assert.rejects(applyOvs(ovsdb, [valid, change]), (error: unknown) => {
      assert.ok(error instanceof OvsChangeError);
      assert.equal(error.message, message);
      assert.deepEqual(error.change, change);
      return true;
    });
    assert.equal(await vsctl("show"), before);
  });
}

test("applyOvs reports a name that is already taken", async () => {
  const port = { ...FLOW_PORT, name: "foreign0" };

  // OVSDB checks unique names at commit, so the error names the row but not the change.
  await assert.rejects(applyOvs(connection(), [{ kind: "add-tunnel", bridge: "br0", port }]), {
    name: "OvsdbError",
    message: new RegExp(
      "^OVSDB transaction on Open_vSwitch failed at commit: constraint violation: " +
        '.*"Interface" table .*\\(foreign0\\)',
    ),
  });
});

test("removeManaged removes only marked objects", async () => {
  const ovsdb = connection();
  await applyOvs(ovsdb, [
    { kind: "create-bridge", ...BRIDGE, bridge: "br1" },
    { kind: "add-tunnel", bridge: "br1", port: PEER2_PORT },
  ]);
  await vsctl(
    "add-port",
    "br-foreign",
    "marked0",
    "--",
    "set",
    "Interface",
    "marked0",
    "type=internal",
    "--",
    "set",
    "Port",
    "marked0",
    "external_ids:ovs-mesh=managed",
  );

  const removed = await removeManaged(ovsdb);

  assert.deepEqual(removed, [
    "port marked0 on bridge br-foreign",
    `port ${PEER1_PORT.name} on bridge br0`,
    `port ${FLOW_PORT.name} on bridge br0`,
    "bridge br1",
  ]);
  assert.equal(await vsctl("list-br"), "br-foreign\nbr0");
  assert.equal(await vsctl("list-ports", "br0"), "foreign0");
  assert.equal(await vsctl("list-ports", "br-foreign"), "");
  // br0 stays, with its internal port, because deleting it would delete foreign0.
  assert.deepEqual(await readOvs(ovsdb, "br0"), expectedState([], BRIDGE, ["foreign0"]));
  assert.deepEqual(await removeManaged(ovsdb), []);
});

test("removeManaged removes a bridge without foreign ports", async () => {
  const ovsdb = connection();
  await vsctl("del-port", "br0", "foreign0");

  assert.deepEqual(await removeManaged(ovsdb), ["bridge br0"]);
  assert.equal(await vsctl("list-br"), "br-foreign");
});

test("applyOvs times out without ovs-vswitchd", async () => {
  assert.ok(ovs !== undefined);
  const ovsdb = connection();
  await ovs.stopSwitch();
  try {
    await assert.rejects(
      applyOvs(ovsdb, [{ kind: "create-bridge", ...BRIDGE }], { timeoutMs: 500 }),
      (error: unknown) => {
        assert.ok(error instanceof OvsApplyTimeoutError);
        assert.match(error.message, /^ovs-vswitchd did not apply the change within 500 ms/);
        return true;
      },
    );
  } finally {
    await ovs.startSwitch();
  }
  // Once ovs-vswitchd is back, the next change is applied and waited for as usual.
  await applyOvs(ovsdb, [{ kind: "add-tunnel", bridge: "br0", port: FLOW_PORT }]);
  assert.ok(Number(await vsctl("get", "Interface", FLOW_PORT.name, "ofport")) > 0);
});
