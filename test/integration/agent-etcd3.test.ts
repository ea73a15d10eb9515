import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { run, type RunResult } from "../../src/host/exec.js";
import { labEtcd } from "../../src/lab/cluster-store.js";
import { destroyLab } from "../../src/lab/down.js";
import { loadLab } from "../../src/lab/state.js";
import type { LabHost } from "../../src/lab/lab.js";

// A 3-host lab whose agents share a 3-member etcd: with one member stopped, the other two
// keep a quorum, so joins still work and traffic does not notice.

const LAB = "t-agent3";
const BINARY = fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

function ovsMesh(args: string[]): Promise<RunResult> {
  return run([process.execPath, BINARY, ...args], { okCodes: ANY_EXIT_CODE, timeoutMs: 400_000 });
}

/** Pings from the first container of one host to the first of another. */
function ping(from: LabHost, to: LabHost, args: string[]): Promise<RunResult> {
  const source = from.containers[0];
  const destination = to.containers[0];
  assert.ok(source && destination, "every host has a container");
  return run(
    ["nsenter", `--net=${source.namespacePath}`, "ping", "-n", "-q", ...args, destination.ip],
    {
      okCodes: [0, 1],
      timeoutMs: 120_000,
    },
  );
}

before(() => destroyLab(LAB));
after(() => destroyLab(LAB));

test("lab up rejects --etcd-members without etcd", async () => {
  const result = await ovsMesh([
    "lab",
    "up",
    "--name",
    LAB,
    "--store",
    "file",
    "--etcd-members",
    "3",
  ]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--etcd-members needs --store etcd/);
});

test("one stopped etcd member changes nothing", async () => {
  const up = await ovsMesh(
    ["lab", "up", "--name", LAB, "--store", "etcd", "--etcd-members", "3", "--hosts", "3"].concat([
      "--containers",
      "1",
    ]),
  );
  assert.equal(up.code, 0, up.stderr);
  const lab = await loadLab(LAB);
  assert.deepEqual(lab.store?.endpoints, [
    "http://198.18.0.2:2379",
    "http://198.18.0.3:2379",
    "http://198.18.0.4:2379",
  ]);
  const [host0, host1] = lab.hosts;
  assert.ok(host0 && host1);
  const etcd = await labEtcd(lab);

  const pings = ping(host0, host1, ["-i", "0.2", "-W", "2", "-c", "100"]);
  await sleep(1000);
  // Member 0 is the first endpoint, which every client tries first.
  await etcd.stopMember(0);
  try {
    const added = await ovsMesh(["lab", "add", "--name", LAB]);
    assert.equal(added.code, 0, added.stderr);
    const grown = await loadLab(LAB);
    const newcomer = grown.hosts[3];
    assert.ok(newcomer);
    for (const peer of grown.hosts.slice(0, 3)) {
      const reply = await ping(peer, newcomer, ["-c", "1", "-w", "15"]);
      assert.equal(reply.code, 0, `${peer.name} to ${newcomer.name}: ${reply.stdout}`);
    }
    const result = await pings;
    assert.match(result.stdout, /100 packets transmitted, 100 received/);
  } finally {
    await etcd.startMember(0);
  }
});
