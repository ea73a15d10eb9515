import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { writeDockerConfig } from "../../src/host/docker-config.js";
import { CommandError, run } from "../../src/host/exec.js";
import {
  CGROUP_PREFIX,
  attachDockerd,
  ensureImage,
  execInContainer,
  inspectContainer,
  missingSharedDockerDirs,
  removeContainer,
  removeSharedDockerDirs,
  runContainer,
  startDockerd,
  stopDockerd,
  waitForContainer,
  type DockerDaemon,
  type LabContainer,
} from "../../src/lab/docker.js";

/** The parts of the root network namespace that these tests must leave as they were. */
async function snapshotRootNamespace(): Promise<string[]> {
  const commands = [
    ["ip", "-json", "link", "show"],
    ["ip", "-json", "addr", "show"],
    ["ip", "route", "show", "table", "all"],
    ["iptables", "-S"],
    ["iptables", "-t", "nat", "-S"],
  ];
  const outputs: string[] = [];
  for (const argv of commands) {
    outputs.push((await run(argv)).stdout);
  }
  return outputs;
}

async function skipReason(): Promise<string | false> {
  if (process.getuid?.() !== 0) {
    return "needs root for network namespaces and dockerd";
  }
  try {
    await run(["dockerd", "--version"]);
  } catch (error) {
    if (error instanceof CommandError && error.code === null) {
      return "needs dockerd (Debian package docker.io)";
    }
    throw error;
  }
  return false;
}

/** Returns whether a process exists and is not a zombie that its parent has yet to reap. */
async function processRuns(pid: number): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return false;
    }
    throw error;
  }
  const state = text.slice(text.lastIndexOf(")") + 2, text.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** Process ids of the containerd shims that serve `containerdSocket`. */
async function shimPids(containerdSocket: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    let cmdline: string;
    try {
      cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        continue;
      }
      throw error;
    }
    if (cmdline.includes("containerd-shim") && cmdline.split("\0").includes(containerdSocket)) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return false;
    }
    throw error;
  }
}

/** Lists the entries of a directory; none when it does not exist. */
async function listDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return [];
    }
    throw error;
  }
}

