/**
 * Agent footprint: CPU and memory of a running `ovs-mesh agent` with a cluster file, on an
 * OVS instance of the benchmark's own, while idle and while it takes in a burst of joins.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";

import { run } from "../src/host/exec.js";
import { inNamespace } from "../src/lab/namespaces.js";
import { loadLab } from "../src/lab/state.js";
import { readProcess, stopProcess } from "../src/lab/processes.js";
import type { HostSpec } from "../src/plan/cluster.js";
import { onCleanup } from "./cleanup.js";
import { SYNTHETIC_RANGE, syntheticHost } from "./fixtures.js";
import { BENCH_LAB_ROOT } from "./labs.js";
import { sampleProcess, type Usage } from "./process-usage.js";
import { createNamespace, startOvsInstance, type OvsInstance } from "./sandbox.js";

/** Settings of {@link measureAgent}. */
export interface AgentOptions {
  /** Hosts in the cluster file when the agent starts, itself included. */
  hosts: number;
  idleSeconds: number;
  /** Hosts appended at once for the burst. */
  burst: number;
  /** Whether to also append the burst as one write per host. */
  burstPerHost: boolean;
  onProgress: (message: string) => void;
}

/** Figures of the agent section. */
export interface AgentFigures {
  hosts: number;
  usages: Usage[];
}

interface RunningAgent {
  pid: number;
  events: { event: string; peers?: number; changes?: number }[];
  stop(): Promise<void>;
}

/** Runs the agent twice: with probes off (idle, then bursts) and with default probes (idle). */
export async function measureAgent(options: AgentOptions): Promise<AgentFigures> {
  const namespace = await createNamespace("agent");
  const instance = await startOvsInstance(namespace);
  const directory = await mkdtemp(join(tmpdir(), "omb-agent-"));
  onCleanup(`directory ${directory}`, () => rm(directory, { recursive: true, force: true }));
  const clusterFile = join(directory, "cluster.yaml");
  const ticksPerSecond = Number((await run(["getconf", "CLK_TCK"])).stdout.trim());
  const usages: Usage[] = [];

  await writeCluster(clusterFile, hostsUpTo(options.hosts));
  options.onProgress(`agent: probes off, ${options.hosts} hosts, idle ${options.idleSeconds} s`);
  let agent = await startAgent(instance, clusterFile, ["--probe-seconds", "0"]);
  try {
    await waitForPeers(agent, options.hosts - 1);
    await sleep(2_000);
    usages.push(
      await sample(agent, ticksPerSecond, `idle, probes off, ${options.hosts - 1} peers`, () =>
        sleep(options.idleSeconds * 1000),
      ),
    );

    let total = options.hosts + options.burst;
    options.onProgress(`agent: ${options.burst} hosts in one write`);
    usages.push(
      await sample(agent, ticksPerSecond, `${options.burst} joins in one write`, async () => {
        await writeCluster(clusterFile, hostsUpTo(total));
        await waitForPeers(agent, total - 1);
      }),
    );

    if (options.burstPerHost) {
      options.onProgress(`agent: ${options.burst} hosts in ${options.burst} writes`);
      const first = total;
      total += options.burst;
      usages.push(
        await sample(agent, ticksPerSecond, `${options.burst} joins, one write each`, async () => {
          for (let count = first + 1; count <= total; count += 1) {
            await writeCluster(clusterFile, hostsUpTo(count));
          }
          await waitForPeers(agent, total - 1);
        }),
      );
    }
  } finally {
    await agent.stop();
  }

  await writeCluster(clusterFile, hostsUpTo(options.hosts));
  options.onProgress(
    `agent: default probes, ${options.hosts} hosts, idle ${options.idleSeconds} s`,
  );
  agent = await startAgent(instance, clusterFile, []);
  try {
    await waitForPeers(agent, options.hosts - 1);
    await sleep(2_000);
    usages.push(
      await sample(
        agent,
        ticksPerSecond,
        `idle, probes every 10 s, ${options.hosts - 1} peers (unreachable)`,
        () => sleep(options.idleSeconds * 1000),
      ),
    );
  } finally {
    await agent.stop();
  }
  return { hosts: options.hosts, usages };
}

function hostsUpTo(count: number): HostSpec[] {
  return Array.from({ length: count }, (_, index) => syntheticHost(index));
}

/** Writes the cluster file atomically, as the file store does, so the agent never reads half. */
async function writeCluster(path: string, hosts: HostSpec[]): Promise<void> {
  const document = {
    range: SYNTHETIC_RANGE,
    subnetLength: 24,
    tunnel: "gre",
    mode: "flow",
    datapath: "netdev",
    underlayMtu: 1500,
    hosts,
  };
  await writeFile(`${path}.tmp`, stringify(document));
  await rename(`${path}.tmp`, path);
}

