import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { run } from "../host/exec.js";
import { leaveStore, planAgent, startAgent, stopAgent } from "./agents.js";
import { assignSubnet, waitForBridge, waitForConvergence } from "./agent-wait.js";
import { planNewHosts } from "./add.js";
import { requireStore } from "./cluster-store.js";
import { LabError } from "./errors.js";
import { attachContainers, buildHost, removeMachine } from "./members.js";
import { LAB_ROOT } from "./names.js";
import { runIn } from "./namespaces.js";
import { ovsEnvironment } from "./ovs-daemons.js";
import { findHost } from "./remove.js";
import { loadLab, writeLab } from "./state.js";
import type { LabContainer, LabHost } from "./lab.js";

/** Options of {@link measureJoin} and {@link measureLeave}. */
export interface ConvergenceOptions {
  /** Directory that contains the labs' state directories, {@link LAB_ROOT} when absent. */
  root?: string;
  /** Milliseconds between probes: echo requests, log reads, flow dumps; 50 when absent. */
  intervalMs?: number;
  /** Milliseconds after which a measurement fails; 60 000 when absent. */
  timeoutMs?: number;
}

/** First echo reply from an existing container to a container of the new host. */
export interface PairReply {
  /** Source and destination as HOST/CONTAINER. */
  from: string;
  to: string;
  /** Milliseconds from the start of the new agent to the first reply. */
  ms: number;
}

/** Timeline of one host joining, in milliseconds from the start of its agent. */
export interface JoinMeasurement {
  host: string;
  subnet: string;
  /** The agent logged that it had joined: its subnet is claimed in the store. */
  joinedMs: number;
  /** docker0 carried the gateway of the claimed subnet. */
  bridgeMs: number;
  /** The new host's containers were attached; echo requests to them start here. */
  containersMs: number;
  pairs: PairReply[];
  /** The last pair's first reply: every existing container reaches every new one. */
  convergedMs: number;
}

/** Time until one peer dropped the rules of a host that left. */
export interface PeerCleared {
  peer: string;
  /** Milliseconds from the start of `ovs-mesh leave` to the first dump without the rules. */
  ms: number;
}

/** Timeline of one host leaving, in milliseconds from the start of `ovs-mesh leave`. */
export interface LeaveMeasurement {
  host: string;
  /** `ovs-mesh leave` exited: the store no longer lists the host, and the host is reset. */
  leaveMs: number;
  peers: PeerCleared[];
  /** The last peer's first dump without the host's rules. */
  convergedMs: number;
}

const DEFAULT_INTERVAL_MS = 50;
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Adds one host to a running lab whose hosts run agents and measures how long the cluster
 * takes to reach it. The clock starts just before the new agent is started. Then every
 * existing container pings every container of the new host every `intervalMs` until the
 * first reply, whose time ping records (-D). The containers can be attached only after the
 * agent has claimed a subnet and created docker0, so when `convergedMs` is close to
 * `containersMs`, the figure is bounded by the lab's setup, not by the agents.
 */
export async function measureJoin(
  name: string,
  options: ConvergenceOptions = {},
): Promise<JoinMeasurement> {
  const root = options.root ?? LAB_ROOT;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const lab = await loadLab(name, root);
  requireStore(lab);
  const sources = lab.hosts.flatMap((host) => host.containers.map((c) => ({ host, c })));
  const containers = lab.hosts[0]?.containers.length ?? 1;
  const [host] = planNewHosts(lab, root, 1, Math.max(containers, 1));
  if (host === undefined || sources.length === 0) {
    throw new LabError(`lab ${name} needs at least one container to measure a join from`);
  }
  const save = () => writeLab(root, lab);
  lab.hosts.push(host);
  await save();
  await buildHost(host, lab, save);

  const agent = planAgent(host);
  host.agent = agent;
  const started = Date.now();
  agent.pid = await startAgent(lab, host, agent);
  await save();

  const joined = await waitForJoinedEvent(agent.logFile, intervalMs, timeoutMs);
  assignSubnet(lab, host, joined.subnet);
  await waitForBridge(lab, host, timeoutMs, intervalMs);
  const bridgeAt = Date.now();
  await attachContainers(lab, host);
  const containersAt = Date.now();
  await save();

  const deadlineSeconds = Math.ceil(timeoutMs / 1000);
  const pairs = await Promise.all(
    sources.flatMap(({ host: source, c: from }) =>
      host.containers.map(async (to) => {
        const replyAt = await firstReply(from, to, intervalMs, deadlineSeconds);
        return {
          from: `${source.name}/${from.name}`,
          to: `${host.name}/${to.name}`,
          ms: replyAt - started,
        };
      }),
    ),
  );
  await waitForConvergence(lab, timeoutMs);
  return {
    host: host.name,
    subnet: host.subnet,
    joinedMs: joined.at - started,
    bridgeMs: bridgeAt - started,
    containersMs: containersAt - started,
    pairs,
    convergedMs: Math.max(...pairs.map((pair) => pair.ms)),
  };
}

