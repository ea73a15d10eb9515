import type { CheckReport, PairResult } from "./check.js";
import type { DestroyReport } from "./down.js";
import type { MtuResult } from "./probes.js";
import type { DaemonStatus, LabStatus } from "./status.js";

/** Lays out rows as columns separated by two spaces, each as wide as its widest cell. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
        )
        .join("  "),
    )
    .join("\n");
}

function daemon(status: DaemonStatus): string {
  return status.running ? `running ${status.pid}` : "stopped";
}

/** Formats `lab status` for people: the lab, a table of hosts and one of containers. */
export function formatStatus(status: LabStatus): string {
  const lines = [
    `lab ${status.name}: ${status.status}, ${status.healthy ? "healthy" : "NOT healthy"}; ${status.tunnel} tunnels in ${status.mode} mode; created ${status.createdAt}`,
    `underlay ${status.underlayNetwork} in ${status.switchNamespace} (${status.switchExists ? "exists" : "missing"}); cluster range ${status.clusterRange}; ${clusterSource(status)}`,
    "",
  ];
  const agents = status.store !== undefined;
  const hostRows = [
    [
      "HOST",
      "NAMESPACE",
      "UNDERLAY",
      "SUBNET",
      "MTU",
      "OVSDB-SERVER",
      "OVS-VSWITCHD",
      ...(agents ? ["AGENT"] : []),
      "RUN DIRECTORY",
      "DB SOCKET",
    ],
    ...status.hosts.map((host) => [
      host.name,
      host.exists ? host.namespace : `${host.namespace} (missing)`,
      host.underlayIp,
      host.subnet,
      host.dockerMtu === null ? "-" : String(host.dockerMtu),
      daemon(host.daemons.ovsdbServer),
      daemon(host.daemons.ovsVswitchd),
      ...(agents ? [host.agent === null ? "-" : daemon(host.agent)] : []),
      host.runDirectory,
      host.dbSocket,
    ]),
  ];
  lines.push(formatTable(hostRows), "");

  const containerRows = [
    ["CONTAINER", "IP", "NAMESPACE"],
    ...status.hosts.flatMap((host) =>
      host.containers.map((container) => [
        `${host.name}/${container.name}`,
        container.ip,
        container.exists ? container.namespace : `${container.namespace} (missing)`,
      ]),
    ),
  ];
  lines.push(formatTable(containerRows));
  return lines.join("\n");
}

/** Names where the hosts' cluster lives: the cluster file, or the store of the agents. */
function clusterSource(status: LabStatus): string {
  const store = status.store;
  if (store === undefined) {
    return `cluster file ${status.clusterFile}`;
  }
  if (store.kind === "file") {
    return `agents share the cluster file ${status.clusterFile}`;
  }
  return `agents share etcd ${store.endpoints.join(",")} (namespace ${store.namespace ?? "-"}), cluster ${status.name}`;
}

function mtuCell(result: MtuResult | null, passWord: string): string {
  if (result === null) {
    return "FAIL no docker0";
  }
  return result.ok ? passWord : `FAIL ${result.detail}`;
}

function pairRow(pair: PairResult): string[] {
  return [
    `${pair.source.host}/${pair.source.container}`,
    `${pair.destination.host}/${pair.destination.container}`,
    pair.destination.ip,
    pair.ping.ok ? "ok" : `FAIL ${pair.ping.detail}`,
    pair.transfer.ok ? `ok ${pair.transfer.detail}` : `FAIL ${pair.transfer.detail}`,
    mtuCell(pair.mtuFits, "ok"),
    mtuCell(pair.mtuExceeds, "blocked"),
  ];
}

/** Formats `lab check` for people: one row per pair and a summary line. */
export function formatCheck(report: CheckReport): string {
  if (report.pairs.length === 0) {
    return `lab ${report.lab}: no containers on two different hosts, so there is nothing to check: FAILED`;
  }
  const mtus = new Set(report.pairs.map((pair) => pair.mtu));
  const mtu = mtus.size === 1 ? String([...mtus][0] ?? "-") : "MTU";
  const rows = [
    ["FROM", "TO", "ADDRESS", "PING", "TCP", `DF ${mtu}`, "DF +1"],
    ...report.pairs.map(pairRow),
  ];
  const verdict = report.ok ? "passed" : "FAILED";
  return `${formatTable(rows)}\n\nlab ${report.lab}: ${report.passed} of ${report.pairs.length} pairs passed, ${report.failed} failed: ${verdict}`;
}

/** Formats `lab down` for people: what was removed, or that nothing was there. */
export function formatDown(report: DestroyReport): string {
  const lines = report.warnings.map((warning) => `warning: ${warning}`);
  const removed =
    report.daemons.length + report.processes.length + report.namespaces.length > 0 ||
    report.removedDirectory;
  if (!removed) {
    lines.push(`lab ${report.name}: nothing to remove`);
  } else {
    lines.push(
      `lab ${report.name}: stopped ${report.daemons.length} OVS daemons and ${report.processes.length} other processes, deleted ${report.namespaces.length} namespaces${report.removedDirectory ? " and the state directory" : ""}`,
    );
  }
  return lines.join("\n");
}
