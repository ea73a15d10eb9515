import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { run, type RunResult } from "../../src/host/exec.js";
import { startAgent, stopAgent } from "../../src/lab/agents.js";
import { waitForConvergence } from "../../src/lab/agent-wait.js";
import { labEtcd } from "../../src/lab/cluster-store.js";
import { dumpFlows, flowsMentioning } from "../../src/lab/convergence.js";
import { destroyLab } from "../../src/lab/down.js";
import { loadLab, writeLab } from "../../src/lab/state.js";
import type { LabStatus } from "../../src/lab/status.js";
import type { Lab, LabHost } from "../../src/lab/lab.js";

// One 5-host lab with a one-member etcd serves every test in this file, in order: it grows
// by `lab add`, shrinks by `lab remove`, and lives through an agent restart, a re-created
// docker0, garbage in the store and an etcd outage.

const LAB = "t-agent";
const ROOT = "/var/lib/ovs-mesh/lab";
const BINARY = fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

function ovsMesh(args: string[]): Promise<RunResult> {
  return run([process.execPath, BINARY, ...args], { okCodes: ANY_EXIT_CODE, timeoutMs: 400_000 });
}

function host(lab: Lab, name: string): LabHost {
  const found = lab.hosts.find((candidate) => candidate.name === name);
  assert.ok(found, `lab ${lab.name} has no host ${name}`);
  return found;
}

/** Pings from a container, `count` echo requests 0.2 s apart; returns sent and received. */
async function ping(
  from: LabHost,
  to: LabHost,
  count: number,
): Promise<{ transmitted: number; received: number }> {
  const source = from.containers[0];
  const destination = to.containers[0];
  assert.ok(source && destination, "every host has a container");
  const { stdout } = await run(
    ["nsenter", `--net=${source.namespacePath}`, "ping", "-n", "-q", "-i", "0.2"].concat([
      "-W",
      "2",
      "-c",
      String(count),
      destination.ip,
    ]),
    { okCodes: [0, 1], timeoutMs: count * 1000 + 30_000 },
  );
  const match = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  return { transmitted: Number(match?.[1] ?? 0), received: Number(match?.[2] ?? 0) };
}

/** The rules of a host without counters and ages, which change on their own. */
async function rules(target: LabHost): Promise<string[]> {
  const dump = await dumpFlows(target);
  return dump
    .split("\n")
    .filter((line) => line.includes("cookie="))
    .map((line) => line.replace(/ (duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*,/g, ""))
    .sort();
}

async function agentLog(target: LabHost): Promise<string> {
  assert.ok(target.agent, `${target.name} has an agent`);
  return readFile(target.agent.logFile, "utf8");
}

before(() => destroyLab(LAB));
after(() => destroyLab(LAB));

test("lab up --store etcd builds five hosts", async () => {
  const result = await ovsMesh(
    ["lab", "up", "--name", LAB, "--store", "etcd", "--hosts", "5"].concat(["--containers", "1"]),
  );
  assert.equal(result.code, 0, result.stderr);

  const status = await ovsMesh(["lab", "status", "--name", LAB, "--json"]);
  assert.equal(status.code, 0, status.stdout);
  const lab = JSON.parse(status.stdout) as LabStatus;
  assert.equal(lab.store?.kind, "etcd");
  assert.deepEqual(lab.store?.endpoints, ["http://198.18.0.2:2379"]);
  assert.equal(lab.hosts.length, 5);
  const subnets = new Set(lab.hosts.map((entry) => entry.subnet));
  assert.equal(subnets.size, 5, `distinct subnets: ${[...subnets].join(", ")}`);
  for (const entry of lab.hosts) {
    assert.equal(entry.agent?.running, true, `agent of ${entry.name}`);
    assert.match(entry.subnet, /^10\.240\.\d+\.0\/24$/);
  }
});

test("lab add joins a host every container reaches", async () => {
  const added = await ovsMesh(["lab", "add", "--name", LAB]);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /added host5 \(198\.18\.0\.15, 10\.240\.\d+\.0\/24\)/);

  const check = await ovsMesh(["lab", "check", "--name", LAB]);
  assert.equal(check.code, 0, check.stdout);
  assert.match(check.stdout, /30 of 30 pairs passed/);
});

test("lab remove drops the host's rules everywhere", async () => {
  const lab = await loadLab(LAB);
  const gone = host(lab, "host2");
  const removed = await ovsMesh(["lab", "remove", "--name", LAB, "host2"]);
  assert.equal(removed.code, 0, removed.stderr);

  const after = await loadLab(LAB);
  assert.equal(after.hosts.length, 5);
  for (const peer of after.hosts) {
    const exec = await ovsMesh(
      ["lab", "exec", "--name", LAB, peer.name, "--"].concat([
        "ovs-ofctl",
        "-O",
        "OpenFlow13",
        "dump-flows",
        "br0",
      ]),
    );
    assert.equal(exec.code, 0, exec.stderr);
    assert.deepEqual(flowsMentioning(exec.stdout, gone), [], `rules of ${peer.name}`);
  }
  const check = await ovsMesh(["lab", "check", "--name", LAB]);
  assert.equal(check.code, 0, check.stdout);
});

