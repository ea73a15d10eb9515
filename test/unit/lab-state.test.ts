import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LabError } from "../../src/lab/errors.js";
import {
  createLabDirectory,
  labStatePath,
  listLabNames,
  loadLab,
  readLab,
  removeLabDirectory,
  writeLab,
} from "../../src/lab/state.js";
import { planLab } from "../../src/lab/topology.js";

async function withRoot(work: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "lab-state-"));
  try {
    await work(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function sampleLab(root: string) {
  return planLab({ name: "t-state", hosts: 2, containers: 1, tunnel: "gre", mode: "flow" }, root);
}

test("lab state survives a write and a read", async () => {
  await withRoot(async (root) => {
    const lab = sampleLab(root);
    await createLabDirectory(root, lab.name);
    const first = lab.hosts[0];
    assert.ok(first !== undefined);
    first.pids.ovsdbServer = 4242;
    await writeLab(root, lab);
    assert.deepEqual(await readLab(root, lab.name), lab);
    assert.deepEqual(await listLabNames(root), ["t-state"]);
  });
});

test("createLabDirectory rejects an existing lab", async () => {
  await withRoot(async (root) => {
    await createLabDirectory(root, "t-state");
    await assert.rejects(
      createLabDirectory(root, "t-state"),
      (error: unknown) =>
        error instanceof LabError &&
        error.message.includes('lab "t-state" exists already') &&
        error.message.includes("ovs-mesh lab down --name t-state"),
    );
  });
});

test("readLab returns undefined for a missing lab", async () => {
  await withRoot(async (root) => {
    assert.equal(await readLab(root, "absent"), undefined);
    await assert.rejects(
      loadLab("absent", root),
      (error: unknown) =>
        error instanceof LabError && error.message.includes('no lab named "absent"'),
    );
  });
});

test("readLab rejects a damaged state file", async () => {
  await withRoot(async (root) => {
    const lab = sampleLab(root);
    await createLabDirectory(root, lab.name);
    await writeLab(root, lab);
    const path = labStatePath(root, lab.name);
    const value = JSON.parse(await readFile(path, "utf8")) as { hosts: { pids: unknown }[] };
    if (value.hosts[1] !== undefined) {
      value.hosts[1].pids = { ovsdbServer: "x", ovsVswitchd: null };
    }
    await writeFile(path, JSON.stringify(value));
    await assert.rejects(
      readLab(root, lab.name),
      (error: unknown) => error instanceof LabError && error.message.includes("hosts[1].pids"),
    );

    await writeFile(path, "{");
    await assert.rejects(
      readLab(root, lab.name),
      (error: unknown) => error instanceof LabError && error.message.includes("invalid JSON"),
    );
  });
});

test("removeLabDirectory rejects a name outside the root", async () => {
  await withRoot(async (root) => {
    await assert.rejects(removeLabDirectory(root, ".."), LabError);
  });
});
