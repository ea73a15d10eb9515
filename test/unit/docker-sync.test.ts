import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { syncDockerConfig } from "../../src/agent/docker-sync.js";
import type { LogFields, Logger } from "../../src/agent/log.js";

function recordingLogger(): { log: Logger; lines: { level: string; fields: LogFields }[] } {
  const lines: { level: string; fields: LogFields }[] = [];
  const log: Logger = {
    info: (fields) => lines.push({ level: "info", fields }),
    warn: (fields) => lines.push({ level: "warn", fields }),
    error: (fields) => lines.push({ level: "error", fields }),
  };
  return { log, lines };
}

test("syncDockerConfig writes once and warns to restart", async () => {
  const dir = await mkdtemp(join(tmpdir(), "omt-docker-sync-"));
  try {
    const paths = {
      daemonJsonPath: join(dir, "daemon.json"),
      envFilePath: join(dir, "subnet.env"),
    };
    await writeFile(paths.daemonJsonPath, '{"log-level": "warn", "mtu": 1500}\n');
    const desired = { subnet: "10.240.2.0/24", innerMtu: 1462 };
    const { log, lines } = recordingLogger();

    assert.equal(await syncDockerConfig(paths, desired, "10.240.0.0/16", log), true);
    assert.deepEqual(JSON.parse(await readFile(paths.daemonJsonPath, "utf8")), {
      "log-level": "warn",
      mtu: 1462,
      bip: "10.240.2.1/24",
    });
    assert.match(await readFile(paths.envFilePath, "utf8"), /^OVS_MESH_SUBNET=10\.240\.2\.0\/24$/m);
    assert.deepEqual(
      lines.map((line) => `${line.level} ${line.fields.event}`),
      ["info subnet-file", "warn docker-config"],
    );
    const warning = lines[1]?.fields;
    assert.equal(warning?.bip, "10.240.2.1/24");
    assert.equal(warning?.mtu, 1462);
    assert.equal(warning?.previousBip, null);
    assert.equal(warning?.previousMtu, 1500);

    assert.equal(await syncDockerConfig(paths, desired, "10.240.0.0/16", log), false);
    assert.equal(lines.length, 2, "a second call with the same subnet logs nothing");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("syncDockerConfig rejects a daemon.json with bridge", async () => {
  const dir = await mkdtemp(join(tmpdir(), "omt-docker-sync-"));
  try {
    const paths = {
      daemonJsonPath: join(dir, "daemon.json"),
      envFilePath: join(dir, "subnet.env"),
    };
    await writeFile(paths.daemonJsonPath, '{"bridge": "br-custom"}\n');
    const { log, lines } = recordingLogger();
    await assert.rejects(
      syncDockerConfig(paths, { subnet: "10.240.2.0/24", innerMtu: 1462 }, "10.240.0.0/16", log),
      /sets "bridge": "br-custom"/,
    );
    assert.equal(await readFile(paths.daemonJsonPath, "utf8"), '{"bridge": "br-custom"}\n');
    assert.deepEqual(lines, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
