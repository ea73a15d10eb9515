import { test } from "node:test";
import assert from "node:assert/strict";

import { parseLinks, parseRoutes } from "../../src/host/ip-read.js";

/** Trimmed output of `ip -json -details addr show` from iproute2 6.1. */
const ADDR_SHOW = JSON.stringify([
  { ifindex: 1, ifname: "lo", flags: ["LOOPBACK"], mtu: 65536, addr_info: [] },
  {
    ifindex: 2,
    ifname: "omtbr0",
    flags: ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
    mtu: 1450,
    operstate: "DOWN",
    linkinfo: { info_kind: "bridge", info_data: { stp_state: 0 } },
    addr_info: [
      { family: "inet", local: "10.240.1.1", prefixlen: 24, scope: "global" },
      { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
    ],
  },
  {
    ifindex: 4,
    link: "omtv1",
    ifname: "omtv0.5",
    flags: ["BROADCAST", "MULTICAST", "M-DOWN"],
    mtu: 1500,
    master: "omtbr0",
    linkinfo: { info_kind: "veth", info_slave_kind: "bridge" },
    addr_info: [],
  },
]);

test("parseLinks reads mtu, state, kind, master and IPv4", () => {
  assert.deepEqual(parseLinks(ADDR_SHOW), {
    lo: { mtu: 65536, up: false, kind: undefined, master: undefined, addresses: [] },
    omtbr0: {
      mtu: 1450,
      up: true,
      kind: "bridge",
      master: undefined,
      addresses: ["10.240.1.1/24"],
    },
    "omtv0.5": { mtu: 1500, up: false, kind: "veth", master: "omtbr0", addresses: [] },
  });
});

test("parseLinks rejects unexpected output", () => {
  assert.throws(() => parseLinks('{"ifname":"x"}'), SyntaxError);
  assert.throws(() => parseLinks('[{"ifname":"x"}]'), SyntaxError);
  assert.throws(() => parseLinks("not json"), SyntaxError);
});

test("parseRoutes normalizes destinations", () => {
  const output = JSON.stringify([
    { dst: "default", gateway: "10.0.0.1", dev: "eth0", flags: [] },
    { type: "unreachable", dst: "10.8.0.0/16", flags: [] },
    { dst: "10.9.9.9", dev: "omtbr0", scope: "link", flags: [] },
    { dst: "10.240.0.0/16", dev: "omtbr0", scope: "link", flags: ["linkdown"] },
  ]);
  assert.deepEqual(parseRoutes(output), [
    { destination: "default", device: "eth0" },
    { destination: "10.8.0.0/16", device: undefined },
    { destination: "10.9.9.9/32", device: "omtbr0" },
    { destination: "10.240.0.0/16", device: "omtbr0" },
  ]);
  assert.deepEqual(parseRoutes("[]\n"), []);
});
