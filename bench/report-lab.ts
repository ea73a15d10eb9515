/** Renders the lab sections of the report: convergence, data plane and the agent. */
import type { AgentFigures } from "./agent-footprint.js";
import type { ConvergenceFigures } from "./convergence.js";
import { KERNEL_UNDERLAY_PATH, OVS_UNDERLAY_PATH, type DataPath } from "./data-plane.js";
import { duration, gigabits, mebibytes, met, notRun, percent, table } from "./format.js";
import type { BenchResults, DataPlaneSeries } from "./report.js";
import { median } from "./stats.js";

/** Renders section 3: joins and leaves in labs of agents. */
export function renderConvergence(figures: ConvergenceFigures | undefined): string {
  const title = "## 3. Convergence in the lab";
  if (figures === undefined) {
    return notRun(title);
  }
  const rows = figures.rows.map((row) => [
    String(row.hosts),
    row.event,
    row.value === undefined ? `not measured: ${row.note}` : duration(row.value),
    row.samples.map((sample) => duration(sample)).join(", "),
    row.value === undefined ? "" : row.note,
  ]);
  return [
    title,
    "",
    figures.description,
    "",
    table(["hosts", "event", "median", "samples", "how"], rows),
    "",
  ].join("\n");
}

/** Renders section 4: throughput and round-trip time of every path. */
export function renderDataPlane(data: BenchResults["dataPlane"]): string {
  const title = "## 4. Data plane in the lab";
  if (data === undefined) {
    return notRun(title);
  }
  const sections: string[] = [
    title,
    "",
    "Two hosts per lab, one container per host, TCP from host0's side to host1's with",
    "`iperf3` (one stream) and `ping` every 50 ms. Every path is measured once per round and",
    "the table shows the median over the rounds, with the lowest and highest rate and the",
    "median of the sender's retransmitted segments.",
    "",
    "This kernel has no Open vSwitch module, so every lab host runs OVS's userspace (netdev)",
    "datapath. A tunnel packet crosses ovs-vswitchd's main thread on the sending and on the",
    "receiving host. No thread polls veth and tap ports, so one CPU thread per host forwards",
    'everything. "The same datapath" therefore means host-to-host traffic over the',
    "underlay addresses, which sit on br-phy, crossing the netdev datapath once on each host",
    `as tunnel traffic does. That path (\`${OVS_UNDERLAY_PATH}\`) in the last series below is`,
    "the 100 % for the 80 % target. The routed path without a tunnel (a lab without ovs-mesh",
    "whose hosts route each other's container subnet via br-phy) adds the container's veth and",
    "docker0 and shows what the tunnel itself costs. The kernel's own devices (veth, Linux",
    "bridge, the VXLAN device that flannel uses) are built in namespaces of the benchmark as a",
    "reference, and their ratios are against the kernel underlay.",
    "",
  ];
  const kernelUnderlay = median(
    data.series[0]?.figures.find((f) => f.id === KERNEL_UNDERLAY_PATH)?.throughput ?? [],
  );
  for (const [index, series] of data.series.entries()) {
    const isReference = index === data.series.length - 1;
    sections.push(renderSeries(data.paths, series, kernelUnderlay, isReference));
  }
  return sections.join("\n");
}