async function startAgent(
  instance: OvsInstance,
  clusterFile: string,
  extra: string[],
): Promise<RunningAgent> {
  const self = syntheticHost(0);
  const launcher = fileURLToPath(new URL("../../bin/ovs-mesh", import.meta.url));
  const argv = inNamespace(instance.namespace, [
    process.execPath,
    launcher,
    "agent",
    "--config",
    clusterFile,
    "--host",
    self.name,
    "--underlay-ip",
    self.underlayIp,
    "--ovsdb",
    instance.dbSocket,
    "--ovs-rundir",
    instance.runDirectory,
    "--state-dir",
    instance.stateDirectory,
    // The namespace's own loopback, which nothing else can reach.
    "--metrics-address",
    "127.0.0.1:9464",
    ...extra,
  ]);

  const [file, ...args] = argv;
  if (file === undefined) {
    throw new Error("empty agent command");
  }
  // A long-running process, so spawn() rather than run(), which waits for the exit.
  const child: ChildProcess = spawn(file, args, {
    env: { ...process.env, ...instance.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not start ${argv.join(" ")}`);
  }

  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const info = await readProcess(pid);
  const stop = onCleanup(`agent ${pid}`, async () => {
    if (info !== undefined) {
      await stopProcess(info);
    }
    await exited;
  });
  return { pid, events: collectEvents(child, pid), stop };
}

/** Collects the agent's JSON log events from its stderr and reports an unexpected exit. */
function collectEvents(child: ChildProcess, pid: number): RunningAgent["events"] {
  const events: RunningAgent["events"] = [];
  const lines: string[] = [];
  if (child.stderr !== null) {
    createInterface({ input: child.stderr }).on("line", (line) => {
      lines.push(line);
      try {
        events.push(JSON.parse(line) as RunningAgent["events"][number]);
      } catch (error) {
        // Lines that are not JSON events, such as a Node warning, are kept in `lines` only.
        if (!(error instanceof SyntaxError)) {
          throw error;
        }
      }
    });
  }

  child.once("exit", (code) => {
    if (code !== 0 && code !== null) {
      const tail = lines.slice(-5).join("\n");
      process.stderr.write(`bench: agent ${pid} exited with code ${code}:\n${tail}\n`);
    }
  });
  return events;
}

/** Waits until the agent logs a successful reconcile with `peers` peers. */
async function waitForPeers(
  agent: RunningAgent,
  peers: number,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const done = agent.events.some((event) => event.event === "reconcile" && event.peers === peers);
    if (done) {
      return;
    }
    const failed = agent.events.find((event) => event.event === "error");
    if (failed !== undefined) {
      throw new Error(`the agent logged an error: ${JSON.stringify(failed)}`);
    }
    await sleep(20);
  }
  throw new Error(`the agent did not converge with ${peers} peers within ${timeoutMs} ms`);
}

/** Measures the agent's CPU time and memory while `during` runs. */
async function sample(
  agent: RunningAgent,
  ticksPerSecond: number,
  label: string,
  during: () => Promise<unknown>,
): Promise<Usage> {
  const reconciles = () => agent.events.filter((event) => event.event === "reconcile").length;
  return sampleProcess(agent.pid, ticksPerSecond, label, reconciles, during);
}

/**
 * Measures the idle agent of host0 in a running lab whose hosts run agents, where every peer
 * is real and replies to the probes.
 */
export async function measureLabAgent(labName: string, seconds: number): Promise<Usage> {
  const lab = await loadLab(labName, BENCH_LAB_ROOT);
  const host = lab.hosts[0];
  const pid = host?.agent?.pid;
  if (host === undefined || host.agent === undefined || pid === null || pid === undefined) {
    throw new Error(`lab ${labName} has no running agent on its first host`);
  }
  const logFile = host.agent.logFile;
  const countReconciles = async () =>
    (await readFile(logFile, "utf8"))
      .split("\n")
      .filter((line) => line.includes('"event":"reconcile"')).length;
  const ticksPerSecond = Number((await run(["getconf", "CLK_TCK"])).stdout.trim());
  const peers = lab.hosts.length - 1;
  return sampleProcess(
    pid,
    ticksPerSecond,
    `idle in lab ${labName}, etcd store, default probes, ${peers} peers that reply`,
    countReconciles,
    () => sleep(seconds * 1000),
  );
}