test("agent restart keeps the subnet and rules", async () => {
  const lab = await loadLab(LAB);
  const target = host(lab, "host0");
  const before = await rules(target);
  assert.ok(target.agent);

  const stopped = await stopAgent(target);
  assert.equal(stopped?.how, "terminated");
  // SIGTERM leaves the data plane: rules stay, and traffic keeps flowing.
  assert.deepEqual(await rules(target), before);
  const during = await ping(target, host(lab, "host1"), 5);
  assert.equal(during.received, 5);

  target.agent.pid = await startAgent(lab, target, target.agent);
  await writeLab(ROOT, lab);
  await waitForConvergence(lab, 60_000);
  const log = await agentLog(target);
  const joins = log.split("\n").filter((line) => line.includes('"event":"joined"'));
  assert.equal(joins.length, 2);
  for (const line of joins) {
    assert.equal((JSON.parse(line) as { subnet: string }).subnet, target.subnet);
  }
  assert.deepEqual(await rules(target), before);
});

test("agent repairs a re-created docker0 at once", async () => {
  const lab = await loadLab(LAB);
  const target = host(lab, "host1");
  await run(["ip", "-n", target.namespace, "link", "delete", "docker0"]);
  const deadline = Date.now() + 5000;
  let repaired = false;
  while (!repaired && Date.now() < deadline) {
    const { stdout } = await run(["ip", "-n", target.namespace, "-br", "address", "show"]);
    const bridge = stdout.split("\n").find((line) => line.startsWith("docker0 "));
    // `ip link show master docker0` exits with 255 while docker0 does not exist.
    const ports = await run(
      ["ip", "-n", target.namespace, "-br", "link", "show", "master", "docker0"],
      { okCodes: [0, 1, 255] },
    );
    repaired = (bridge?.includes(`${target.gateway}/24`) ?? false) && /^br0 /m.test(ports.stdout);
    await sleep(100);
  }
  // The resync runs every 30 s, so only the link monitor repairs it this fast.
  assert.ok(repaired, "docker0 came back with its gateway and br0 within 5 s");

  // The lab's container lost its port on the old bridge, as Docker's would.
  await run(["ip", "-n", target.namespace, "link", "set", "veth-c0", "master", "docker0"]);
  const result = await ping(target, host(lab, "host0"), 3);
  assert.equal(result.received, 3);
});

test("garbage in a host key is logged and ignored", async () => {
  const lab = await loadLab(LAB);
  const before = await Promise.all(lab.hosts.map(rules));
  const etcd = await labEtcd(lab);
  const namespace = lab.store?.namespace;
  assert.ok(namespace);
  await run(
    ["ip", "netns", "exec", namespace, "etcdctl", `--endpoints=${etcd.endpoints.join(",")}`].concat(
      ["put", `/ovs-mesh/${LAB}/hosts/bogus`, "{not json"],
    ),
  );
  await sleep(3000);
  for (const [index, entry] of lab.hosts.entries()) {
    const log = await agentLog(entry);
    assert.match(log, /"event":"invalid-store-value","key":"[^"]*hosts\/bogus"/, entry.name);
    assert.deepEqual(await rules(entry), before[index], `rules of ${entry.name}`);
  }
  await run(
    ["ip", "netns", "exec", namespace, "etcdctl", `--endpoints=${etcd.endpoints.join(",")}`].concat(
      ["del", `/ovs-mesh/${LAB}/hosts/bogus`],
    ),
  );
});

test("etcd outage of 30 s loses no packets", async () => {
  const lab = await loadLab(LAB);
  const etcd = await labEtcd(lab);
  const logSizes = await Promise.all(
    lab.hosts.map(async (entry) => (await agentLog(entry)).length),
  );

  const pings = ping(host(lab, "host0"), host(lab, "host3"), 200);
  await sleep(2000);
  await etcd.stopMember(0);
  try {
    await sleep(30_000);
  } finally {
    await etcd.startMember(0);
  }
  const result = await pings;
  assert.equal(result.transmitted, 200);
  assert.equal(result.received, 200);

  await sleep(6000);
  for (const [index, entry] of lab.hosts.entries()) {
    const events = (await agentLog(entry)).slice(logSizes[index]);
    const retry = events.indexOf('"event":"retry"');
    const reachable = events.indexOf('"event":"store-reachable"');
    assert.ok(retry >= 0, `${entry.name} logged a retry`);
    assert.ok(reachable > retry, `${entry.name} logged store-reachable after the retries`);
  }

  const added = await ovsMesh(["lab", "add", "--name", LAB]);
  assert.equal(added.code, 0, added.stderr);
  const grown = await loadLab(LAB);
  const newcomer = grown.hosts[grown.hosts.length - 1];
  assert.ok(newcomer);
  // The new host claimed the subnet that host2 freed, so its container has the address that
  // host2's had, with a new MAC address. The agents flush their neighbor entries of that
  // subnet; the deadline leaves room for the first ARP exchange through the new tunnels.
  for (const peer of grown.hosts.filter((entry) => entry !== newcomer)) {
    const source = peer.containers[0];
    const destination = newcomer.containers[0];
    assert.ok(source && destination);
    const reply = await run(
      [
        "nsenter",
        `--net=${source.namespacePath}`,
        "ping",
        "-n",
        "-q",
        "-c",
        "1",
        "-w",
        "15",
      ].concat([destination.ip]),
      { okCodes: [0, 1], timeoutMs: 30_000 },
    );
    assert.equal(reply.code, 0, `${peer.name} to ${newcomer.name}: ${reply.stdout}`);
  }
});

test("lab down removes agents and etcd", async () => {
  const result = await ovsMesh(["lab", "down", "--name", LAB]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /stopped the agent/);
  assert.match(result.stderr, /om-t-agent-etcd: stopped process \d+ \/usr\/bin\/etcd/);
  const { stdout } = await run(["ip", "netns", "list"]);
  assert.doesNotMatch(stdout, /om-t-agent-/);
});
