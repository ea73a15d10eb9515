import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { StatusReport } from "../../src/agent/status-report.js";
import { destroyLab } from "../../src/lab/down.js";
import type { Lab, LabHost } from "../../src/lab/lab.js";
import {
  hostOptions,
  inHost,
  labHost,
  labUp,
  ovsMeshIn,
  startAgent,
  stopAgent,
  waitFor,
  type RunningAgent,
} from "./ops-lab.js";

// In port mode each peer has its own tunnel port with BFD, and status takes the peer's health
// from BFD and its counters from the port.

const LAB = "t-ops-port";
let lab: Lab;
const agents: RunningAgent[] = [];

before(async () => {
  await destroyLab(LAB);
  lab = await labUp(LAB, ["--hosts", "2", "--containers", "1", "--mode", "port"]);
});

after(async () => {
  for (const agent of agents) {
    await stopAgent(agent);
  }
  await destroyLab(LAB);
});

async function status(host: LabHost): Promise<{ code: number; report: StatusReport | undefined }> {
  const result = await ovsMeshIn(host, ["status", "--json", ...hostOptions(host)]);
  const report = result.stdout.startsWith("{")
    ? (JSON.parse(result.stdout) as StatusReport)
    : undefined;
  return { code: result.code, report };
}

function failure(error: Error): never {
  const logs = agents.map((agent) => `--- ${agent.host.name}\n${agent.output()}`).join("\n");
  return assert.fail(`${error.message}\n${logs}`);
}

test("status in port mode follows BFD", async () => {
  for (const host of lab.hosts) {
    agents.push(
      startAgent(host, [
        "--config",
        lab.clusterFile,
        "--host",
        host.name,
        "--underlay-ip",
        host.underlayIp,
        "--probe-seconds",
        "1",
        "--metrics-address",
        "off",
      ]),
    );
  }
  const [host0, host1] = [labHost(lab, "host0"), labHost(lab, "host1")];

  const up = await waitFor("BFD to come up on host0", async () => {
    const current = await status(host0);
    return current.report?.peers[0]?.health === "up" ? current : undefined;
  }).catch(failure);
  assert.equal(up.code, 0);
  assert.equal(up.report?.mode, "port");
  const peer = up.report?.peers[0];
  assert.equal(peer?.name, "host1");
  assert.equal(peer?.healthSource, "bfd");
  assert.equal(peer?.port, "gre-c612000b");

  // ovs-vswitchd refreshes interface statistics every 5 s, so the counters lag behind.
  const container = host0.containers[0];
  const target = host1.containers[0]?.ip ?? "";
  assert.ok(container !== undefined);
  const ping = await inHost(host0, [
    "ip",
    "netns",
    "exec",
    container.namespace,
    "ping",
    "-c",
    "5",
    "-i",
    "0.2",
    target,
  ]);
  assert.equal(ping.code, 0, ping.stdout);
  const counted = await waitFor("the port's counters to count the pings", async () => {
    const current = await status(host0);
    const counters = current.report?.peers[0]?.counters;
    return (counters?.txPackets ?? 0) >= 5 && (counters?.rxPackets ?? 0) >= 5
      ? counters
      : undefined;
  }).catch(failure);
  assert.ok((counted.txBytes ?? 0) > 0);
  assert.ok((counted.rxBytes ?? 0) > 0);

  // Cutting host1's underlay stops its BFD packets; host0's session times out.
  const cut = await inHost(host1, ["ip", "link", "set", "eth0", "down"]);
  assert.equal(cut.code, 0, cut.stderr);
  const down = await waitFor("BFD to go down on host0", async () => {
    const current = await status(host0);
    return current.report?.peers[0]?.health === "down" ? current : undefined;
  }).catch(failure);
  assert.equal(down.code, 1);
  assert.equal(down.report?.peers[0]?.healthSource, "bfd");
});
