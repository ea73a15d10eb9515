import { test } from "node:test";
import assert from "node:assert/strict";

import { median } from "../../bench/stats.js";
import { averageRoundTrip, parseIperfReport } from "../../bench/traffic.js";

test("median of odd, even and empty lists", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test("parseIperfReport reads rate and retransmits", () => {
  const json = JSON.stringify({
    end: { sum_sent: { retransmits: 12 }, sum_received: { bits_per_second: 1.5e9 } },
  });
  assert.deepEqual(parseIperfReport(json), { bitsPerSecond: 1.5e9, retransmits: 12 });
});

test("parseIperfReport reports iperf3's error", () => {
  const json = JSON.stringify({ error: "unable to connect to server" });
  assert.throws(() => parseIperfReport(json), /no received rate: unable to connect to server/);
});

test("averageRoundTrip reads ping's summary", () => {
  const output = [
    "--- 10.240.2.2 ping statistics ---",
    "10 packets transmitted, 10 received, 0% packet loss, time 459ms",
    "rtt min/avg/max/mdev = 0.041/0.052/0.070/0.009 ms",
  ].join("\n");
  assert.equal(averageRoundTrip(output), 0.052);
  assert.throws(() => averageRoundTrip("100% packet loss"), /no round-trip summary/);
});
