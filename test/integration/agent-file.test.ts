import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { run, type RunResult } from "../../src/host/exec.js";
import { dumpFlows, flowsMentioning } from "../../src/lab/convergence.js";
import { destroyLab } from "../../src/lab/down.js";
import { loadLab } from "../../src/lab/state.js";

// Agents that share the lab's cluster file: each adds its host to the file, claiming the
// lowest free subnet, and `lab add` and `lab remove` change the file as operators would.

const LAB = "t-agentf";
const BINARY = fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

function ovsMesh(args: string[]): Promise<RunResult> {
  return run([process.execPath, BINARY, ...args], { okCodes: ANY_EXIT_CODE, timeoutMs: 400_000 });
}

before(() => destroyLab(LAB));
after(() => destroyLab(LAB));

test("file store lab grows and shrinks", async () => {
  const up = await ovsMesh(["lab", "up", "--name", LAB, "--store", "file", "--hosts", "2"]);
  assert.equal(up.code, 0, up.stderr);
  const added = await ovsMesh(["lab", "add", "--name", LAB]);
  assert.equal(added.code, 0, added.stderr);

  const lab = await loadLab(LAB);
  const file = parse(await readFile(lab.clusterFile, "utf8")) as {
    hosts: { name: string; subnet: string }[];
  };
  assert.deepEqual(file.hosts.map((entry) => entry.name).sort(), ["host0", "host1", "host2"]);
  for (const entry of lab.hosts) {
    const listed = file.hosts.find((candidate) => candidate.name === entry.name);
    assert.equal(listed?.subnet, entry.subnet, entry.name);
  }
  const check = await ovsMesh(["lab", "check", "--name", LAB]);
  assert.equal(check.code, 0, check.stdout);
  assert.match(check.stdout, /24 of 24 pairs passed/);

  const gone = lab.hosts[0];
  assert.ok(gone);
  const removed = await ovsMesh(["lab", "remove", "--name", LAB, gone.name]);
  assert.equal(removed.code, 0, removed.stderr);
  const left = await loadLab(LAB);
  for (const peer of left.hosts) {
    assert.deepEqual(flowsMentioning(await dumpFlows(peer), gone), [], peer.name);
  }
  const after = parse(await readFile(lab.clusterFile, "utf8")) as { hosts: { name: string }[] };
  assert.deepEqual(after.hosts.map((entry) => entry.name).sort(), ["host1", "host2"]);
});
