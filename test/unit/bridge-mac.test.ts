import assert from "node:assert/strict";
import { test } from "node:test";
import { buildIpBatch, checkIpChange } from "../../src/host/ip-batch.js";
import { bridgeMac } from "../../src/plan/host.js";

test("bridgeMac derives the MAC from the gateway", () => {
  assert.equal(
    bridgeMac({ name: "host0", underlayIp: "192.0.2.10", subnet: "10.240.1.0/24" }),
    "02:6d:0a:f0:01:01",
  );
  assert.equal(
    bridgeMac({ name: "host1", underlayIp: "192.0.2.11", subnet: "172.17.255.0/24" }),
    "02:6d:ac:11:ff:01",
  );
});

test("create-bridge sets the MAC when given", () => {
  const batch = buildIpBatch(
    [
      { kind: "create-bridge", name: "omtbr0", mac: "02:6d:0a:f0:01:01" },
      { kind: "create-bridge", name: "omtbr1" },
    ],
    { links: {}, routes: [] },
  );
  assert.equal(
    batch,
    "link add omtbr0 address 02:6d:0a:f0:01:01 type bridge\nlink add omtbr1 type bridge\n",
  );
});

test("create-bridge rejects an invalid MAC", () => {
  for (const mac of ["02:6d:0a:f0:01", "02:6D:0A:F0:01:01", "02:6d:0a:f0:01:01 type dummy", ""]) {
    assert.throws(
      () => checkIpChange({ kind: "create-bridge", name: "omtbr0", mac }),
      /invalid MAC address/,
      mac,
    );
  }
});
