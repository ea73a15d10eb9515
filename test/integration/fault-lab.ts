import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run, type RunResult } from "../../src/host/exec.js";
import { destroyLab } from "../../src/lab/down.js";
import { SWITCH_BRIDGE } from "../../src/lab/names.js";
import { loadLab } from "../../src/lab/state.js";
import type { Lab, LabContainer, LabHost } from "../../src/lab/lab.js";

// Helpers shared by the fault, spoofing and input tests: build labs with the CLI, run
// programs in lab hosts and containers, read OpenFlow counters, measure a steady ping and
// take a snapshot of a host's network state.

/** The built launcher of this checkout. */
export const BINARY = fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));
export const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

/** Runs `ovs-mesh ARGS` in the root namespace and resolves with any exit code. */
export function ovsMesh(args: readonly string[], timeoutMs = 300_000): Promise<RunResult> {
  return run([process.execPath, BINARY, ...args], { okCodes: ANY_EXIT_CODE, timeoutMs });
}

/** Builds a lab with `ovs-mesh lab up`, after removing any lab of that name. */
export async function labUp(name: string, args: readonly string[]): Promise<Lab> {
  await destroyLab(name);
  const result = await ovsMesh(["lab", "up", "--name", name, ...args]);
  if (result.code !== 0) {
    throw new Error(`lab up --name ${name} failed (${result.code}): ${result.stderr}`);
  }
  return loadLab(name);
}

/** Returns a lab host by name, or throws. */
export function labHost(lab: Lab, name: string): LabHost {
  const host = lab.hosts.find((candidate) => candidate.name === name);
  if (host === undefined) {
    throw new Error(`lab ${lab.name} has no host ${name}`);
  }
  return host;
}

/** Returns the first container of a lab host, or throws. */
export function firstContainer(host: LabHost): LabContainer {
  const container = host.containers[0];
  if (container === undefined) {
    throw new Error(`host ${host.name} has no container`);
  }
  return container;
}

/** Runs a program in a lab host's namespace with OVS_RUNDIR of that host, with any exit code. */
export function inHost(
  host: LabHost,
  argv: readonly string[],
  timeoutMs = 120_000,
): Promise<RunResult> {
  return run(["ip", "netns", "exec", host.namespace, ...argv], {
    okCodes: ANY_EXIT_CODE,
    timeoutMs,
    env: { OVS_RUNDIR: host.runDirectory, OVS_DBDIR: host.runDirectory },
  });
}

/** Runs a program in a lab host's namespace and returns its output. Throws when it fails. */
export async function inHostOk(host: LabHost, argv: readonly string[]): Promise<string> {
  const result = await inHost(host, argv);
  if (result.code !== 0) {
    throw new Error(
      `${argv.join(" ")} in ${host.name} exited with ${result.code}: ${result.stderr}`,
    );
  }
  return result.stdout;
}

/** Runs a program in a container's namespace, with any exit code. */
export function inContainer(
  container: LabContainer,
  argv: readonly string[],
  timeoutMs = 60_000,
): Promise<RunResult> {
  return run(["nsenter", `--net=${container.namespacePath}`, ...argv], {
    okCodes: ANY_EXIT_CODE,
    timeoutMs,
  });
}

/** Options that point ovs-mesh at a lab host's OVS and state directory. */
export function hostOptions(host: LabHost): string[] {
  return [
    "--ovsdb",
    host.dbSocket,
    "--ovs-rundir",
    host.runDirectory,
    "--state-dir",
    join(host.runDirectory, "ovs-mesh"),
  ];
}

/** Runs `ovs-mesh ARGS` inside a lab host's namespace, as an operator on that host would. */
export function ovsMeshIn(host: LabHost, args: readonly string[]): Promise<RunResult> {
  return inHost(host, [process.execPath, BINARY, ...args]);
}

/** One OpenFlow rule with its packet counter, as `ovs-ofctl dump-flows` prints it. */
export interface FlowCounter {
  cookie: string;
  table: number;
  priority: number;
  /** Match fields in the printed order, such as "ip,tun_src=198.18.0.11,nw_src=10.240.2.0/24". */
  match: string;
  actions: string;
  packets: number;
}

