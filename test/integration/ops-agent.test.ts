import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parse, stringify } from "yaml";
import type { StatusReport } from "../../src/agent/status-report.js";
import { destroyLab } from "../../src/lab/down.js";
import type { Lab, LabHost } from "../../src/lab/lab.js";
import { parseXml } from "../unit/xml-check.js";
import {
  hostOptions,
  inHost,
  labHost,
  labUp,
  ovsMesh,
  ovsMeshIn,
  startAgent,
  stopAgent,
  waitFor,
  type RunningAgent,
} from "./ops-lab.js";

// Runs the agent on lab hosts from a cluster file of two of the three hosts, then lets the
// third join, and checks what status, /metrics and graph report about the mesh.

const LAB = "t-ops-agent";
const METRICS = "127.0.0.1:9464";
let lab: Lab;
let directory: string;
let clusterFile: string;
const agents: RunningAgent[] = [];

before(async () => {
  await destroyLab(LAB);
  lab = await labUp(LAB, ["--hosts", "3", "--containers", "1"]);
  directory = await mkdtemp(join(tmpdir(), "omt-ops-"));
  clusterFile = join(directory, "cluster.yaml");
  const document = parse(await readFile(lab.clusterFile, "utf8")) as { hosts: unknown[] };
  await writeFile(clusterFile, stringify({ ...document, hosts: document.hosts.slice(0, 2) }));
});

after(async () => {
  for (const agent of agents) {
    await stopAgent(agent);
  }
  await destroyLab(LAB);
  await rm(directory, { recursive: true, force: true });
});

function agentArgs(host: LabHost): string[] {
  return [
    "--config",
    clusterFile,
    "--host",
    host.name,
    "--underlay-ip",
    host.underlayIp,
    "--subnet",
    host.subnet,
    "--probe-seconds",
    "1",
    "--metrics-address",
    METRICS,
  ];
}

async function status(host: LabHost): Promise<StatusReport | undefined> {
  const result = await ovsMeshIn(host, ["status", "--json", ...hostOptions(host)]);
  return result.stdout.startsWith("{") ? (JSON.parse(result.stdout) as StatusReport) : undefined;
}

async function metrics(host: LabHost): Promise<Map<string, number>> {
  const script = `fetch("http://${METRICS}/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))`;
  const result = await inHost(host, [process.execPath, "-e", script]);
  assert.equal(result.code, 0, result.stderr);
  const values = new Map<string, number>();
  for (const line of result.stdout.split("\n")) {
    const match = /^(\S+) (\S+)$/.exec(line);
    if (match?.[1] !== undefined && !line.startsWith("#")) {
      values.set(
        match[1].replace(`host="${host.name}"`, "").replace("{,", "{").replace("{}", ""),
        Number(match[2]),
      );
    }
  }
  return values;
}

function failure(what: string): string {
  return `${what}\n${agents.map((agent) => `--- ${agent.host.name}\n${agent.output()}`).join("\n")}`;
}

test("status --json agrees with the lab", async () => {
  const [host0, host1] = [labHost(lab, "host0"), labHost(lab, "host1")];
  agents.push(startAgent(host0, agentArgs(host0)), startAgent(host1, agentArgs(host1)));
  const report = await waitFor("host0 to see host1 up", async () => {
    const current = await status(host0);
    return current?.peers[0]?.health === "up" ? current : undefined;
  }).catch((error: Error) => assert.fail(failure(error.message)));

  assert.equal(report.host, "host0");
  assert.equal(report.subnet, host0.subnet);
  assert.equal(report.gateway, host0.gateway);
  assert.equal(report.innerMtu, 1462);
  assert.equal(report.datapath, "netdev");
  assert.equal(report.tunnel, lab.tunnel);
  assert.equal(report.mode, lab.mode);
  assert.deepEqual(report.ovs, { reachable: true, error: null });
  assert.equal(report.peers.length, 1);
  const peer = report.peers[0];
  assert.equal(peer?.name, "host1");
  assert.equal(peer?.underlayIp, host1.underlayIp);
  assert.equal(peer?.subnet, host1.subnet);
  assert.equal(peer?.healthSource, "probe");
  assert.equal(typeof peer?.rttMs, "number");
  assert.notEqual(peer?.lastChange, null);

  // Ten pings between the hosts' containers show up in the peer's rule counters.
  const before = peer?.counters;
  const target = host1.containers[0]?.ip ?? "";
  const ping = await inContainer(host0, ["ping", "-c", "10", "-i", "0.2", "-W", "1", target]);
  assert.equal(ping.code, 0, ping.stdout);
  const after = (await status(host0))?.peers[0]?.counters;
  assert.ok(
    (after?.txPackets ?? 0) - (before?.txPackets ?? 0) >= 10,
    JSON.stringify({ before, after }),
  );
  assert.ok(
    (after?.rxPackets ?? 0) - (before?.rxPackets ?? 0) >= 10,
    JSON.stringify({ before, after }),
  );
});

