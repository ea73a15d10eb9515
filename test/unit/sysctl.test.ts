import { test } from "node:test";
import assert from "node:assert/strict";

import { sysctlPath } from "../../src/host/sysctl.js";

test("sysctlPath maps keys to /proc/sys files", () => {
  const cases: { key: string; expected: string }[] = [
    { key: "net.ipv4.ip_forward", expected: "/proc/sys/net/ipv4/ip_forward" },
    {
      key: "net.ipv4.conf.docker0.send_redirects",
      expected: "/proc/sys/net/ipv4/conf/docker0/send_redirects",
    },
    { key: "net.ipv4.conf.eth0.5.rp_filter", expected: "/proc/sys/net/ipv4/conf/eth0.5/rp_filter" },
    { key: "net.ipv4.conf.all.rp_filter", expected: "/proc/sys/net/ipv4/conf/all/rp_filter" },
    {
      key: "net.ipv6.conf.br-phy.disable_ipv6",
      expected: "/proc/sys/net/ipv6/conf/br-phy/disable_ipv6",
    },
    {
      key: "net.ipv4.neigh.a.b.c.gc_stale_time",
      expected: "/proc/sys/net/ipv4/neigh/a.b.c/gc_stale_time",
    },
    { key: "kernel.pid_max", expected: "/proc/sys/kernel/pid_max" },
  ];
  for (const { key, expected } of cases) {
    assert.equal(sysctlPath(key), expected, key);
  }
});

test("sysctlPath rejects keys outside /proc/sys", () => {
  const keys = [
    "",
    "net..ipv4",
    "net.ipv4.",
    "net/ipv4/ip_forward",
    "net.ipv4.conf.eth0",
    "net.ipv4.conf..rp_filter",
    "net.ipv4.conf.../rp_filter",
    "net.ipv4.conf.a b.rp_filter",
    "net.ipv4.conf.averylonginterface0.rp_filter",
    "net.ipv4.conf.eth0.rp filter",
  ];
  for (const key of keys) {
    assert.throws(() => sysctlPath(key), RangeError, key);
  }
});

test("sysctlPath names the key in its error", () => {
  assert.throws(() => sysctlPath("net.ipv4.conf.a/b.rp_filter"), {
    name: "RangeError",
    message:
      /^invalid sysctl key "net\.ipv4\.conf\.a\/b\.rp_filter": invalid interface name "a\/b"/,
  });
});
