import { NoStatusError, collectStatus, type StatusReport } from "../agent/status-report.js";
import { StatusFileError } from "../agent/status-file.js";
import { parseOptions } from "./args.js";
import type { Command } from "./command.js";
import { HOST_OPTIONS, HOST_OPTIONS_USAGE, hostPaths } from "./host-options.js";

const OPTIONS = { ...HOST_OPTIONS, json: { type: "boolean" } } as const;

const USAGE = `Usage: ovs-mesh status [--json] [OPTIONS]

Shows this host's subnet, inner MTU, datapath, tunnel type and mode, and for every peer its
underlay IP, subnet, tunnel health, probe round-trip time, packets and bytes, and when its
health last changed. Reads the agent's status file (STATE-DIR/status.json) and live counters
from Open vSwitch. Health comes from BFD on each tunnel port in port mode, and from the
agent's probes through the overlay in flow mode. Counters are the tunnel port's in port
mode, and the peer's OpenFlow rules' in flow mode.

Exit codes: 0 every peer is up, 1 a peer is down or unknown, or the status file is missing.

Options:
  --json              print the report as JSON
${HOST_OPTIONS_USAGE}`;

async function runStatus(args: string[]): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  let report: StatusReport;
  try {
    report = await collectStatus(hostPaths(values));
  } catch (error) {
    if (error instanceof NoStatusError || error instanceof StatusFileError) {
      process.stderr.write(`ovs-mesh status: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(formatStatusReport(report));
  }
  return report.peers.every((peer) => peer.health === "up") ? 0 : 1;
}

/** Formats the report for people: a header, then one table row per peer. */
export function formatStatusReport(report: StatusReport): string {
  const lines = [
    `host      ${report.host}`,
    `subnet    ${report.subnet} (gateway ${report.gateway})`,
    `inner MTU ${report.innerMtu}`,
    `datapath  ${report.datapath}`,
    `tunnels   ${report.tunnel}, ${report.mode} mode`,
    `status    written ${report.statusUpdatedAt} (${report.statusAgeSeconds} s ago)${report.stale ? ", stale: is the agent running?" : ""}`,
  ];
  if (!report.ovs.reachable) {
    lines.push(`warning   no counters from Open vSwitch: ${report.ovs.error ?? "unknown error"}`);
  }
  lines.push("");

  const header = [
    "PEER",
    "UNDERLAY IP",
    "SUBNET",
    "HEALTH",
    "RTT",
    "RX PKTS",
    "RX BYTES",
    "TX PKTS",
    "TX BYTES",
    "LAST CHANGE",
  ];
  const rows = report.peers.map((peer) => [
    peer.name,
    peer.underlayIp,
    peer.subnet,
    `${peer.health} (${peer.healthSource})`,
    peer.rttMs === null ? "-" : `${peer.rttMs.toFixed(3)} ms`,
    count(peer.counters.rxPackets),
    count(peer.counters.rxBytes),
    count(peer.counters.txPackets),
    count(peer.counters.txBytes),
    peer.lastChange ?? "-",
  ]);
  if (rows.length === 0) {
    lines.push("no peers");
  } else {
    lines.push(...formatTable([header, ...rows]));
  }
  for (const peer of report.peers) {
    if (peer.error !== null) {
      lines.push(`${peer.name}: probe failed: ${peer.error}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function count(value: number | null): string {
  return value === null ? "-" : String(value);
}

/** Pads every column to its widest cell. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  );
}

/** `ovs-mesh status`: this host's view of the mesh. */
export const statusCommand: Command = {
  name: "status",
  summary: "show this host's subnet, MTU and the health and traffic of every tunnel",
  usage: USAGE,
  run: runStatus,
};
