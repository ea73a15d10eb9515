import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

import { run } from "../../src/host/exec.js";
import { createNetns, deleteNetns, startOvsInstance } from "./ovs-instance.js";

const CHILD = fileURLToPath(new URL("./_converge-known-child.js", import.meta.url));
const SKIP = process.getuid?.() === 0 ? false : "needs root to create network namespaces";

interface Line {
  label: string;
  steps?: number;
  flows?: number;
  programs?: string[];
  knownLinux: boolean;
}

test("converge from known state skips reads", { skip: SKIP }, async () => {
  const netns = await createNetns("omt-known-");
  try {
    const ovs = await startOvsInstance(netns);
    try {
      const paths = {
        ovsdbSocket: ovs.dbSocket,
        ovsRunDir: ovs.runDir,
        stateDir: join(ovs.runDir, "ovs-mesh"),
      };
      const { stdout } = await run(
        ["ip", "netns", "exec", netns, process.execPath, CHILD, JSON.stringify(paths)],
        { env: ovs.env, timeoutMs: 120_000 },
      );
      const lines = stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Line);
      const byLabel = new Map(lines.map((line) => [line.label, line]));

      const first = byLabel.get("first known");
      assert.equal(first?.knownLinux, false, "a run that changed Linux state does not keep it");
      assert.equal(byLabel.get("read 3 hosts")?.knownLinux, true);

      const added = byLabel.get("add from known");
      assert.equal(added?.steps, 1, "only the new peer's rules change");
      assert.deepEqual(added?.programs, ["ovs-ofctl"], "one bundle, and no dump or Linux read");
      assert.equal(byLabel.get("check 4 hosts")?.steps, 0, "the host has the fourth peer");
      assert.equal(byLabel.get("check 4 hosts")?.flows, 17);

      const removed = byLabel.get("remove from known");
      assert.equal(removed?.steps, 1);
      assert.deepEqual(removed?.programs, ["ovs-ofctl"]);
      assert.equal(byLabel.get("check 3 hosts")?.steps, 0, "the host is back to 3 hosts");
    } finally {
      await ovs.stop();
    }
  } finally {
    await deleteNetns(netns);
  }
});
