import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import { test } from "node:test";
import { ROOT_SNAPSHOT_FILE, snapshotRootNamespace } from "./root-snapshot.js";

test("root namespace unchanged by the suite", async () => {
  const before: unknown = JSON.parse(await readFile(ROOT_SNAPSHOT_FILE, "utf8"));
  const after = await snapshotRootNamespace();
  await rm(ROOT_SNAPSHOT_FILE);
  assert.deepEqual(after, before);
});
