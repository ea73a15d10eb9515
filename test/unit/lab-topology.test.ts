import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCluster } from "../../src/plan/cluster.js";
import { LabError } from "../../src/lab/errors.js";
import {
  belongsToLab,
  checkContainerName,
  checkLabHostName,
  checkLabName,
  containerNamespace,
  hostNamespace,
  switchNamespace,
} from "../../src/lab/names.js";
import {
  MAX_HOSTS,
  clusterDocument,
  containerAddress,
  hostSubnet,
  labNamespaces,
  planLab,
  underlayAddress,
} from "../../src/lab/topology.js";

const ROOT = "/var/lib/ovs-mesh/lab";

test("namespace names carry the lab prefix", () => {
  assert.equal(switchNamespace("lab"), "om-lab-sw");
  assert.equal(hostNamespace("lab", "host0"), "om-lab-host0");
  assert.equal(containerNamespace("t-lab1", "host1", "c0"), "om-t-lab1-host1-c0");
});

const addressCases: [number, string, string][] = [
  [0, "198.18.0.10", "10.240.1.0/24"],
  [1, "198.18.0.11", "10.240.2.0/24"],
  [9, "198.18.0.19", "10.240.10.0/24"],
  [MAX_HOSTS - 1, "198.18.0.254", "10.240.245.0/24"],
];

for (const [index, underlay, subnet] of addressCases) {
  test(`host ${index} addresses`, () => {
    assert.equal(underlayAddress(index), underlay);
    assert.equal(hostSubnet(index), subnet);
  });
}

test("host index past the underlay is rejected", () => {
  assert.throws(() => underlayAddress(MAX_HOSTS), RangeError);
  assert.throws(() => hostSubnet(-1), RangeError);
});

test("container addresses follow the gateway", () => {
  assert.equal(containerAddress("10.240.1.0/24", 0), "10.240.1.2");
  assert.equal(containerAddress("10.240.1.0/24", 1), "10.240.1.3");
  assert.equal(containerAddress("10.240.3.0/24", 252), "10.240.3.254");
  assert.throws(() => containerAddress("10.240.3.0/24", 253), RangeError);
});

const nameCases: [string, (name: string) => string | undefined, string, boolean][] = [
  ["lab name", checkLabName, "lab", true],
  ["lab name with dash", checkLabName, "t-lab1", true],
  ["lab name of 20 characters", checkLabName, "a".repeat(20), true],
  ["lab name of 21 characters", checkLabName, "a".repeat(21), false],
  ["lab name with upper case", checkLabName, "Lab", false],
  ["lab name with a path", checkLabName, "../etc", false],
  ["lab name ending in dash", checkLabName, "lab-", false],
  ["empty lab name", checkLabName, "", false],
  ["host name", checkLabHostName, "host0", true],
  ["host name of 15 characters", checkLabHostName, "h".repeat(15), true],
  ["host name of 16 characters", checkLabHostName, "h".repeat(16), false],
  ["host name of the switch", checkLabHostName, "sw", false],
  ["container name", checkContainerName, "c0", true],
  ["container name of 11 characters", checkContainerName, "c".repeat(11), false],
];

for (const [label, check, name, valid] of nameCases) {
  test(`${label} ${valid ? "accepted" : "rejected"}`, () => {
    const problem = check(name);
    if (valid) {
      assert.equal(problem, undefined);
    } else {
      assert.ok(problem?.includes(JSON.stringify(name)), `problem names the value: ${problem}`);
    }
  });
}

test("belongsToLab skips a lab whose name extends this one", () => {
  const labs = ["t", "t-lab1"];
  assert.equal(belongsToLab("om-t-sw", "t", labs), true);
  assert.equal(belongsToLab("om-t-host0-c1", "t", labs), true);
  assert.equal(belongsToLab("om-t-lab1-sw", "t", labs), false);
  assert.equal(belongsToLab("om-t-lab1-sw", "t-lab1", labs), true);
  assert.equal(belongsToLab("omt-docker", "t", labs), false);
  assert.equal(belongsToLab("om-tx-sw", "t", labs), false);
});