/** Stops the daemons, then deletes the namespace and the directory even if stopping failed. */
async function cleanUp(netns: string, dir: string): Promise<void> {
  try {
    if (dir !== "") {
      await stopDockerd(dir);
    }
  } finally {
    await run(["ip", "netns", "delete", netns], { okCodes: [0, 1] });
    if (dir !== "") {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

interface BridgeState {
  addresses: string[];
  mtu: number;
}

async function bridgeState(netns: string): Promise<BridgeState> {
  const { stdout } = await run(["ip", "-n", netns, "-json", "addr", "show", "dev", "docker0"]);
  const [link] = JSON.parse(stdout) as {
    mtu: number;
    addr_info: { family: string; local: string; prefixlen: number }[];
  }[];
  assert.ok(link, "docker0 is missing");
  return {
    mtu: link.mtu,
    addresses: link.addr_info
      .filter((info) => info.family === "inet")
      .map((info) => `${info.local}/${info.prefixlen}`),
  };
}

async function containerMtu(daemon: DockerDaemon, name: string): Promise<string> {
  const { stdout } = await execInContainer(daemon, name, ["cat", "/sys/class/net/eth0/mtu"]);
  return stdout.trim();
}

async function memoryOf(pid: number): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? "?";
  const anonymous = /^RssAnon:\s+(\d+) kB/m.exec(status)?.[1] ?? "?";
  return `RSS ${Math.round(Number(rss) / 1024)} MiB (anonymous ${Math.round(Number(anonymous) / 1024)} MiB)`;
}

const skip = await skipReason();

describe("lab Docker daemon in a namespace", { skip }, () => {
  const netns = `omt-docker-${randomBytes(4).toString("hex")}`;
  let dir = "";
  let daemon: DockerDaemon | undefined;
  let first: LabContainer | undefined;
  let second: LabContainer | undefined;
  let rootBefore: string[] = [];
  const keyFileExisted = { value: false };
  const sharedDirsExisted = new Map<string, boolean>();
  let missingSharedDirs: string[] = [];
  const timings: string[] = [];

  before(async () => {
    rootBefore = await snapshotRootNamespace();
    keyFileExisted.value = await pathExists("/etc/docker/key.json");
    for (const path of ["/run/containerd", "/run/docker"]) {
      sharedDirsExisted.set(path, await pathExists(path));
    }
    missingSharedDirs = await missingSharedDockerDirs();
    dir = await mkdtemp(join(tmpdir(), "omt-docker-"));
    await run(["ip", "netns", "add", netns]);
    await run(["ip", "-n", netns, "link", "set", "lo", "up"]);

    let started = performance.now();
    daemon = await startDockerd({ netns, dir, bip: "10.240.1.1/24", mtu: 1450 });
    timings.push(`startDockerd ${Math.round(performance.now() - started)} ms`);

    started = performance.now();
    const imported = await ensureImage(daemon);
    timings.push(`ensureImage ${Math.round(performance.now() - started)} ms`);
    assert.equal(imported, true);

    started = performance.now();
    first = await runContainer(daemon, "c1");
    timings.push(`runContainer ${Math.round(performance.now() - started)} ms`);
    second = await runContainer(daemon, "c2");
  });

  after(async () => {
    try {
      await cleanUp(netns, dir);
    } finally {
      await removeSharedDockerDirs(missingSharedDirs);
    }
  });

  function started(): { daemon: DockerDaemon; first: LabContainer; second: LabContainer } {
    assert.ok(daemon && first && second, "the daemon and containers were not started");
    return { daemon, first, second };
  }

  test("daemon start and memory", async (t) => {
    const { daemon } = started();
    t.diagnostic(timings.join(", "));
    t.diagnostic(`dockerd ${await memoryOf(daemon.pid)}`);
    t.diagnostic(`containerd ${await memoryOf(daemon.containerdPid)}`);
    const { stdout } = await run(
      ["docker", "-H", `unix://${daemon.socket}`, "info", "--format", "{{json .}}"],
      { env: { DOCKER_CONFIG: join(dir, "client") } },
    );
    const info = JSON.parse(stdout) as Record<string, unknown>;
    t.diagnostic(
      `storage driver ${String(info.Driver)}, cgroup driver ${String(info.CgroupDriver)}, cgroup version ${String(info.CgroupVersion)}`,
    );
    assert.equal(info.DockerRootDir, join(dir, "data"));
  });

  test("containers get MTU 1450", async () => {
    const { daemon } = started();
    assert.equal(await containerMtu(daemon, "c1"), "1450");
    assert.equal(await containerMtu(daemon, "c2"), "1450");
  });

  test("containers get addresses in the subnet", () => {
    const { first, second } = started();
    assert.match(first.ip, /^10\.240\.1\.\d+$/);
    assert.match(second.ip, /^10\.240\.1\.\d+$/);
    assert.notEqual(first.ip, second.ip);
    assert.equal(first.prefixLength, 24);
    assert.ok(first.pid > 0);
    assert.equal(first.netnsPath, `/proc/${first.pid}/ns/net`);
  });

  test("docker0 has the gateway address", async () => {
    assert.deepEqual(await bridgeState(netns), { addresses: ["10.240.1.1/24"], mtu: 1450 });
  });

  test("container pings the other", async () => {
    const { daemon, second } = started();
    const { stdout } = await execInContainer(daemon, "c1", [
      "ping",
      "-c",
      "2",
      "-W",
      "2",
      second.ip,
    ]);
    assert.match(stdout, /2 packets transmitted, 2 packets received/);
  });

  test("don't-fragment ping fits the MTU exactly", async () => {
    const { first, second } = started();
    // 1450 - 20 (IPv4) - 8 (ICMP) = 1422 bytes of payload; busybox ping cannot set DF,
    // so the host's iputils ping runs in the container's network namespace.
    const ping = (size: number) =>
      run(
        [
          "nsenter",
          `--net=${first.netnsPath}`,
          "ping",
          "-M",
          "do",
          "-c",
          "1",
          "-W",
          "2",
          "-s",
          String(size),
          second.ip,
        ],
        { okCodes: [0, 1, 2] },
      );
    const fits = await ping(1422);
    assert.equal(fits.code, 0, fits.stdout + fits.stderr);
    const tooBig = await ping(1423);
    assert.notEqual(tooBig.code, 0);
    assert.match(tooBig.stdout + tooBig.stderr, /mtu = 1450|message too long/i);
  });

  test("attachDockerd finds the running daemon", async () => {
    const { daemon } = started();
    const attached = await attachDockerd(netns, dir);
    assert.equal(attached.pid, daemon.pid);
    assert.equal(attached.containerdPid, daemon.containerdPid);
    assert.equal((await inspectContainer(attached, "c1")).running, true);
  });

  test("ensureImage skips an existing image", async () => {
    const { daemon } = started();
    assert.equal(await ensureImage(daemon), false);
  });

  test("restart brings docker0 and containers back", async (t) => {
    const { daemon } = started();
    const pidBefore = daemon.pid;
    // dockerd leaves docker0 in place when it stops; deleting it proves that the new
    // dockerd creates it again.
    await run(["ip", "-n", netns, "link", "delete", "docker0"]);

    const begin = performance.now();
    await daemon.restart();
    const c1 = await waitForContainer(daemon, "c1");
    const c2 = await waitForContainer(daemon, "c2");
    t.diagnostic(`restart until both containers run: ${Math.round(performance.now() - begin)} ms`);

    assert.notEqual(daemon.pid, pidBefore);
    assert.equal(await processRuns(pidBefore), false);
    assert.deepEqual(await bridgeState(netns), { addresses: ["10.240.1.1/24"], mtu: 1450 });
    assert.match(c1.ip, /^10\.240\.1\.\d+$/);
    assert.match(c2.ip, /^10\.240\.1\.\d+$/);
    const { stdout } = await execInContainer(daemon, "c2", ["ping", "-c", "1", "-W", "2", c1.ip]);
    assert.match(stdout, /1 packets received/);
  });

  test("restart applies a new bip and MTU", async () => {
    const { daemon } = started();
    const result = await writeDockerConfig({
      daemonJsonPath: daemon.configPath,
      envFilePath: join(dir, "subnet.env"),
      subnet: "10.240.2.0/24",
      range: "10.240.0.0/16",
      innerMtu: 1400,
    });
    assert.equal(result.daemonJsonChanged, true);

    await daemon.restart();
    const c1 = await waitForContainer(daemon, "c1");
    const c2 = await waitForContainer(daemon, "c2");

    assert.deepEqual(await bridgeState(netns), { addresses: ["10.240.2.1/24"], mtu: 1400 });
    assert.match(c2.ip, /^10\.240\.2\.\d+$/);
    assert.match(c1.ip, /^10\.240\.2\.\d+$/);
    assert.equal(await containerMtu(daemon, "c1"), "1400");
    assert.equal(await containerMtu(daemon, "c2"), "1400");
  });

  test("removeContainer removes once", async () => {
    const { daemon } = started();
    const third = await runContainer(daemon, "c3", { restart: "no" });
    assert.equal(third.running, true);
    assert.equal(await removeContainer(daemon, "c3"), true);
    assert.equal(await removeContainer(daemon, "c3"), false);
    await assert.rejects(inspectContainer(daemon, "c3"), CommandError);
  });

  test("stop leaves no process, cgroup or mount", async (t) => {
    const { daemon } = started();
    const containerdSocket = join(dir, "containerd", "containerd.sock");
    const c1 = await inspectContainer(daemon, "c1");
    const pids = [daemon.pid, daemon.containerdPid, c1.pid, ...(await shimPids(containerdSocket))];
    assert.equal(pids.length, 5, `expected dockerd, containerd, c1 and two shims: ${pids}`);

    const cgroup = join(`${CGROUP_PREFIX}${netns}`, c1.id);
    const hierarchies = await readdir("/sys/fs/cgroup");
    const withCgroup: string[] = [];
    for (const hierarchy of hierarchies) {
      if (await pathExists(join("/sys/fs/cgroup", hierarchy, cgroup))) {
        withCgroup.push(hierarchy);
      }
    }
    assert.notDeepEqual(withCgroup, [], `no cgroup ${cgroup} in /sys/fs/cgroup`);

    const begin = performance.now();
    await daemon.stop();
    t.diagnostic(`stop ${Math.round(performance.now() - begin)} ms`);

    for (const pid of pids) {
      assert.equal(await processRuns(pid), false, `process ${pid} still runs`);
    }
    for (const hierarchy of await readdir("/sys/fs/cgroup")) {
      assert.equal(
        await pathExists(join("/sys/fs/cgroup", hierarchy, `${CGROUP_PREFIX}${netns}`)),
        false,
        hierarchy,
      );
    }
    const mounts = await readFile("/proc/self/mountinfo", "utf8");
    assert.equal(mounts.includes(`${dir}/`), false);
    assert.equal(await pathExists("/etc/docker/key.json"), keyFileExisted.value);
    assert.deepEqual(await listDirectory("/run/containerd/s"), []);

    await daemon.stop();
    await removeSharedDockerDirs(missingSharedDirs);
    for (const [path, existed] of sharedDirsExisted) {
      assert.equal(await pathExists(path), existed, path);
    }
  });

  test("root namespace unchanged", async () => {
    assert.deepEqual(await snapshotRootNamespace(), rootBefore);
  });
});

describe("lab Docker daemon failures", { skip }, () => {
  let missingSharedDirs: string[] = [];

  before(async () => {
    missingSharedDirs = await missingSharedDockerDirs();
  });

  after(async () => {
    await removeSharedDockerDirs(missingSharedDirs);
  });

  test("startDockerd rejects a missing namespace", async () => {
    await assert.rejects(
      startDockerd({
        netns: "omt-docker-absent",
        dir: "/tmp/unused",
        bip: "10.0.0.1/24",
        mtu: 1450,
      }),
      { name: "RangeError", message: /network namespace omt-docker-absent not found/ },
    );
  });

  test("startDockerd reports the log when dockerd exits", async () => {
    const netns = `omt-docker-${randomBytes(4).toString("hex")}`;
    const dir = await mkdtemp(join(tmpdir(), "omt-docker-"));
    try {
      await run(["ip", "netns", "add", netns]);
      // A regular file where dockerd expects its data-root directory.
      await writeFile(join(dir, "data"), "");
      await mkdir(join(dir, "containerd"));

      await assert.rejects(startDockerd({ netns, dir, bip: "10.240.9.1/24", mtu: 1450 }), {
        message: new RegExp(
          `^dockerd \\(process \\d+\\) exited; last lines of ${dir}/dockerd.log:\\n.*data`,
          "s",
        ),
      });
      assert.deepEqual(await shimPids(join(dir, "containerd", "containerd.sock")), []);
      const { stdout } = await run(["ip", "netns", "pids", netns]);
      assert.equal(stdout.trim(), "", "a process still runs in the namespace");
    } finally {
      await cleanUp(netns, dir);
    }
  });

  test("stopDockerd cleans up after the daemons are killed", async () => {
    const netns = `omt-docker-${randomBytes(4).toString("hex")}`;
    const dir = await mkdtemp(join(tmpdir(), "omt-docker-"));
    try {
      await run(["ip", "netns", "add", netns]);
      const daemon = await startDockerd({ netns, dir, bip: "10.240.9.1/24", mtu: 1450 });
      await ensureImage(daemon);
      const container = await runContainer(daemon, "c1");
      const containerdSocket = join(dir, "containerd", "containerd.sock");
      const shims = await shimPids(containerdSocket);
      assert.equal(shims.length, 1);

      // A crash: the daemons die without stopping their containers.
      process.kill(daemon.pid, "SIGKILL");
      process.kill(daemon.containerdPid, "SIGKILL");
      await stopDockerd(dir);

      for (const pid of [daemon.pid, daemon.containerdPid, container.pid, ...shims]) {
        assert.equal(await processRuns(pid), false, `process ${pid} still runs`);
      }
      for (const hierarchy of await readdir("/sys/fs/cgroup")) {
        assert.equal(
          await pathExists(join("/sys/fs/cgroup", hierarchy, `${CGROUP_PREFIX}${netns}`)),
          false,
          hierarchy,
        );
      }
      const mounts = await readFile("/proc/self/mountinfo", "utf8");
      assert.equal(mounts.includes(`${dir}/`), false);
      const { stdout } = await run(["ip", "netns", "pids", netns]);
      assert.equal(stdout.trim(), "", "a process still runs in the namespace");
    } finally {
      await cleanUp(netns, dir);
    }
  });
});
