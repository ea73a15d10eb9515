import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { LogFields, Logger } from "../../src/agent/log.js";
import { AgentMetrics } from "../../src/agent/metrics.js";
import { PeerMonitor } from "../../src/agent/probe.js";
import { parseStatusFile } from "../../src/agent/status-file.js";
import type { PingResult } from "../../src/host/ping.js";
import { planHost } from "../../src/plan/host.js";
import { NETDEV_FACTS, makeCluster } from "./fixtures.js";

function memoryLogger(): Logger & { events: LogFields[] } {
  const events: LogFields[] = [];
  return {
    events,
    info: (fields) => events.push(fields),
    warn: (fields) => events.push(fields),
    error: (fields) => events.push(fields),
  };
}

const ANSWER: PingResult = { answered: true, rttSeconds: 0.0005, error: undefined };
const SILENCE: PingResult = { answered: false, rttSeconds: undefined, error: undefined };

test("PeerMonitor records health, rtt and changes", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "ovs-mesh-probe-"));
  try {
    const cluster = makeCluster(3, "flow");
    const desired = planHost(cluster, "host0", NETDEV_FACTS);
    const metrics = new AgentMetrics();
    const log = memoryLogger();
    const replies = new Map<string, PingResult[]>([
      ["10.240.2.1", [ANSWER, SILENCE, SILENCE, ANSWER]],
      [
        "10.240.3.1",
        [
          SILENCE,
          ANSWER,
          {
            answered: false,
            rttSeconds: undefined,
            error: "ping: bind: Cannot assign requested address",
          },
        ],
      ],
    ]);
    const sent: string[] = [];
    let now = 1_000_000;
    const monitor = new PeerMonitor({
      metrics,
      log,
      stateDir,
      intervalMs: 10_000,
      now: () => now,
      ping: async (source, destination) => {
        assert.equal(source, "10.240.1.1");
        sent.push(destination);
        const reply = replies.get(destination)?.shift();
        assert.ok(reply !== undefined, `an unexpected ping to ${destination}`);
        return reply;
      },
    });

    await monitor.update(cluster, desired);
    const before = parseStatusFile(
      JSON.parse(await readFile(join(stateDir, "status.json"), "utf8")),
      "status.json",
    );
    assert.deepEqual(
      before.peers.map((peer) => peer.health),
      ["unknown", "unknown"],
    );
    assert.equal(before.innerMtu, 1462);
    assert.equal(before.gateway, "10.240.1.1");

    // Round 1: host1 replies. host2 misses once and replies to the retry.
    await monitor.probeAll();
    assert.deepEqual(metrics.probes.get("host1"), {
      healthy: true,
      rttSeconds: 0.0005,
      lastChange: 1_000_000,
    });
    assert.deepEqual(metrics.probes.get("host2"), {
      healthy: true,
      rttSeconds: 0.0005,
      lastChange: 1_000_000,
    });

    // Round 2: host1 misses both tries; host2 cannot send, and is not retried.
    now += 10_000;
    await monitor.probeAll();
    assert.deepEqual(metrics.probes.get("host1"), {
      healthy: false,
      rttSeconds: undefined,
      lastChange: 1_010_000,
    });
    assert.deepEqual(metrics.probes.get("host2"), {
      healthy: false,
      rttSeconds: undefined,
      lastChange: 1_010_000,
    });
    const status = parseStatusFile(
      JSON.parse(await readFile(join(stateDir, "status.json"), "utf8")),
      "status.json",
    );
    assert.deepEqual(
      status.peers.map((peer) => [peer.name, peer.health, peer.rttMs, peer.lastChange, peer.error]),
      [
        ["host1", "down", null, new Date(1_010_000).toISOString(), null],
        [
          "host2",
          "down",
          null,
          new Date(1_010_000).toISOString(),
          "ping: bind: Cannot assign requested address",
        ],
      ],
    );

    // A peer that leaves the cluster leaves the metrics.
    const smaller = { ...cluster, hosts: cluster.hosts.slice(0, 2) };
    await monitor.update(smaller, planHost(smaller, "host0", NETDEV_FACTS));
    assert.deepEqual([...metrics.probes.keys()], ["host1"]);

    // Round 3: host1 comes back; its last change moves, nothing is sent to host2.
    now += 10_000;
    await monitor.probeAll();
    assert.deepEqual(metrics.probes.get("host1"), {
      healthy: true,
      rttSeconds: 0.0005,
      lastChange: 1_020_000,
    });
    // host1: 1 + 2 + 1 requests; host2: 2 + 1, none after it left.
    assert.deepEqual(sent.sort(), [
      "10.240.2.1",
      "10.240.2.1",
      "10.240.2.1",
      "10.240.2.1",
      "10.240.3.1",
      "10.240.3.1",
      "10.240.3.1",
    ]);
    const changes = log.events
      .filter((event) => event.event === "peer-health")
      .map((event) => `${String(event.peer)} ${String(event.health)}`);
    // Peers of one round are probed at the same time, so their events may come in any order.
    assert.deepEqual(changes.slice(0, 2).sort(), ["host1 up", "host2 up"]);
    assert.deepEqual(changes.slice(2, 4).sort(), ["host1 down", "host2 down"]);
    assert.deepEqual(changes.slice(4), ["host1 up"]);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("PeerMonitor probes at most `concurrency` peers at once", async () => {
  const stateDir = await mkdtemp(join(tmpdir(), "ovs-mesh-probe-"));
  try {
    const cluster = makeCluster(10, "flow");
    let running = 0;
    let peak = 0;
    const monitor = new PeerMonitor({
      metrics: new AgentMetrics(),
      log: memoryLogger(),
      stateDir,
      concurrency: 3,
      ping: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
        return ANSWER;
      },
    });
    await monitor.update(cluster, planHost(cluster, "host0", NETDEV_FACTS));
    await monitor.probeAll();
    assert.equal(peak, 3);
    assert.equal(monitor.status()?.peers.filter((peer) => peer.health === "up").length, 9);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("AgentMetrics.render exposes every series", () => {
  const cluster = makeCluster(3, "flow");
  const metrics = new AgentMetrics();
  metrics.recordReconcile(250, undefined, planHost(cluster, "host0", NETDEV_FACTS));
  metrics.recordReconcile(50, new Error("ovs-ofctl failed"), undefined);
  metrics.storeConnected = true;
  metrics.probes.set("host1", { healthy: true, rttSeconds: 0.0005, lastChange: 1_700_000_000_000 });
  metrics.probes.set("host2", {
    healthy: false,
    rttSeconds: undefined,
    lastChange: 1_700_000_001_500,
  });
  const lines = metrics.render('host"0').split("\n");
  const label = 'host="host\\"0"';
  for (const line of [
    `ovs_mesh_peers{${label}} 2`,
    `ovs_mesh_flows{${label}} 13`,
    `ovs_mesh_reconciles_total{${label}} 2`,
    `ovs_mesh_reconcile_errors_total{${label}} 1`,
    `ovs_mesh_reconcile_duration_seconds_sum{${label}} 0.3`,
    `ovs_mesh_reconcile_duration_seconds_count{${label}} 2`,
    `ovs_mesh_store_connected{${label}} 1`,
    `ovs_mesh_tunnel_healthy{${label},peer="host1"} 1`,
    `ovs_mesh_tunnel_healthy{${label},peer="host2"} 0`,
    `ovs_mesh_probe_rtt_seconds{${label},peer="host1"} 0.0005`,
    `ovs_mesh_probe_last_change_seconds{${label},peer="host1"} 1700000000`,
    `ovs_mesh_probe_last_change_seconds{${label},peer="host2"} 1700000001.5`,
  ]) {
    assert.ok(lines.includes(line), `missing ${line}`);
  }
  assert.equal(
    lines.filter((line) => line.startsWith("ovs_mesh_probe_rtt_seconds{")).length,
    1,
    "no rtt for a silent peer",
  );
});
