import { test } from "node:test";
import { ROOT_SNAPSHOT_FILE, snapshotRootNamespace } from "./root-snapshot.js";
import { writeFile } from "node:fs/promises";

test("root namespace snapshot taken before the suite", async () => {
  await writeFile(ROOT_SNAPSHOT_FILE, JSON.stringify(await snapshotRootNamespace()));
});
