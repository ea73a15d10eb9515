import assert from "node:assert/strict";
import { access, readFile, readdir, writeFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { run, type RunResult } from "../../src/host/exec.js";
import { destroyLab } from "../../src/lab/down.js";
import { readProcess } from "../../src/lab/processes.js";
import type { LabStatus } from "../../src/lab/status.js";

// Builds a two-host lab without `ovs-mesh apply`, so that it checks only what the lab itself
// builds: namespaces, OVS daemons, br-phy, docker0, containers, status, exec and down.

const LAB = "t-lab1";
const PREFIX = `om-${LAB}-`;
const DIRECTORY = `/var/lib/ovs-mesh/lab/${LAB}`;
const BINARY = fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

function ovsMesh(args: string[]): Promise<RunResult> {
  return run([process.execPath, BINARY, ...args], { okCodes: ANY_EXIT_CODE, timeoutMs: 300_000 });
}

async function labNamespaces(): Promise<string[]> {
  const { stdout } = await run(["ip", "netns", "list"]);
  return stdout
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(PREFIX));
}

/** Returns the live processes whose arguments mention the lab's directory. */
async function labProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (/^\d+$/.test(entry)) {
      const info = await readProcess(Number(entry));
      if (info !== undefined && info.argv.some((arg) => arg.includes(`${DIRECTORY}/`))) {
        found.push(`${info.pid} ${info.argv.join(" ")}`);
      }
    }
  }
  return found;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return false;
    }
    throw error;
  }
}

