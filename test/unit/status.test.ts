import assert from "node:assert/strict";
import { test } from "node:test";
import { parseStatusFile, StatusFileError, type StatusFile } from "../../src/agent/status-file.js";
import {
  bfdHealth,
  buildStatusReport,
  flowCounters,
  isStale,
} from "../../src/agent/status-report.js";
import { formatStatusReport } from "../../src/cli/status.js";
import { parseFlowStats } from "../../src/host/flow-stats.js";
import { parsePingRtt } from "../../src/host/ping.js";

const DUMP = `OFPST_FLOW reply (OF1.3) (xid=0x2):
 cookie=0x6f76736d657368, duration=12.630s, table=0, n_packets=9, n_bytes=670, priority=100,in_port=LOCAL actions=goto_table:20
 cookie=0x6f76736d657368, duration=12.630s, table=10, n_packets=5, n_bytes=490, priority=100,ip,tun_src=198.18.0.11,nw_src=10.240.2.0/24 actions=LOCAL
 cookie=0x6f76736d657368, duration=12.630s, table=10, n_packets=2, n_bytes=84, priority=100,arp,tun_src=198.18.0.11,arp_spa=10.240.2.0/24 actions=LOCAL
 cookie=0x6f76736d657368, duration=12.630s, table=10, n_packets=7, n_bytes=700, idle_age=3, priority=100,ip,tun_src=198.18.0.12,nw_src=10.240.3.0/24 actions=LOCAL
 cookie=0x6f76736d657368, duration=12.630s, table=20, n_packets=6, n_bytes=588, priority=100,ip,nw_src=10.240.1.0/24,nw_dst=10.240.2.0/24 actions=set_field:198.18.0.11->tun_dst,output:"gre-flow"
 cookie=0x6f76736d657368, duration=12.630s, table=20, n_packets=3, n_bytes=126, priority=100,arp,arp_spa=10.240.1.0/24,arp_tpa=10.240.2.0/24 actions=set_field:198.18.0.11->tun_dst,output:"gre-flow"
 cookie=0x6f76736d657368, duration=12.630s, table=20, n_packets=1, n_bytes=54, priority=0 actions=drop
`;

test("parseFlowStats reads counters and rules", () => {
  const stats = parseFlowStats(DUMP);
  assert.equal(stats.length, 7);
  assert.deepEqual(stats[1], {
    flow: {
      table: 10,
      priority: 100,
      match: "ip,tun_src=198.18.0.11,nw_src=10.240.2.0/24",
      actions: "LOCAL",
    },
    packets: 5,
    bytes: 490,
  });
  assert.equal(stats[3]?.flow.match, "ip,tun_src=198.18.0.12,nw_src=10.240.3.0/24");
  assert.equal(stats[4]?.flow.actions, "set_field:198.18.0.11->tun_dst,output:gre-flow");
});

test("flowCounters sums a peer's ingress and egress rules", () => {
  const stats = parseFlowStats(DUMP);
  assert.deepEqual(flowCounters({ underlayIp: "198.18.0.11", subnet: "10.240.2.0/24" }, stats), {
    rxPackets: 7,
    rxBytes: 574,
    txPackets: 9,
    txBytes: 714,
  });
  assert.deepEqual(flowCounters({ underlayIp: "198.18.0.12", subnet: "10.240.3.0/24" }, stats), {
    rxPackets: 7,
    rxBytes: 700,
    txPackets: 0,
    txBytes: 0,
  });
});

test("parsePingRtt reads the average", () => {
  const output =
    "--- 10.240.2.1 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\nrtt min/avg/max/mdev = 0.417/0.502/0.547/0.060 ms\n";
  assert.equal(parsePingRtt(output), 0.000502);
  assert.equal(parsePingRtt("1 packets transmitted, 0 received, 100% packet loss"), undefined);
});

test("bfdHealth maps BFD states", () => {
  const stats = (state: string | undefined) => ({
    rxPackets: 1,
    txPackets: 1,
    rxBytes: 1,
    txBytes: 1,
    bfdStatus: (state === undefined ? {} : { state }) as Record<string, string>,
  });
  assert.equal(bfdHealth(stats("up")), "up");
  assert.equal(bfdHealth(stats("down")), "down");
  assert.equal(bfdHealth(stats("init")), "down");
  assert.equal(bfdHealth(stats(undefined)), "unknown");
  assert.equal(bfdHealth(undefined), "unknown");
});

test("isStale allows three intervals and slack", () => {
  assert.equal(isStale(59, 10), false);
  assert.equal(isStale(61, 10), true);
  assert.equal(isStale(10_000, 0), false);
});

function statusFile(mode: "flow" | "port"): StatusFile {
  return {
    version: 1,
    host: "host0",
    updatedAt: "2026-01-01T00:00:00.000Z",
    subnet: "10.240.1.0/24",
    gateway: "10.240.1.1",
    innerMtu: 1462,
    datapath: "netdev",
    tunnel: "gre",
    mode,
    ovsBridge: "br0",
    linuxBridge: "docker0",
    probeIntervalSeconds: 10,
    peers: [
      {
        name: "host1",
        underlayIp: "198.18.0.11",
        subnet: "10.240.2.0/24",
        health: "up",
        rttMs: 0.5,
        lastChange: "2026-01-01T00:00:00.000Z",
        error: null,
      },
      {
        name: "host2",
        underlayIp: "198.18.0.12",
        subnet: "10.240.3.0/24",
        health: "down",
        rttMs: null,
        lastChange: "2026-01-01T00:00:00.000Z",
        error: "ping: bind: Cannot assign requested address",
      },
    ],
  };
}