test("planLab derives hosts, containers and paths", () => {
  const now = new Date("2026-01-02T03:04:05Z");
  const lab = planLab(
    { name: "t-lab1", hosts: 2, containers: 2, tunnel: "vxlan", mode: "port" },
    ROOT,
    now,
  );
  assert.equal(lab.status, "building");
  assert.equal(lab.createdAt, "2026-01-02T03:04:05.000Z");
  assert.equal(lab.clusterFile, "/var/lib/ovs-mesh/lab/t-lab1/cluster.yaml");
  assert.equal(lab.switchNamespace, "om-t-lab1-sw");
  assert.equal(lab.hosts.length, 2);

  const host1 = lab.hosts[1];
  assert.ok(host1 !== undefined);
  assert.equal(host1.name, "host1");
  assert.equal(host1.namespace, "om-t-lab1-host1");
  assert.equal(host1.underlayIp, "198.18.0.11");
  assert.equal(host1.subnet, "10.240.2.0/24");
  assert.equal(host1.gateway, "10.240.2.1");
  assert.equal(host1.runDirectory, "/var/lib/ovs-mesh/lab/t-lab1/host1");
  assert.equal(host1.dbSocket, "/var/lib/ovs-mesh/lab/t-lab1/host1/db.sock");
  assert.deepEqual(host1.pids, { ovsdbServer: null, ovsVswitchd: null });
  assert.deepEqual(host1.containers[1], {
    name: "c1",
    namespace: "om-t-lab1-host1-c1",
    namespacePath: "/run/netns/om-t-lab1-host1-c1",
    ip: "10.240.2.3",
  });
});

test("labNamespaces lists containers before hosts and the switch last", () => {
  const lab = planLab({ name: "lab", hosts: 2, containers: 1, tunnel: "gre", mode: "flow" }, ROOT);
  assert.deepEqual(labNamespaces(lab), [
    "om-lab-host0-c0",
    "om-lab-host1-c0",
    "om-lab-host0",
    "om-lab-host1",
    "om-lab-sw",
  ]);
});

const invalidPlans: [string, Parameters<typeof planLab>[0], string][] = [
  [
    "no hosts",
    { name: "lab", hosts: 0, containers: 2, tunnel: "gre", mode: "flow" },
    "host count 0",
  ],
  [
    "too many hosts",
    { name: "lab", hosts: 246, containers: 2, tunnel: "gre", mode: "flow" },
    "host count 246",
  ],
  [
    "too many containers",
    { name: "lab", hosts: 1, containers: 254, tunnel: "gre", mode: "flow" },
    "container count 254",
  ],
  [
    "bad name",
    { name: "Lab", hosts: 1, containers: 0, tunnel: "gre", mode: "flow" },
    'lab name "Lab"',
  ],
];

for (const [label, options, fragment] of invalidPlans) {
  test(`planLab rejects ${label}`, () => {
    assert.throws(
      () => planLab(options, ROOT),
      (error: unknown) => error instanceof LabError && error.message.includes(fragment),
    );
  });
}

test("planLab rejects a root that makes socket paths too long", () => {
  const root = `/tmp/${"d".repeat(80)}`;
  assert.throws(
    () => planLab({ name: "lab", hosts: 1, containers: 0, tunnel: "gre", mode: "flow" }, root),
    (error: unknown) =>
      error instanceof LabError && error.message.includes("over the limit of 107"),
  );
});

test("cluster file passes parseCluster", () => {
  const lab = planLab(
    { name: "lab", hosts: 3, containers: 2, tunnel: "geneve", mode: "port" },
    ROOT,
  );
  const cluster = parseCluster(clusterDocument(lab), "lab cluster file");
  assert.equal(cluster.range, "10.240.0.0/16");
  assert.equal(cluster.subnetLength, 24);
  assert.equal(cluster.tunnel, "geneve");
  assert.equal(cluster.mode, "port");
  assert.equal(cluster.datapath, "netdev");
  assert.deepEqual(cluster.hosts, [
    { name: "host0", underlayIp: "198.18.0.10", subnet: "10.240.1.0/24" },
    { name: "host1", underlayIp: "198.18.0.11", subnet: "10.240.2.0/24" },
    { name: "host2", underlayIp: "198.18.0.12", subnet: "10.240.3.0/24" },
  ]);
});