/**
 * Removes a host from a running lab whose hosts run agents and measures how long its peers
 * keep its rules. The agent is stopped first (not timed); the clock starts just before
 * `ovs-mesh leave`. Each peer's rules are dumped every `intervalMs` until no rule mentions
 * the host's subnet or underlay IP, so each figure is late by at most one interval plus
 * one dump.
 */
export async function measureLeave(
  name: string,
  hostName: string,
  options: ConvergenceOptions = {},
): Promise<LeaveMeasurement> {
  const root = options.root ?? LAB_ROOT;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const lab = await loadLab(name, root);
  requireStore(lab);
  const host = findHost(lab, hostName);
  const peers = lab.hosts.filter((peer) => peer !== host);
  await stopAgent(host);

  const started = Date.now();
  const leaving = leaveStore(lab, host).then(() => Date.now());
  const cleared = await Promise.all(
    peers.map(async (peer) => ({
      peer: peer.name,
      ms: (await waitUntilForgotten(peer, host, intervalMs, started + timeoutMs)) - started,
    })),
  );
  const leftAt = await leaving;

  await removeMachine(lab, host, root, () => undefined);
  lab.hosts = peers;
  await writeLab(root, lab);
  await waitForConvergence(lab, timeoutMs);
  return {
    host: host.name,
    leaveMs: leftAt - started,
    peers: cleared,
    convergedMs: Math.max(0, ...cleared.map((peer) => peer.ms)),
  };
}

/** Returns the lines of a flow dump that mention the host's subnet or underlay IP. */
export function flowsMentioning(
  dump: string,
  host: Pick<LabHost, "subnet" | "underlayIp">,
): string[] {
  const escape = (text: string): string => text.replace(/[.]/g, "\\.");
  // Without the lookarounds, 198.18.0.1 would also match 198.18.0.10.
  const pattern = new RegExp(
    `(?<![\\d.])(?:${escape(host.subnet)}|${escape(host.underlayIp)})(?![\\d])`,
  );
  return dump.split("\n").filter((line) => pattern.test(line));
}

/** Dumps the OpenFlow rules of a lab host's br0. */
export async function dumpFlows(host: LabHost): Promise<string> {
  const argv = ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br0"];
  return (await runIn(host.namespace, argv, { env: ovsEnvironment(host) })).stdout;
}

async function waitUntilForgotten(
  peer: LabHost,
  gone: LabHost,
  intervalMs: number,
  deadline: number,
): Promise<number> {
  for (;;) {
    const dump = await dumpFlows(peer);
    const now = Date.now();
    if (flowsMentioning(dump, gone).length === 0) {
      return now;
    }
    if (now > deadline) {
      throw new LabError(`${peer.name} still has rules for ${gone.name} after the timeout`);
    }
    await sleep(intervalMs);
  }
}

/** Reads the agent's log until it contains the "joined" event; returns its subnet and time. */
async function waitForJoinedEvent(
  logFile: string,
  intervalMs: number,
  timeoutMs: number,
): Promise<{ subnet: string; at: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(logFile, "utf8").catch((error: unknown) => {
      if (error instanceof Error && "code" in error && error.code === "ENOENT") {
        return "";
      }
      throw error;
    });
    const joined = parseJoinedEvent(text);
    if (joined !== undefined) {
      return joined;
    }
    if (Date.now() > deadline) {
      throw new LabError(`the agent logged no "joined" event in ${logFile} within the timeout`);
    }
    await sleep(intervalMs);
  }
}

/** Finds the agent's "joined" log event in its JSON lines; returns its subnet and time. */
export function parseJoinedEvent(log: string): { subnet: string; at: number } | undefined {
  for (const line of log.split("\n")) {
    if (line.includes('"event":"joined"')) {
      const event = JSON.parse(line) as { time?: unknown; subnet?: unknown };
      if (typeof event.subnet === "string" && typeof event.time === "string") {
        return { subnet: event.subnet, at: Date.parse(event.time) };
      }
    }
  }
  return undefined;
}

/**
 * Pings from one container to another every `intervalMs` until the first reply arrives and
 * returns the time that iputils ping printed for it (-D), in milliseconds since the epoch.
 */
async function firstReply(
  from: LabContainer,
  to: LabContainer,
  intervalMs: number,
  deadlineSeconds: number,
): Promise<number> {
  const argv = [
    ...["nsenter", `--net=${from.namespacePath}`, "ping", "-n", "-D", "-c", "1"],
    ...["-i", String(intervalMs / 1000), "-w", String(deadlineSeconds), to.ip],
  ];
  const { stdout } = await run(argv, { timeoutMs: (deadlineSeconds + 5) * 1000 });
  const replyAt = parseReplyTime(stdout);
  if (replyAt === undefined) {
    throw new LabError(`no echo reply from ${to.ip} in the output of ${argv.join(" ")}`);
  }
  return replyAt;
}

/** Returns the time of the first reply in `ping -D` output, in milliseconds since the epoch. */
export function parseReplyTime(output: string): number | undefined {
  const match = /^\[(\d+\.\d+)\] \d+ bytes from /m.exec(output);
  return match?.[1] === undefined ? undefined : Math.round(Number(match[1]) * 1000);
}
