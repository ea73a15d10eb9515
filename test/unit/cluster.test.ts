import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, parseCluster } from "../../src/plan/cluster.js";
import { parseClusterText } from "../../src/store/cluster-file.js";

function validCluster(): Record<string, unknown> {
  return {
    range: "10.240.0.0/16",
    subnetLength: 24,
    hosts: [
      { name: "host0", underlayIp: "198.18.0.10", subnet: "10.240.1.0/24" },
      { name: "host1", underlayIp: "198.18.0.11", subnet: "10.240.2.0/24" },
    ],
  };
}

function problemsOf(value: unknown): string[] {
  try {
    parseCluster(value, "test.yaml");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
  }
  assert.fail("expected the cluster to be rejected");
}

test("parseCluster accepts a valid cluster and fills defaults", () => {
  const cluster = parseCluster(validCluster(), "test.yaml");
  assert.equal(cluster.tunnel, "gre");
  assert.equal(cluster.mode, "flow");
  assert.equal(cluster.datapath, "auto");
  assert.equal(cluster.ovsBridge, "br0");
  assert.equal(cluster.linuxBridge, "docker0");
  assert.equal(cluster.underlayMtu, undefined);
  assert.equal(cluster.hosts.length, 2);
});

type Mutation = (cluster: Record<string, unknown>) => void;
const host = (cluster: Record<string, unknown>, index: number) =>
  (cluster.hosts as Record<string, unknown>[])[index] as Record<string, unknown>;

const badInputs: [string, Mutation, string, RegExp][] = [
  ["range not a CIDR", (c) => (c.range = "10.240.0.0"), "range", /invalid CIDR "10.240.0.0"/],
  ["range with host bits", (c) => (c.range = "10.240.0.1/16"), "range", /invalid CIDR/],
  ["range octet too big", (c) => (c.range = "10.256.0.0/16"), "range", /invalid CIDR/],
  ["range missing", (c) => delete c.range, "range", /expected a non-empty string/],
  ["subnet length too long", (c) => (c.subnetLength = 31), "subnetLength", /from 1 to 30/],
  ["subnet length not above range", (c) => (c.subnetLength = 16), "subnetLength", /must be longer/],
  ["range in loopback", (c) => (c.range = "127.0.0.0/16"), "range", /127\.0\.0\.0\/8 \(loopback\)/],
  ["range in multicast", (c) => (c.range = "224.1.0.0/16"), "range", /multicast/],
  [
    "underlay IP broadcast",
    (c) => (host(c, 0).underlayIp = "255.255.255.255"),
    "hosts[0].underlayIp",
    /reserved/,
  ],
  [
    "underlay IP unspecified",
    (c) => (host(c, 0).underlayIp = "0.0.0.0"),
    "hosts[0].underlayIp",
    /this network/,
  ],
  [
    "underlay IP loopback",
    (c) => (host(c, 0).underlayIp = "127.0.0.1"),
    "hosts[0].underlayIp",
    /loopback/,
  ],
  ["subnet length a string", (c) => (c.subnetLength = "24"), "subnetLength", /integer/],
  [
    "tunnel unknown",
    (c) => (c.tunnel = "ipip"),
    "tunnel",
    /one of gre, vxlan, geneve, found "ipip"/,
  ],
  ["mode unknown", (c) => (c.mode = "mesh"), "mode", /one of flow, port/],
  ["datapath unknown", (c) => (c.datapath = "dpdk"), "datapath", /one of auto, system, netdev/],
  ["unknown top-level key", (c) => (c.tunel = "gre"), "tunel", /unknown key "tunel"/],
  [
    "bridge name too long",
    (c) => (c.bridges = { ovs: "a-very-long-bridge" }),
    "bridges.ovs",
    /invalid interface name/,
  ],
  [
    "bridge name with slash",
    (c) => (c.bridges = { linux: "dock/er0" }),
    "bridges.linux",
    /invalid interface name/,
  ],
  [
    "bridges with same name",
    (c) => (c.bridges = { ovs: "br0", linux: "br0" }),
    "bridges",
    /different names/,
  ],
  ["unknown bridge key", (c) => (c.bridges = { tun: "x" }), "bridges.tun", /unknown key/],
  [
    "inner MTU below 576",
    (c) => (c.underlayMtu = 600),
    "underlayMtu",
    /inner MTU of 562 .* below the minimum 576/,
  ],
  ["underlay MTU not a number", (c) => (c.underlayMtu = "jumbo"), "underlayMtu", /integer/],
  ["hosts missing", (c) => delete c.hosts, "hosts", /expected a list of hosts/],
  [
    "host not a mapping",
    (c) => ((c.hosts as unknown[])[0] = "host0"),
    "hosts[0]",
    /expected a mapping/,
  ],
  ["host name invalid", (c) => (host(c, 0).name = "Host_0"), "hosts[0].name", /invalid host name/],
  ["host name missing", (c) => delete host(c, 0).name, "hosts[0].name", /non-empty string/],
  [
    "underlay IP invalid",
    (c) => (host(c, 0).underlayIp = "198.18.0"),
    "hosts[0].underlayIp",
    /invalid IPv4 address/,
  ],
  [
    "underlay IP in range",
    (c) => (host(c, 0).underlayIp = "10.240.9.9"),
    "hosts[0].underlayIp",
    /inside the cluster range/,
  ],
  [
    "subnet invalid",
    (c) => (host(c, 0).subnet = "10.240.1.0/33"),
    "hosts[0].subnet",
    /invalid CIDR/,
  ],
  [
    "subnet outside range",
    (c) => (host(c, 0).subnet = "10.241.1.0/24"),
    "hosts[0].subnet",
    /outside the cluster range/,
  ],
  [
    "subnet wrong length",
    (c) => (host(c, 0).subnet = "10.240.4.0/23"),
    "hosts[0].subnet",
    /has length \/23, but the cluster uses \/24/,
  ],
  ["unknown host key", (c) => (host(c, 0).ip = "x"), "hosts[0].ip", /unknown key "ip"/],
  [
    "duplicate name",
    (c) => (host(c, 1).name = "host0"),
    "hosts[1].name",
    /name host0 is also used by hosts\[0\]/,
  ],
  [
    "duplicate underlay IP",
    (c) => (host(c, 1).underlayIp = "198.18.0.10"),
    "hosts[1].underlayIp",
    /underlay IP 198.18.0.10 is also used/,
  ],
  [
    "duplicate subnet",
    (c) => (host(c, 1).subnet = "10.240.1.0/24"),
    "hosts[1].subnet",
    /subnet 10.240.1.0\/24 is also used/,
  ],
];