const NOW = Date.parse("2026-01-01T00:00:05.000Z");

test("buildStatusReport in flow mode uses probes and rules", () => {
  const report = buildStatusReport(
    statusFile("flow"),
    { ports: undefined, flows: parseFlowStats(DUMP), error: undefined },
    NOW,
    "/s/status.json",
  );
  assert.equal(report.statusAgeSeconds, 5);
  assert.equal(report.stale, false);
  assert.deepEqual(
    report.peers.map((peer) => [
      peer.name,
      peer.health,
      peer.healthSource,
      peer.counters.txPackets,
    ]),
    [
      ["host1", "up", "probe", 9],
      ["host2", "down", "probe", 0],
    ],
  );
  assert.deepEqual(report.ovs, { reachable: true, error: null });
});

test("buildStatusReport in flow mode ignores stale probes", () => {
  const later = NOW + 3600_000;
  const report = buildStatusReport(
    statusFile("flow"),
    { ports: undefined, flows: [], error: undefined },
    later,
    "/s/status.json",
  );
  assert.equal(report.stale, true);
  assert.deepEqual(
    report.peers.map((peer) => peer.health),
    ["unknown", "unknown"],
  );
});

test("buildStatusReport in port mode uses BFD and ports", () => {
  const ports = {
    "gre-c612000b": {
      rxPackets: 10,
      txPackets: 11,
      rxBytes: 1000,
      txBytes: 1100,
      bfdStatus: { state: "up" },
    },
    "gre-c612000c": {
      rxPackets: 0,
      txPackets: 3,
      rxBytes: 0,
      txBytes: 300,
      bfdStatus: { state: "down" },
    },
  };
  const report = buildStatusReport(
    statusFile("port"),
    { ports, flows: undefined, error: undefined },
    NOW,
    "/s/status.json",
  );
  assert.deepEqual(
    report.peers.map((peer) => [
      peer.port,
      peer.health,
      peer.healthSource,
      peer.counters.rxPackets,
    ]),
    [
      ["gre-c612000b", "up", "bfd", 10],
      ["gre-c612000c", "down", "bfd", 0],
    ],
  );
});

test("formatStatusReport prints the header and a row per peer", () => {
  const report = buildStatusReport(
    statusFile("flow"),
    { ports: undefined, flows: undefined, error: "ovs-ofctl: br0.mgmt: connection refused" },
    NOW,
    "/s/status.json",
  );
  const lines = formatStatusReport(report).split("\n");
  assert.equal(lines[0], "host      host0");
  assert.equal(lines[1], "subnet    10.240.1.0/24 (gateway 10.240.1.1)");
  assert.equal(lines[2], "inner MTU 1462");
  assert.equal(lines[3], "datapath  netdev");
  assert.equal(lines[4], "tunnels   gre, flow mode");
  assert.equal(
    lines[6],
    "warning   no counters from Open vSwitch: ovs-ofctl: br0.mgmt: connection refused",
  );
  assert.match(
    lines[8] ?? "",
    /^PEER +UNDERLAY IP +SUBNET +HEALTH +RTT +RX PKTS +RX BYTES +TX PKTS +TX BYTES +LAST CHANGE$/,
  );
  assert.match(
    lines[9] ?? "",
    /^host1 +198\.18\.0\.11 +10\.240\.2\.0\/24 +up \(probe\) +0\.500 ms +- +- +- +- +2026-01-01T00:00:00\.000Z$/,
  );
  assert.match(lines[10] ?? "", /^host2 +198\.18\.0\.12 +10\.240\.3\.0\/24 +down \(probe\) +- +/);
  assert.equal(lines[11], "host2: probe failed: ping: bind: Cannot assign requested address");
});

test("parseStatusFile accepts what the agent writes", () => {
  const file = statusFile("flow");
  assert.deepEqual(parseStatusFile(JSON.parse(JSON.stringify(file)), "status.json"), file);
});

test("parseStatusFile names the wrong field", () => {
  const cases: [(file: Record<string, unknown>) => void, RegExp][] = [
    [(file) => (file.version = 2), /version must be 1/],
    [(file) => (file.mode = "mesh"), /mode must be flow, port/],
    [(file) => (file.innerMtu = "1462"), /innerMtu must be a number/],
    [
      (file) => ((file.peers as Record<string, unknown>[])[1] = { name: "x" }),
      /peers\[1\]\.underlayIp must be a string/,
    ],
    [
      (file) =>
        ((file.peers as Record<string, unknown>[])[0] = {
          ...statusFile("flow").peers[0],
          health: "ok",
        }),
      /peers\[0\]\.health must be up, down or unknown/,
    ],
  ];
  for (const [change, message] of cases) {
    const file = JSON.parse(JSON.stringify(statusFile("flow"))) as Record<string, unknown>;
    change(file);
    assert.throws(
      () => parseStatusFile(file, "status.json"),
      (error: unknown) => error instanceof StatusFileError && message.test(error.message),
    );
  }
});
