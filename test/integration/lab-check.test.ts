import assert from "node:assert/strict";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { run, type RunResult } from "../../src/host/exec.js";
import type { CheckReport } from "../../src/lab/check.js";
import { destroyLab } from "../../src/lab/down.js";

// The output of `lab check`; test/integration/mesh.test.ts covers every tunnel type and mode.

const LAB = "t-lab2";
const BINARY = fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

function ovsMesh(args: string[]): Promise<RunResult> {
  return run([process.execPath, BINARY, ...args], { okCodes: ANY_EXIT_CODE, timeoutMs: 600_000 });
}

async function up(args: string[]): Promise<void> {
  await destroyLab(LAB);
  const result = await ovsMesh(["lab", "up", "--name", LAB, ...args]);
  assert.equal(result.code, 0, result.stderr);
}

async function checkJson(): Promise<{ code: number; report: CheckReport }> {
  const result = await ovsMesh(["lab", "check", "--name", LAB, "--json"]);
  return { code: result.code, report: JSON.parse(result.stdout) as CheckReport };
}

// Cleanup calls the library, so that it works even when the CLI fails to load.
after(() => destroyLab(LAB));

test("lab check prints a table and a summary", async () => {
  await up(["--hosts", "2", "--containers", "1"]);
  const result = await ovsMesh(["lab", "check", "--name", LAB]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const lines = result.stdout.trim().split("\n");
  assert.match(lines[0] ?? "", /^FROM\s+TO\s+ADDRESS\s+PING\s+TCP\s+DF 1462\s+DF \+1$/);
  assert.match(
    lines[1] ?? "",
    /^host0\/c0\s+host1\/c0\s+10\.240\.2\.2\s+ok\s+ok \d+ Mbit\/s\s+ok\s+blocked$/,
  );
  assert.equal(lines.at(-1), "lab t-lab2: 2 of 2 pairs passed, 0 failed: passed");
});

test("lab check fails without tunnels", async () => {
  await up(["--hosts", "2", "--containers", "1", "--no-apply"]);
  const { code, report } = await checkJson();
  assert.equal(code, 1);
  assert.equal(report.pairs.length, 2);
  assert.equal(report.failed, 2);
  for (const pair of report.pairs) {
    assert.equal(pair.ping.ok, false);
    assert.equal(pair.ping.received, 0);
    assert.equal(pair.transfer.ok, false);
    assert.equal(pair.transfer.received, null);
    assert.equal(pair.mtuFits?.replied, false);
    assert.equal(pair.ok, false);
  }
});

test("lab check fails with no pairs", async () => {
  await up(["--hosts", "1", "--containers", "2", "--no-apply"]);
  const result = await ovsMesh(["lab", "check", "--name", LAB]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /no containers on two different hosts/);
});