function renderSeries(
  paths: readonly DataPath[],
  series: DataPlaneSeries,
  kernelUnderlay: number,
  isReference: boolean,
): string {
  const byId = new Map(series.figures.map((f) => [f.id, f]));
  const ovsUnderlay = median(byId.get(OVS_UNDERLAY_PATH)?.throughput ?? []);
  const rows: string[][] = [];
  const targets: string[][] = [];
  for (const path of paths) {
    const figures = byId.get(path.id);
    if (figures === undefined) {
      continue;
    }
    const rate = median(figures.throughput);
    const base = path.datapath === "kernel" ? kernelUnderlay : ovsUnderlay;
    rows.push([
      path.label,
      path.datapath,
      gigabits(rate),
      `${gigabits(Math.min(...figures.throughput))} to ${gigabits(Math.max(...figures.throughput))}`,
      median(figures.retransmits).toFixed(0),
      percent(rate / base),
      path.datapath === "kernel" ? "" : percent(rate / kernelUnderlay),
      `${median(figures.roundTrip).toFixed(3)} ms`,
    ]);
    if (path.id.startsWith("ovs-mesh-")) {
      const underlayRounds = byId.get(OVS_UNDERLAY_PATH)?.throughput ?? [];
      targets.push([
        path.label,
        percent(rate / ovsUnderlay),
        percent(median(roundRatios(figures.throughput, underlayRounds))),
        met(rate / ovsUnderlay >= 0.8),
      ]);
    }
  }
  return [
    `### ${series.name}`,
    "",
    series.description,
    "",
    table(
      [
        "path",
        "datapath",
        "Gbit/s (median)",
        "range",
        "retransmits",
        "of the same datapath's underlay",
        "of the kernel underlay",
        "RTT avg",
      ],
      rows,
    ),
    "",
    isReference
      ? "Target: overlay throughput at least 80 % of the underlay through the same datapath."
      : "Ratios to this series' underlay, which skips OVS on the receiving host (not the target's reference):",
    "",
    "The per-round column divides each round's overlay rate by the same round's underlay",
    "rate, measured less than a minute earlier, and takes the median. The target is judged",
    "on the ratio of the medians.",
    "",
    table(
      [
        "path",
        "of the underlay through br-phy",
        "median of per-round ratios",
        isReference ? "met" : "80 % reached",
      ],
      targets,
    ),
    "",
  ].join("\n");
}

/** Renders section 5: CPU and memory of the agent. */
export function renderAgent(figures: AgentFigures | undefined): string {
  const title = "## 5. Agent footprint";
  if (figures === undefined) {
    return notRun(title);
  }
  const rows = figures.usages.map((usage) => [
    usage.label,
    duration(usage.seconds * 1000),
    `${usage.cpuSeconds.toFixed(2)} s`,
    `${usage.cpuPercent.toFixed(2)} %`,
    mebibytes(usage.rssBytes),
    mebibytes(usage.peakRssBytes),
    String(usage.reconciles),
  ]);
  const idle = figures.usages.filter((usage) => usage.label.startsWith("idle"));
  const targets = idle.flatMap((usage) => [
    [
      `${usage.label}: CPU under 1 %`,
      `${usage.cpuPercent.toFixed(2)} %`,
      met(usage.cpuPercent < 1),
    ],
    [
      `${usage.label}: RSS under 100 MB`,
      mebibytes(usage.peakRssBytes),
      met(usage.peakRssBytes < 100e6),
    ],
  ]);
  return [
    title,
    "",
    "`ovs-mesh agent --config cluster.yaml` for host0 of a synthetic cluster of",
    `${figures.hosts} hosts, on an OVS instance of its own, inside that instance's namespace. CPU`,
    "is the agent's user and system time over the interval from /proc/PID/stat, including the",
    "programs it ran and waited for (ip, iptables, ovs-ofctl, ping). Memory is VmRSS at the",
    "end and VmHWM (peak, reset at the start of the interval through /proc/PID/clear_refs).",
    "Burst rows run from the write of the cluster file to the agent's log of a reconcile with",
    "the new peer count. The peers of the synthetic cluster exist only in the cluster file, so",
    "its probes get no reply and each is sent twice. The last row, when present, samples",
    "host0's agent in the 10-host convergence lab, whose peers are real and reply.",
    "",
    table(["case", "interval", "CPU time", "CPU", "RSS", "peak RSS", "reconciles"], rows),
    "",
    "Targets:",
    "",
    table(["target", "figure", "met"], targets),
    "",
  ].join("\n");
}

/** Divides each round's rate by the reference's rate of the same round. */
function roundRatios(rates: readonly number[], reference: readonly number[]): number[] {
  return rates.flatMap((rate, round) => {
    const base = reference[round];
    return base === undefined || base === 0 ? [] : [rate / base];
  });
}