async function status(): Promise<LabStatus> {
  const result = await ovsMesh(["lab", "status", "--name", LAB, "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as LabStatus;
}

// Setup and cleanup call the library, so that they work even when the CLI fails to load.
before(() => destroyLab(LAB));
after(() => destroyLab(LAB));

test("lab up builds two hosts", async () => {
  const result = await ovsMesh([
    "lab",
    "up",
    "--name",
    LAB,
    "--hosts",
    "2",
    "--containers",
    "2",
    "--tunnel",
    "vxlan",
    "--no-apply",
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /lab t-lab1 is ready: 2 hosts, vxlan tunnels in flow mode/);
});

test("lab up rejects an existing lab", async () => {
  const result = await ovsMesh(["lab", "up", "--name", LAB, "--no-apply"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /lab "t-lab1" exists already/);
});

test("lab status reports what was asked", async () => {
  const lab = await status();
  assert.equal(lab.name, LAB);
  assert.equal(lab.status, "ready");
  assert.equal(lab.healthy, true);
  assert.equal(lab.tunnel, "vxlan");
  assert.equal(lab.mode, "flow");
  assert.equal(lab.switchNamespace, `${PREFIX}sw`);
  assert.equal(lab.switchExists, true);
  assert.deepEqual(
    lab.hosts.map((host) => [host.name, host.namespace, host.underlayIp, host.subnet]),
    [
      ["host0", `${PREFIX}host0`, "198.18.0.10", "10.240.1.0/24"],
      ["host1", `${PREFIX}host1`, "198.18.0.11", "10.240.2.0/24"],
    ],
  );
  for (const host of lab.hosts) {
    assert.equal(host.exists, true);
    assert.equal(host.dbSocket, `${DIRECTORY}/${host.name}/db.sock`);
    assert.equal(host.runDirectory, `${DIRECTORY}/${host.name}`);
    assert.equal(host.daemons.ovsdbServer.running, true);
    assert.equal(host.daemons.ovsVswitchd.running, true);
    // Without apply the lab creates docker0 as Docker would: inner MTU of VXLAN on 1500.
    assert.equal(host.dockerMtu, 1450);
  }
  assert.deepEqual(
    lab.hosts.flatMap((host) => host.containers.map((c) => [c.name, c.ip, c.exists])),
    [
      ["c0", "10.240.1.2", true],
      ["c1", "10.240.1.3", true],
      ["c0", "10.240.2.2", true],
      ["c1", "10.240.2.3", true],
    ],
  );
  assert.deepEqual((await labNamespaces()).sort(), [
    `${PREFIX}host0`,
    `${PREFIX}host0-c0`,
    `${PREFIX}host0-c1`,
    `${PREFIX}host1`,
    `${PREFIX}host1-c0`,
    `${PREFIX}host1-c1`,
    `${PREFIX}sw`,
  ]);
});

test("lab exec reaches the host's own OVS", async () => {
  const show = await ovsMesh(["lab", "exec", "--name", LAB, "host1", "--", "ovs-vsctl", "show"]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /Bridge br-phy\n\s+datapath_type: netdev/);
  assert.match(show.stdout, /Port eth0/);

  const flows = await ovsMesh([
    "lab",
    "exec",
    "--name",
    LAB,
    "host1",
    "--",
    "ovs-ofctl",
    "dump-flows",
    "br-phy",
  ]);
  assert.equal(flows.code, 0, flows.stderr);
  assert.match(flows.stdout, /actions=NORMAL/);

  const appctl = await ovsMesh([
    "lab",
    "exec",
    "--name",
    LAB,
    "host1",
    "--",
    "ovs-appctl",
    "ovs/route/show",
  ]);
  assert.equal(appctl.code, 0, appctl.stderr);
  assert.match(appctl.stdout, /198\.18\.0\.0\/24 dev br-phy SRC 198\.18\.0\.11/);
});

test("lab exec pings across the underlay", async () => {
  const result = await ovsMesh([
    "lab",
    "exec",
    "--name",
    LAB,
    "host0",
    "--",
    "ping",
    "-c",
    "2",
    "-i",
    "0.2",
    "-w",
    "5",
    "198.18.0.11",
  ]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /2 packets transmitted, 2 received/);
});

test("lab exec runs in a container", async () => {
  const address = await ovsMesh([
    "lab",
    "exec",
    "--name",
    LAB,
    "host1/c1",
    "--",
    "ip",
    "-4",
    "-o",
    "address",
    "show",
    "dev",
    "eth0",
  ]);
  assert.equal(address.code, 0, address.stderr);
  assert.match(address.stdout, /inet 10\.240\.2\.3\/24/);

  const route = await ovsMesh([
    "lab",
    "exec",
    "--name",
    LAB,
    "host1/c1",
    "--",
    "ip",
    "route",
    "show",
    "default",
  ]);
  assert.match(route.stdout, /default via 10\.240\.2\.1 dev eth0/);

  const gateway = await ovsMesh([
    "lab",
    "exec",
    "--name",
    LAB,
    "host1/c1",
    "--",
    "ping",
    "-c",
    "1",
    "-w",
    "5",
    "10.240.2.1",
  ]);
  assert.equal(gateway.code, 0, gateway.stdout + gateway.stderr);
});

test("lab exec passes the exit code through", async () => {
  const result = await ovsMesh([
    "lab",
    "exec",
    "--name",
    LAB,
    "host0/c0",
    "--",
    "sh",
    "-c",
    "echo out; echo err >&2; exit 3",
  ]);
  assert.equal(result.code, 3);
  assert.equal(result.stdout, "out\n");
  assert.equal(result.stderr, "err\n");
});

test("lab exec rejects an unknown container", async () => {
  const result = await ovsMesh(["lab", "exec", "--name", LAB, "host0/c9", "--", "true"]);
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /container "c9" not found on host0 in lab t-lab1: its containers are c0, c1/,
  );
});

test("lab down removes what lab.json misses", async () => {
  const before = await status();
  const pids = before.hosts.flatMap((host) => [
    host.daemons.ovsdbServer.pid,
    host.daemons.ovsVswitchd.pid,
  ]);

  // A process left in a container, and a lab.json as a crash before the containers and the
  // daemon pids were recorded would leave it.
  const stray = await ovsMesh([
    "lab",
    "exec",
    "--name",
    LAB,
    "host0/c1",
    "--",
    "sh",
    "-c",
    "sleep 600 >/dev/null 2>&1 </dev/null & echo $!",
  ]);
  assert.equal(stray.code, 0, stray.stderr);
  const strayPid = Number(stray.stdout.trim());
  assert.ok(strayPid > 0, `stray pid ${stray.stdout}`);
  const path = `${DIRECTORY}/lab.json`;
  const recorded = JSON.parse(await readFile(path, "utf8")) as {
    hosts: { pids: unknown; containers: unknown[] }[];
  };
  for (const host of recorded.hosts) {
    host.pids = { ovsdbServer: null, ovsVswitchd: null };
    host.containers = [];
  }
  await writeFile(path, JSON.stringify(recorded));

  const result = await ovsMesh(["lab", "down", "--name", LAB]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    /stopped 4 OVS daemons and 1 other processes, deleted 7 namespaces and the state directory/,
  );

  assert.deepEqual(await labNamespaces(), []);
  assert.deepEqual(await labProcesses(), []);
  for (const pid of [...pids, strayPid]) {
    assert.ok(pid !== null);
    assert.equal(await readProcess(pid), undefined, `process ${pid} still runs`);
  }
  assert.equal(await exists(DIRECTORY), false);
});

test("lab down succeeds twice", async () => {
  const result = await ovsMesh(["lab", "down", "--name", LAB]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "lab t-lab1: nothing to remove\n");
});

test("lab status reports a missing lab", async () => {
  const result = await ovsMesh(["lab", "status", "--name", LAB]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /no lab named "t-lab1"/);
});