/** Runs a program in the first container of a lab host. */
function inContainer(host: LabHost, argv: string[]) {
  const container = host.containers[0];
  assert.ok(container !== undefined);
  return inHost(host, ["ip", "netns", "exec", container.namespace, ...argv]);
}

test("metrics count a host that joins", async () => {
  const [host0, host2] = [labHost(lab, "host0"), labHost(lab, "host2")];
  const first = await metrics(host0);
  assert.equal(first.get("ovs_mesh_peers"), 1);
  assert.equal(first.get("ovs_mesh_flows"), 9);
  assert.equal(first.get("ovs_mesh_store_connected"), 1);
  assert.equal(first.get("ovs_mesh_reconcile_errors_total"), 0);
  assert.ok((first.get("ovs_mesh_reconciles_total") ?? 0) >= 1);
  assert.ok((first.get("ovs_mesh_reconcile_duration_seconds_count") ?? 0) >= 1);
  assert.equal(first.get('ovs_mesh_tunnel_healthy{peer="host1"}'), 1);
  assert.ok((first.get('ovs_mesh_probe_rtt_seconds{peer="host1"}') ?? 0) > 0);

  agents.push(startAgent(host2, agentArgs(host2)));
  const joined = await waitFor("host0 to probe host2 up", async () => {
    const current = await metrics(host0);
    return current.get('ovs_mesh_tunnel_healthy{peer="host2"}') === 1 ? current : undefined;
  }).catch((error: Error) => assert.fail(failure(error.message)));
  assert.equal(joined.get("ovs_mesh_peers"), 2);
  assert.equal(joined.get("ovs_mesh_flows"), 13);
  assert.ok(
    (joined.get("ovs_mesh_reconciles_total") ?? 0) > (first.get("ovs_mesh_reconciles_total") ?? 0),
  );
  assert.equal(joined.get("ovs_mesh_reconcile_errors_total"), 0);
  assert.ok((joined.get('ovs_mesh_probe_rtt_seconds{peer="host2"}') ?? 0) > 0);
});

test("graph --format svg names every host", async () => {
  const statuses = lab.hosts.flatMap((host) => [
    "--status",
    join(host.runDirectory, "ovs-mesh", "status.json"),
  ]);
  await waitFor("every agent to see both peers up", async () => {
    const reports = await Promise.all(lab.hosts.map(status));
    return reports.every(
      (report) => report?.peers.length === 2 && report.peers.every((peer) => peer.health === "up"),
    )
      ? true
      : undefined;
  }).catch((error: Error) => assert.fail(failure(error.message)));

  const result = await ovsMesh(["graph", "--config", clusterFile, ...statuses, "--format", "svg"]);
  assert.equal(result.code, 0, result.stderr);
  const { elements, texts } = parseXml(result.stdout);
  assert.equal(elements[0], "svg");
  for (const host of lab.hosts) {
    assert.ok(texts.includes(host.name), `${host.name} is named`);
    assert.ok(texts.includes(host.subnet), `${host.subnet} is shown`);
  }
  assert.equal(
    (result.stdout.match(/stroke="#2e7d32" stroke-width="3">/g) ?? []).length,
    3,
    "three tunnels up",
  );
});
