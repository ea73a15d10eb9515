import assert from "node:assert/strict";
import { test } from "node:test";
import { SubnetOwners } from "../../src/agent/subnet-owners.js";
import type { Cluster, HostSpec } from "../../src/plan/cluster.js";

function cluster(hosts: HostSpec[]): Cluster {
  return {
    range: "10.240.0.0/16",
    subnetLength: 24,
    tunnel: "gre",
    mode: "flow",
    datapath: "netdev",
    ovsBridge: "br0",
    linuxBridge: "docker0",
    underlayMtu: undefined,
    hosts,
  };
}

const self = { name: "a", underlayIp: "198.18.0.10", subnet: "10.240.1.0/24" };
const b = { name: "b", underlayIp: "198.18.0.11", subnet: "10.240.2.0/24" };
const c = { name: "c", underlayIp: "198.18.0.12", subnet: "10.240.3.0/24" };

test("SubnetOwners reports new and reclaimed subnets", () => {
  const owners = new SubnetOwners();
  assert.deepEqual(owners.changed(cluster([self, b]), "a"), []);
  assert.deepEqual(owners.changed(cluster([self, b]), "a"), []);
  assert.deepEqual(owners.changed(cluster([self, b, c]), "a"), ["10.240.3.0/24"]);
  assert.deepEqual(owners.changed(cluster([self, c]), "a"), []);
  const d = { name: "d", underlayIp: "198.18.0.13", subnet: b.subnet };
  assert.deepEqual(owners.changed(cluster([self, c, d]), "a"), ["10.240.2.0/24"]);
  const moved = { ...c, underlayIp: "198.18.0.14" };
  assert.deepEqual(owners.changed(cluster([self, moved, d]), "a"), ["10.240.3.0/24"]);
});