/** Reads every rule of a bridge with its counters, ports by name. */
export async function flowCounters(host: LabHost, bridge = "br0"): Promise<FlowCounter[]> {
  const text = await inHostOk(host, [
    "ovs-ofctl",
    "-O",
    "OpenFlow13",
    "--names",
    "dump-flows",
    bridge,
  ]);
  const flows: FlowCounter[] = [];
  for (const raw of text.split("\n")) {
    // ovs-ofctl quotes port names that contain "-" (in_port="gre-flow"), and the quotes are dropped.
    const line = raw.trim().replace(/"([A-Za-z0-9_.-]*)"/g, "$1");
    const split = line.indexOf(" actions=");
    if (split < 0) {
      continue;
    }
    const fields = line.slice(0, split).split(/,\s*/);
    const flow: FlowCounter = {
      cookie: "0x0",
      table: 0,
      priority: 32768,
      match: "",
      actions: line.slice(split + " actions=".length),
      packets: 0,
    };
    const match: string[] = [];
    for (const field of fields) {
      const [key, value = ""] = field.split("=", 2);
      if (key === "cookie") {
        flow.cookie = value;
      } else if (key === "table") {
        flow.table = Number(value);
      } else if (key === "priority") {
        flow.priority = Number(value);
      } else if (key === "n_packets") {
        flow.packets = Number(value);
      } else if (
        !["duration", "n_bytes", "idle_age", "hard_age", "reset_counts"].includes(key ?? "")
      ) {
        match.push(field);
      }
    }
    flow.match = match.join(",");
    flows.push(flow);
  }
  return flows;
}

/** Returns the packet counter of the one rule in `table` whose match is exactly `match`. */
export function packetsOf(flows: readonly FlowCounter[], table: number, match: string): number {
  const found = flows.filter((flow) => flow.table === table && flow.match === match);
  if (found.length !== 1) {
    const listing = flows.map((flow) => `table=${flow.table} ${flow.match}`).join("\n");
    throw new Error(`expected one rule in table ${table} matching "${match}", found:\n${listing}`);
  }
  return found[0]?.packets ?? 0;
}

/** Returns the MAC address of a device in a namespace. */
export async function macAddress(namespacePath: string, device: string): Promise<string> {
  const result = await run([
    "nsenter",
    `--net=${namespacePath}`,
    "ip",
    "-j",
    "link",
    "show",
    device,
  ]);
  const links = JSON.parse(result.stdout) as { address?: string }[];
  const address = links[0]?.address;
  if (address === undefined) {
    throw new Error(`${device} in ${namespacePath} has no MAC address`);
  }
  return address;
}

/** Result of a steady ping: counts and the maximum run of lost replies. */
export interface PingReport {
  sent: number;
  received: number;
  lost: number;
  /** Maximum run of consecutive lost sequence numbers, times the interval, in ms. */
  maxGapMs: number;
  intervalMs: number;
}

/**
 * Computes a {@link PingReport} from iputils ping output: each "icmp_seq=N" line is a reply.
 * Sequence numbers run from 1 to `sent`; a run of missing numbers is an outage.
 */
export function pingReport(output: string, sent: number, intervalMs: number): PingReport {
  const replies = new Set<number>();
  for (const match of output.matchAll(/icmp_seq=(\d+) ttl=/g)) {
    replies.add(Number(match[1]));
  }
  let maxRun = 0;
  let current = 0;
  for (let seq = 1; seq <= sent; seq += 1) {
    if (replies.has(seq)) {
      current = 0;
    } else {
      current += 1;
      maxRun = Math.max(maxRun, current);
    }
  }
  const received = [...replies].filter((seq) => seq >= 1 && seq <= sent).length;
  return { sent, received, lost: sent - received, maxGapMs: maxRun * intervalMs, intervalMs };
}

/**
 * Pings `destination` from a container every `intervalMs` for `count` packets and reports
 * losses. Each reply may take up to 1 s; a late reply counts as lost.
 */
export async function steadyPing(
  source: LabContainer,
  destination: string,
  count: number,
  intervalMs = 50,
): Promise<PingReport> {
  const seconds = Math.ceil((count * intervalMs) / 1000) + 5;
  const result = await inContainer(
    source,
    [
      "ping",
      "-n",
      "-i",
      String(intervalMs / 1000),
      "-c",
      String(count),
      "-W",
      "1",
      "-w",
      String(seconds),
      destination,
    ],
    (seconds + 10) * 1000,
  );
  return pingReport(result.stdout, count, intervalMs);
}

/** Formats a report for messages and logs, such as "lost 3 of 200, max gap 150 ms". */
export function describePing(report: PingReport): string {
  return `lost ${report.lost} of ${report.sent}, max gap ${report.maxGapMs} ms`;
}

/**
 * Reads the network state of a lab host that ovs-mesh may change: OVSDB contents, OpenFlow rules of
 * every bridge (without counters), links, addresses, routes, iptables rules and sysctls.
 */
