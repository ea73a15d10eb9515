import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, test } from "node:test";
import { run, type RunResult } from "../../src/host/exec.js";
import type { CheckReport } from "../../src/lab/check.js";
import { applyCommand, ovsMeshBinary } from "../../src/lab/configure.js";
import { destroyLab } from "../../src/lab/down.js";
import type { Lab, LabHost } from "../../src/lab/lab.js";
import { inNamespace } from "../../src/lab/namespaces.js";
import { ovsEnvironment } from "../../src/lab/ovs-daemons.js";
import { loadLab } from "../../src/lab/state.js";
import { COOKIE } from "../../src/plan/state.js";

// The main job end to end: labs of 3 and 5 hosts, each tunnel type in each mode, configured by
// `ovs-mesh apply` in every host's namespace and proven pair by pair with `lab check`.

const LAB = "t-mesh";
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);
const TEN_MIB = 10 * 1024 * 1024;
/** CPU share above which an ovs-vswitchd is not idle; a broadcast storm keeps each at 40-60%. */
const IDLE_CPU_LIMIT = 0.05;

after(() => destroyLab(LAB));

function ovsMesh(args: string[]): Promise<RunResult> {
  return run([process.execPath, ovsMeshBinary(), ...args], {
    okCodes: ANY_EXIT_CODE,
    timeoutMs: 600_000,
  });
}

function inHost(host: LabHost, argv: string[]): Promise<RunResult> {
  return run(inNamespace(host.namespace, argv), {
    env: ovsEnvironment(host),
    okCodes: ANY_EXIT_CODE,
    timeoutMs: 120_000,
  });
}

/** CPU time (user + system) of a process, in clock ticks. */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Share of one CPU that each process used over `ms` milliseconds. */
async function cpuShares(pids: number[], ms: number): Promise<number[]> {
  const before = await Promise.all(pids.map(cpuTicks));
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = await Promise.all(pids.map(cpuTicks));
  // Linux reports CPU time in USER_HZ ticks, 100 per second on every architecture it supports.
  return after.map((ticks, index) => (ticks - (before[index] ?? 0)) / 100 / (ms / 1000));
}

const combinations: [number, string, string, number][] = [];
for (const hosts of [3, 5]) {
  for (const mode of ["flow", "port"]) {
    for (const [tunnel, mtu] of [
      ["gre", 1462],
      ["vxlan", 1450],
      ["geneve", 1450],
    ] as const) {
      combinations.push([hosts, tunnel, mode, mtu]);
    }
  }
}

for (const [hosts, tunnel, mode, mtu] of combinations) {
  test(`mesh of ${hosts} hosts over ${tunnel} in ${mode} mode`, async (t) => {
    await destroyLab(LAB);
    const up = await ovsMesh(
      ["lab", "up", "--name", LAB, "--hosts", String(hosts), "--containers", "1"].concat([
        "--tunnel",
        tunnel,
        "--mode",
        mode,
      ]),
    );
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const lab: Lab = await loadLab(LAB);

    await t.test("lab check passes for every pair", async () => {
      const result = await ovsMesh(["lab", "check", "--name", LAB, "--json"]);
      const report = JSON.parse(result.stdout) as CheckReport;
      assert.equal(report.pairs.length, hosts * (hosts - 1));
      for (const pair of report.pairs) {
        const label = `${pair.source.host} -> ${pair.destination.host}`;
        assert.equal(pair.ping.ok, true, `${label}: ${pair.ping.detail}`);
        assert.equal(pair.transfer.received, TEN_MIB, `${label}: ${pair.transfer.detail}`);
        assert.equal(pair.mtu, mtu, label);
        assert.equal(pair.mtuFits?.replied, true, `${label}: ${pair.mtuFits?.detail}`);
        assert.equal(pair.mtuExceeds?.replied, false, `${label}: ${pair.mtuExceeds?.detail}`);
      }
      assert.equal(result.code, 0);
    });

    await t.test("switches are idle after the check", async () => {
      const pids = lab.hosts.map((host) => host.pids.ovsVswitchd ?? 0);
      const shares = await cpuShares(pids, 2000);
      shares.forEach((share, index) => {
        assert.ok(share < IDLE_CPU_LIMIT, `${lab.hosts[index]?.name}: ovs-vswitchd at ${share}`);
      });
    });

    await t.test("a second apply changes nothing", async () => {
      for (const host of lab.hosts) {
        const result = await inHost(host, applyCommand(lab, host));
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, `${host.name}: up to date, nothing to change\n`);
      }
    });

    await t.test("reset leaves no ovs-mesh object", async () => {
      for (const host of lab.hosts) {
        const apply = applyCommand(lab, host);
        const stateDir = apply[apply.indexOf("--state-dir") + 1] ?? "";
        const reset = await inHost(host, [
          process.execPath,
          ovsMeshBinary(),
          "reset",
          "--ovsdb",
          host.dbSocket,
          "--ovs-rundir",
          host.runDirectory,
          "--state-dir",
          stateDir,
        ]);
        assert.equal(reset.code, 0, reset.stderr);

        const bridges = await inHost(host, [
          "ovs-vsctl",
          "--db",
          `unix:${host.dbSocket}`,
          "list-br",
        ]);
        assert.deepEqual(bridges.stdout.trim().split("\n"), ["br-phy"], host.name);
        const flows = await inHost(host, [
          "ovs-ofctl",
          "dump-flows",
          "br-phy",
          `cookie=${COOKIE}/-1`,
        ]);
        assert.doesNotMatch(flows.stdout, /cookie=/, host.name);
        const filter = await inHost(host, ["iptables", "-S"]);
        assert.doesNotMatch(filter.stdout, /OVS-MESH/, host.name);
        const nat = await inHost(host, ["iptables", "-t", "nat", "-S"]);
        assert.doesNotMatch(nat.stdout, /OVS-MESH/, host.name);
        const routes = await inHost(host, ["ip", "route", "show", lab.clusterRange]);
        assert.equal(routes.stdout.trim(), "", host.name);
        const links = await inHost(host, ["ip", "-o", "link", "show"]);
        assert.doesNotMatch(links.stdout, /\bbr0\b/, host.name);
      }
    });

    await destroyLab(LAB);
  });
}
