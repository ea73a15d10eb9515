import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { run } from "../../src/host/exec.js";
import { startEtcd, type EtcdCluster } from "../../src/lab/etcd.js";

test("startEtcd runs a member inside a namespace", async () => {
  const netns = `omt-etcd-${randomBytes(4).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), "omt-etcd-"));
  let cluster: EtcdCluster | undefined;
  await run(["ip", "netns", "add", netns]);
  try {
    await run(["ip", "-n", netns, "link", "set", "lo", "up"]);
    cluster = await startEtcd({ dir, netns });
    assert.deepEqual(cluster.endpoints, ["http://127.0.0.1:2379"]);

    const inNamespace = [
      "ip",
      "netns",
      "exec",
      netns,
      "etcdctl",
      `--endpoints=${cluster.endpoints.join(",")}`,
    ];
    await run([...inNamespace, "put", "/omt/key", "value"]);
    const { stdout } = await run([...inNamespace, "get", "--print-value-only", "/omt/key"]);
    assert.equal(stdout.trim(), "value");

    await cluster.stopMember(0);
    await assert.rejects(run([...inNamespace, "--dial-timeout=1s", "endpoint", "health"]));
    await cluster.startMember(0);
    const again = await run([...inNamespace, "get", "--print-value-only", "/omt/key"]);
    assert.equal(again.stdout.trim(), "value");

    await cluster.stop();
    cluster = undefined;
    const files = await readdir(dir);
    assert.ok(!files.some((name) => name.endsWith(".pid")), `pid files left: ${files.join(", ")}`);
  } finally {
    await cluster?.stop();
    await run(["ip", "netns", "delete", netns]);
    await rm(dir, { recursive: true, force: true });
  }
});