export async function hostSnapshot(host: LabHost): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {};
  snapshot.ovs = await inHostOk(host, ["ovs-vsctl", "show"]);
  const bridges = (await inHostOk(host, ["ovs-vsctl", "list-br"])).split("\n").filter(Boolean);
  for (const bridge of bridges) {
    const flows = await inHostOk(host, [
      "ovs-ofctl",
      "-O",
      "OpenFlow13",
      "--no-stats",
      "dump-flows",
      bridge,
    ]);
    snapshot[`flows ${bridge}`] = flows
      .split("\n")
      .filter((line) => !line.startsWith("OFPST_FLOW"))
      .join("\n");
  }
  // Without -d: the details of bridges and their ports include timers that always change.
  snapshot.links = await inHostOk(host, ["ip", "-o", "link", "show"]);
  snapshot.addresses = await inHostOk(host, ["ip", "-o", "address", "show"]);
  snapshot.routes = await inHostOk(host, ["ip", "route", "show", "table", "all"]);
  snapshot.filter = await inHostOk(host, ["iptables", "-S"]);
  snapshot.nat = await inHostOk(host, ["iptables", "-t", "nat", "-S"]);
  snapshot.sysctls = await inHostOk(host, [
    "sysctl",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.send_redirects",
  ]);
  return snapshot;
}

/**
 * Creates namespace `namespace` with one veth into the lab's underlay switch, with `address`
 * on it: a machine on the underlay network that is not a member of the cluster. The switch
 * side of the veth is named `switchDevice`.
 */
export async function attachToUnderlay(
  lab: Lab,
  namespace: string,
  switchDevice: string,
  address: string,
): Promise<void> {
  await run(["ip", "netns", "add", namespace]);
  await run(["ip", "-n", namespace, "link", "set", "lo", "up"]);
  await run([
    "ip",
    "-n",
    lab.switchNamespace,
    "link",
    "add",
    switchDevice,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    namespace,
  ]);
  await run([
    "ip",
    "-n",
    lab.switchNamespace,
    "link",
    "set",
    switchDevice,
    "master",
    SWITCH_BRIDGE,
  ]);
  await run(["ip", "-n", lab.switchNamespace, "link", "set", switchDevice, "up"]);
  await run(["ip", "-n", namespace, "address", "add", address, "dev", "eth0"]);
  // The hosts' OVS (userspace datapath) passes TCP segments on with the checksum that a veth
  // leaves for the NIC to fill in, so the hosts' kernels would drop them as corrupt. With TX
  // checksum offload off, the kernel fills the checksum in before the segment leaves.
  await run(["ip", "netns", "exec", namespace, "ethtool", "-K", "eth0", "tx", "off"]);
  await run(["ip", "-n", namespace, "link", "set", "eth0", "up"]);
}

/** Deletes a namespace that a test created, if it exists. */
export async function deleteTestNamespace(namespace: string): Promise<void> {
  const { stdout } = await run(["ip", "netns", "list"]);
  const exists = stdout.split("\n").some((line) => line.split(" ")[0] === namespace);
  if (exists) {
    await run(["ip", "netns", "delete", namespace]);
  }
}

/** A program that a test started in the background. */
export interface BackgroundProcess {
  pid: number;
  /** Standard output and error so far. */
  output(): string;
  /** Resolves with the exit code, or the signal name, once the program has ended. */
  exited: Promise<number | string>;
  /** Sends `signal` to the program, by its pid, unless it has ended. */
  signal(signal: NodeJS.Signals): void;
}

/**
 * Starts a long-running program, such as an agent, and keeps its output. `run` cannot do this
 * because it returns only when the program ends.
 */
export function startBackground(argv: readonly string[]): BackgroundProcess {
  const [file, ...args] = argv;
  if (file === undefined) {
    throw new TypeError("startBackground() needs a program name in argv[0]");
  }
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk));
  let ended = false;
  const exited = new Promise<number | string>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      ended = true;
      resolve(code ?? signal ?? "unknown");
    });
  });
  if (child.pid === undefined) {
    throw new Error(`${argv.join(" ")} did not start`);
  }
  const pid = child.pid;
  return {
    pid,
    output: () => Buffer.concat(chunks).toString("utf8"),
    exited,
    signal: (name) => {
      if (ended) {
        return;
      }
      try {
        process.kill(pid, name);
      } catch (error) {
        // ESRCH: the program exited and its close event has not come yet.
        if (!(error instanceof Error && "code" in error && error.code === "ESRCH")) {
          throw error;
        }
      }
    },
  };
}

/** Stops a background program with SIGTERM and waits for it; SIGKILL after `graceMs`. */
export async function stopBackground(
  background: BackgroundProcess,
  graceMs = 10_000,
): Promise<number | string> {
  background.signal("SIGTERM");
  const timer = setTimeout(() => background.signal("SIGKILL"), graceMs);
  try {
    return await background.exited;
  } finally {
    clearTimeout(timer);
  }
}
