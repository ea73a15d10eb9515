import { test } from "node:test";
import assert from "node:assert/strict";

import {
  buildIpBatch,
  checkIpChange,
  type IpChange,
  type IpSnapshot,
} from "../../src/host/ip-batch.js";

test("buildIpBatch writes one command per change", () => {
  const changes: IpChange[] = [
    { kind: "create-bridge", name: "omtbr0" },
    { kind: "set-mtu", device: "omtbr0", mtu: 1450 },
    { kind: "add-address", device: "omtbr0", address: "10.240.1.1/24" },
    { kind: "set-master", device: "omtv0", master: "omtbr0" },
    { kind: "set-up", device: "omtbr0" },
    { kind: "replace-route", destination: "10.240.0.0/16", device: "omtbr0" },
    { kind: "remove-route", destination: "10.250.0.0/16", device: "omtbr0" },
  ];
  const snapshot: IpSnapshot = {
    links: {},
    routes: [{ destination: "10.250.0.0/16", device: "omtbr0" }],
  };
  assert.equal(
    buildIpBatch(changes, snapshot),
    [
      "link add omtbr0 type bridge",
      "link set dev omtbr0 mtu 1450",
      "address replace 10.240.1.1/24 dev omtbr0",
      "link set dev omtv0 master omtbr0",
      "link set dev omtbr0 up",
      "route replace 10.240.0.0/16 dev omtbr0",
      "route del 10.250.0.0/16 dev omtbr0",
      "",
    ].join("\n"),
  );
  assert.deepEqual(snapshot.routes, [{ destination: "10.240.0.0/16", device: "omtbr0" }]);
});

test("buildIpBatch skips what is already done", () => {
  const changes: IpChange[] = [
    { kind: "create-bridge", name: "omtbr0" },
    { kind: "create-bridge", name: "omtbr1" },
    { kind: "create-bridge", name: "omtbr1" },
    { kind: "remove-route", destination: "10.250.0.0/16", device: "omtbr0" },
    { kind: "remove-route", destination: "10.240.0.0/16", device: "other0" },
  ];
  const snapshot: IpSnapshot = {
    links: { omtbr0: { kind: "bridge" } },
    routes: [{ destination: "10.240.0.0/16", device: "omtbr0" }],
  };
  assert.equal(buildIpBatch(changes, snapshot), "link add omtbr1 type bridge\n");
});

test("buildIpBatch rejects a non-bridge link", () => {
  const snapshot: IpSnapshot = { links: { docker0: { kind: "veth" } }, routes: [] };
  assert.throws(() => buildIpBatch([{ kind: "create-bridge", name: "docker0" }], snapshot), {
    message:
      "failed to create bridge docker0: a link of kind veth already has that name. Remove it or choose another bridge name",
  });
});

test("checkIpChange rejects values that could inject commands", () => {
  const cases: { change: IpChange; message: RegExp }[] = [
    {
      change: { kind: "create-bridge", name: "x\nlink del eth0" },
      message: /^create-bridge: invalid interface name "x\\nlink del eth0"/,
    },
    { change: { kind: "set-up", device: "omtbr0 down" }, message: /invalid interface name/ },
    { change: { kind: "set-up", device: "-j" }, message: /invalid interface name "-j"/ },
    {
      change: { kind: "set-master", device: "omtv0", master: "omtbr0#x" },
      message: /^set-master: invalid interface name "omtbr0#x"/,
    },
    {
      change: { kind: "set-mtu", device: "omtbr0", mtu: 67 },
      message: /^set-mtu: invalid MTU 67 for omtbr0/,
    },
    { change: { kind: "set-mtu", device: "omtbr0", mtu: 1450.5 }, message: /invalid MTU 1450.5/ },
    {
      change: { kind: "add-address", device: "omtbr0", address: "10.240.1.1/33" },
      message: /^add-address: invalid address "10.240.1.1\/33"/,
    },
    {
      change: { kind: "add-address", device: "omtbr0", address: "10.240.1.1/24 dev lo" },
      message: /invalid address/,
    },
    {
      change: { kind: "replace-route", destination: "10.240.0.1/16", device: "omtbr0" },
      message: /^replace-route: invalid destination "10.240.0.1\/16"/,
    },
    {
      change: { kind: "remove-route", destination: "10.240.0.0/16 table 5", device: "omtbr0" },
      message: /invalid destination/,
    },
  ];
  for (const { change, message } of cases) {
    assert.throws(() => checkIpChange(change), { name: "RangeError", message });
  }
});

test("checkIpChange accepts valid changes", () => {
  const changes: IpChange[] = [
    { kind: "create-bridge", name: "docker0" },
    { kind: "set-mtu", device: "eth0.5", mtu: 68 },
    { kind: "add-address", device: "br_0", address: "10.240.1.1/24" },
    { kind: "replace-route", destination: "default", device: "eth0" },
  ];
  for (const change of changes) {
    assert.doesNotThrow(() => checkIpChange(change));
  }
});
