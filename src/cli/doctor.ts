import { runDoctor, type DoctorTarget } from "../agent/doctor.js";
import { errorMessage } from "../agent/log.js";
import { readStatusFile, statusFilePath } from "../agent/status-file.js";
import { readCachedCluster } from "../agent/view-cache.js";
import { fail, ok, skip, type CheckResult } from "../host/doctor/check.js";
import { measureClockSkew } from "../host/doctor/clock.js";
import type { Cluster } from "../plan/cluster.js";
import { readClusterFile } from "../store/cluster-file.js";
import { parseOptions } from "./args.js";
import { UsageError, type Command } from "./command.js";
import { ETCD_OPTIONS, ETCD_USAGE, openEtcdStore, type EtcdOptionValues } from "./etcd-options.js";
import { HOST_OPTIONS, HOST_OPTIONS_USAGE, hostPaths } from "./host-options.js";

const OPTIONS = {
  ...ETCD_OPTIONS,
  ...HOST_OPTIONS,
  config: { type: "string" },
  host: { type: "string" },
  json: { type: "boolean" },
} as const;

const USAGE = `Usage: ovs-mesh doctor [--config FILE | --etcd URL --cluster NAME] [--host NAME] [OPTIONS]

Checks this host for what breaks the overlay and prints, for each finding, what to do:
Open vSwitch reachable and a usable datapath, net.ipv4.ip_forward, rp_filter, ICMP
redirects, the FORWARD policy, the container bridge's address and MTU, the underlay MTU,
the cluster range against local networks, local iptables rules against the tunnel
protocol, and the clock against etcd. Without --config or --etcd it uses the cluster view
that the agent keeps in the state directory; checks that need a cluster are skipped
when there is none. Changes nothing.

Exit codes: 0 no check failed (warnings allowed), 1 a check failed.

Options:
  --config FILE        cluster file (YAML)
${ETCD_USAGE}
  --host NAME          this host's name in the cluster; read from the agent's status file
                       when absent
  --json               print the checks as JSON
${HOST_OPTIONS_USAGE}`;

type Values = EtcdOptionValues & { config?: string; host?: string };

/** The cluster, its source, and the clock comparison made while reading it. */
interface ClusterSource {
  cluster: Cluster | undefined;
  /** The source for messages, such as a file path or "etcd cluster prod". */
  source: string;
  clock: DoctorTarget["clock"];
}

/** Reads the cluster from --config, from --etcd, or from the agent's cached view. */
async function readClusterSource(values: Values, stateDir: string): Promise<ClusterSource> {
  if (values.config !== undefined) {
    return {
      cluster: await readClusterFile(values.config),
      source: values.config,
      clock: undefined,
    };
  }
  if (values.etcd === undefined) {
    return {
      cluster: await readCachedCluster(stateDir),
      source: `the agent's cached view in ${stateDir}`,
      clock: undefined,
    };
  }

  const store = openEtcdStore(values);
  const endpoint = values.etcd.split(",")[0]?.trim() ?? values.etcd;
  const tls = { ca: values["etcd-ca"], cert: values["etcd-cert"], key: values["etcd-key"] };
  // A clock that cannot be compared is the clock check's finding, not a reason to stop.
  const clock = await measureClockSkew(endpoint, tls).catch(
    (error: unknown) => new Error(errorMessage(error)),
  );
  try {
    const view = await store.load();
    const hosts = view.hosts.map(({ name, underlayIp, subnet }) => ({ name, underlayIp, subnet }));
    return {
      cluster: { ...view.settings, hosts },
      source: `etcd cluster ${store.keys.cluster}`,
      clock,
    };
  } finally {
    await store.close();
  }
}

/** Loads the cluster and this host's record, and reports how that went as the first check. */
async function loadTarget(
  values: Values,
  stateDir: string,
): Promise<{ target: DoctorTarget; check: CheckResult }> {
  if (values.config !== undefined && values.etcd !== undefined) {
    throw new UsageError("give either --config or --etcd, not both");
  }
  const id = "cluster";
  const unknown = { cluster: undefined, self: undefined, clock: undefined };

  let loaded: ClusterSource;
  try {
    loaded = await readClusterSource(values, stateDir);
  } catch (error) {
    if (error instanceof UsageError) {
      throw error;
    }
    const message = `cannot read the cluster: ${errorMessage(error)}`;
    return {
      target: unknown,
      check: fail(id, message, "check --config or --etcd, and that the store is reachable"),
    };
  }
  const { cluster, source, clock } = loaded;
  if (cluster === undefined) {
    const message =
      "no cluster given and no cached view from the agent: checks that need the cluster are skipped";
    return {
      target: unknown,
      check: skip(
        id,
        message,
        "pass --config FILE --host NAME or --etcd URL --cluster NAME --host NAME",
      ),
    };
  }

  const name = values.host ?? (await readStatusFile(statusFilePath(stateDir)))?.host;
  if (name === undefined) {
    throw new UsageError(
      "missing --host: the host's name is needed to find its subnet in the cluster",
    );
  }
  const self = cluster.hosts.find((host) => host.name === name);
  if (self === undefined) {
    const members = cluster.hosts.map((host) => host.name).join(", ") || "none";
    const message = `host ${name} is not a member of the cluster in ${source} (members: ${members})`;
    return {
      target: { cluster, self: undefined, clock },
      check: fail(id, message, "pass the right --host, or start the agent so that the host joins"),
    };
  }
  const message = `${name} owns ${self.subnet} in ${source} (${cluster.hosts.length} hosts, ${cluster.tunnel} in ${cluster.mode} mode)`;
  return { target: { cluster, self, clock }, check: ok(id, message) };
}

const LABELS: Record<CheckResult["result"], string> = {
  ok: "ok  ",
  warn: "WARN",
  fail: "FAIL",
  skip: "skip",
};

/** Formats the checks for people: one line each, with the fix under every finding. */
export function formatChecks(checks: readonly CheckResult[]): string {
  const width = Math.max(...checks.map((check) => check.id.length));
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`[${LABELS[check.result]}] ${check.id.padEnd(width)}  ${check.message}`);
    if (check.fix !== "" && check.result !== "ok") {
      lines.push(`       ${"".padEnd(width)}  fix: ${check.fix}`);
    }
  }
  const counts = summarize(checks);
  lines.push(
    "",
    `${counts.ok} ok, ${counts.warn} warnings, ${counts.fail} failed, ${counts.skip} skipped`,
  );
  return `${lines.join("\n")}\n`;
}

/** Number of checks per result. */
export function summarize(checks: readonly CheckResult[]): Record<CheckResult["result"], number> {
  const counts = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const check of checks) {
    counts[check.result] += 1;
  }
  return counts;
}

async function runDoctorCommand(args: string[]): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const paths = hostPaths(values);
  const { target, check } = await loadTarget(values, paths.stateDir);
  const checks = [check, ...(await runDoctor(paths, target))];
  if (values.json === true) {
    const output = { host: target.self?.name ?? null, checks, summary: summarize(checks) };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } else {
    process.stdout.write(formatChecks(checks));
  }
  return checks.some((check) => check.result === "fail") ? 1 : 0;
}

/** `ovs-mesh doctor`: finds what on this host breaks the overlay, and how to fix it. */
export const doctorCommand: Command = {
  name: "doctor",
  summary: "check this host for settings that break the overlay, with a fix for each",
  usage: USAGE,
  run: runDoctorCommand,
};