for (const [name, mutate, path, pattern] of badInputs) {
  test(`parseCluster rejects ${name}`, () => {
    const cluster = validCluster();
    mutate(cluster);
    const problems = problemsOf(cluster);
    const matching = problems.filter((problem) => problem.startsWith(`${path}: `));
    assert.ok(matching.length > 0, `no problem at ${path}; got ${JSON.stringify(problems)}`);
    assert.ok(
      matching.some((problem) => pattern.test(problem)),
      `no problem at ${path} matches ${pattern}; got ${JSON.stringify(matching)}`,
    );
  });
}

test("parseCluster names the duplicate by its index in the file", () => {
  const cluster = validCluster();
  (cluster.hosts as unknown[]).unshift({
    name: "Bad_Name",
    underlayIp: "198.18.0.9",
    subnet: "10.240.9.0/24",
  });
  host(cluster, 2).name = "host0";
  const problems = problemsOf(cluster);
  assert.ok(
    problems.some((problem) =>
      problem.startsWith("hosts[2].name: name host0 is also used by hosts[1]"),
    ),
    JSON.stringify(problems),
  );
});

test("parseCluster skips host checks after a bad subnet length", () => {
  const cluster = validCluster();
  cluster.subnetLength = 8;
  const problems = problemsOf(cluster);
  assert.deepEqual(
    problems.map((problem) => problem.split(":")[0]),
    ["subnetLength"],
  );
});

test("parseCluster reports every problem at once", () => {
  const cluster = validCluster();
  cluster.tunnel = "ipip";
  host(cluster, 0).name = "Host0";
  const problems = problemsOf(cluster);
  assert.equal(problems.length, 2);
});

test("parseClusterText reports the line of a YAML error", () => {
  assert.throws(
    () => parseClusterText("range: 10.240.0.0/16\nhosts: [\n", "bad.yaml"),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.includes("bad.yaml") &&
      /line \d+: invalid YAML/.test(error.message),
  );
});

test("parseClusterText rejects a duplicate YAML key", () => {
  assert.throws(
    () => parseClusterText("range: 10.240.0.0/16\nrange: 10.241.0.0/16\nhosts: []\n", "dup.yaml"),
    (error: unknown) => error instanceof ConfigError && /invalid YAML/.test(error.message),
  );
});
