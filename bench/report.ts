/** Renders the results of a benchmark run as docs/benchmarks.md. */
import type { AgentFigures } from "./agent-footprint.js";
import type { ControlPlaneFigures, ManualEstimate } from "./control-plane.js";
import type { ReconcileFigures } from "./control-plane-child.js";
import type { ConvergenceFigures } from "./convergence.js";
import {
  KERNEL_UNDERLAY_PATH,
  OVS_UNDERLAY_PATH,
  type DataPath,
  type PathFigures,
} from "./data-plane.js";
import { duration, factor, gigabits, mebibytes, met, percent, table } from "./format.js";
import type { MachineFacts } from "./machine.js";
import type { PlanningFigures } from "./planning-child.js";
import { median } from "./stats.js";

/** A data-plane series: the figures of every path under one configuration. */
export interface DataPlaneSeries {
  name: string;
  /** Description of the configuration of this series, for the report. */
  description: string;
  figures: PathFigures[];
}

/** Everything that one run measured. A section is undefined when it was not run. */
export interface BenchResults {
  quick: boolean;
  command: string;
  startedAt: Date;
  seconds: number;
  loadBefore: string;
  loadAfter: string;
  machine: MachineFacts;
  settings: Record<string, string>;
  controlPlane?: ControlPlaneFigures;
  planning?: PlanningFigures[];
  convergence?: ConvergenceFigures;
  dataPlane?: { paths: DataPath[]; series: DataPlaneSeries[] };
  agent?: AgentFigures;
  /** Hand-written notes: tuning and product changes with figures before and after. */
  notes: string;
}

/** Returns the whole report as Markdown. */
export function renderReport(results: BenchResults): string {
  return [
    "# Benchmarks",
    "",
    "This page is written by `npm run bench` (full) or `npm run bench -- --quick`; edit",
    "`bench/notes.md` or the code in `bench/`, not this file. Every figure below comes from the",
    "run described in the first section.",
    "",
    renderRun(results),
    renderControlPlane(results.controlPlane),
    renderPlanning(results.planning),
    renderConvergence(results.convergence),
    renderDataPlane(results.dataPlane),
    renderAgent(results.agent),
    results.notes.trim(),
    "",
  ].join("\n");
}

function renderRun(results: BenchResults): string {
  const { machine } = results;
  const versions = Object.entries(machine.versions).map(([name, version]) => [name, version]);
  return [
    "## The run",
    "",
    table(
      ["", ""],
      [
        ["command", `\`${results.command}\``],
        ["mode", results.quick ? "quick" : "full"],
        ["started", results.startedAt.toISOString()],
        ["duration", duration(results.seconds * 1000)],
        ["commit", machine.commit],
        ["CPU", `${machine.cpuModel}, ${machine.cores} cores`],
        ["memory", mebibytes(machine.memoryBytes)],
        ["kernel", machine.kernel],
        ...versions,
        ["load average before (1, 5, 15 min)", results.loadBefore],
        ["load average after", results.loadAfter],
        ...Object.entries(results.settings),
      ],
    ),
    "",
    "The machine is shared: other work ran beside the benchmark, so the load averages above",
    "are part of the result. Figures are medians of several runs where the table says so.",
    "",
  ].join("\n");
}

function notRun(title: string): string {
  return `${title}\n\nNot run in this invocation (see \`--only\`).\n`;
}

function programs(figures: ReconcileFigures): string {
  const entries = Object.entries(figures.programs);
  return entries.length === 0
    ? "none"
    : entries.map(([name, count]) => `${name} ${count}`).join(", ");
}

function renderControlPlane(figures: ControlPlaneFigures | undefined): string {
  const title = "## 1. Control plane on one OVS instance";
  if (figures === undefined) {
    return notRun(title);
  }
  const manualAt = (peers: number) => figures.manual.estimates.find((e) => e.ports === peers);
  const manualText = (estimate: ManualEstimate) =>
    `${duration(estimate.milliseconds)}${estimate.source === "measured" ? "" : ` (${estimate.source})`}`;

  const rows: string[][] = [];
  for (const { mode, counts } of figures.modes) {
    for (const count of counts) {
      const manual = manualAt(count.peers);
      rows.push([
        mode,
        String(count.peers),
        "full apply",
        duration(count.full.milliseconds),
        String(count.full.ovsdbRequests),
        String(count.full.programs["ovs-ofctl"] ?? 0),
        programs(count.full),
        manual === undefined ? "not measured" : manualText(manual),
        manual === undefined ? "n/a" : factor(manual.milliseconds / count.full.milliseconds),
      ]);
      rows.push(reconcileRow(mode, count.peers, "no-op reconcile", count.noop));
      const changes: [string, number, ReconcileFigures | undefined][] = [
        ["add 1 peer, reading the host", count.peers, count.add],
        ["remove 1 peer, reading the host", count.peers + 1, count.remove],
        ["add 1 peer, from the known state", count.peers, count.addKnown],
        ["remove 1 peer, from the known state", count.peers + 1, count.removeKnown],
      ];
      for (const [operation, peers, change] of changes) {
        if (change !== undefined) {
          rows.push(reconcileRow(mode, peers, operation, change));
        }
      }
    }
  }

  const targets: string[][] = [];
  for (const { mode, counts } of figures.modes) {
    const at1000 = counts.find((count) => count.peers === 1000);
    if (at1000 === undefined) {
      continue;
    }
    const adds: [string, ReconcileFigures | undefined][] = [
      ["from the known state, as the agent does on a join", at1000.addKnown],
      ["reading the host, as apply and the resync do", at1000.add],
    ];
    for (const [how, add] of adds) {
      if (add !== undefined) {
        targets.push([
          `${mode} mode: add 1 peer at 1000 peers under 50 ms, ${how}`,
          duration(add.milliseconds),
          met(add.milliseconds < 50),
        ]);
      }
    }
    targets.push([
      `${mode} mode: full apply of 1000 peers under 2 s`,
      duration(at1000.full.milliseconds),
      met(at1000.full.milliseconds < 2000),
    ]);
    const manual = manualAt(1000);
    if (manual !== undefined) {
      const ratio = manual.milliseconds / at1000.full.milliseconds;
      targets.push([
        `${mode} mode: full apply of 1000 peers at least 20x faster than one command per port`,
        `${factor(ratio)} (${manualText(manual)} against ${duration(at1000.full.milliseconds)})`,
        met(ratio >= 20),
      ]);
    }
  }

  const curve = figures.manual.costCurve
    .map((point) => `${Math.round(point.ports)} ports: ${duration(point.milliseconds)}`)
    .join("; ");
  return [
    title,
    "",
    "One ovsdb-server and ovs-vswitchd (userspace datapath) in a namespace of the benchmark. The",
    "driver runs inside that namespace and configures host0 of a synthetic cluster through",
    "`converge` (src/agent/converge.ts), the code path of `ovs-mesh apply` and of the agent, on",
    "a host with nothing configured; each peer count starts from a reset host. A first,",
    "unmeasured reconcile loads and compiles the code. OVSDB requests come from",
    "`OvsdbClient.requestCount`. Programs are counted by wrapping `child_process.spawn` in the",
    'driver. "No-op reconcile" is a second run that finds nothing to change. "Add 1 peer" and',
    '"remove 1 peer" change a converged host by one peer. "Reading the host" reads the OVSDB,',
    "the OpenFlow rules and the Linux state, as `apply` and the agent's resync do. \"From the",
    'known state" takes the rules and the Linux state from the previous reconcile (`known`),',
    "as the agent does when only the store changed. After each known-state change, a",
    "reconcile that reads everything must find nothing left to do.",
    "",
    "The manual method is how an operator builds the mesh by hand: one `ovs-vsctl add-port br-manual greN -- set",
    "interface greN type=gre options:remote_ip=...` per peer on a netdev bridge of the same",
    "instance, each call waiting for ovs-vswitchd as ovs-vsctl does by default. A call costs",
    `more the more ports the bridge has. The first ${figures.manual.measuredPorts} calls are timed one by one`,
    '("measured"). For larger bridges the bridge is filled in bulk, untimed, and 10 single calls',
    "are timed at each sample size. A total for N ports sums the cost of every call, read",
    'from that curve ("estimated"), or from the line through its last two points beyond it',
    `("extrapolated"). Cost of one call: ${curve}.`,
    "",
    table(
      [
        "mode",
        "peers",
        "operation",
        "time",
        "OVSDB requests",
        "ovs-ofctl calls",
        "all programs",
        "manual method (N ovs-vsctl calls)",
        "manual / ovs-mesh",
      ],
      rows,
    ),
    "",
    "Targets:",
    "",
    table(["target", "figure", "met"], targets),
    "",
  ].join("\n");
}

function reconcileRow(
  mode: string,
  peers: number,
  operation: string,
  figures: ReconcileFigures,
): string[] {
  return [
    mode,
    String(peers),
    operation,
    duration(figures.milliseconds),
    String(figures.ovsdbRequests),
    String(figures.programs["ovs-ofctl"] ?? 0),
    programs(figures),
    "",
    "",
  ];
}

function renderPlanning(figures: PlanningFigures[] | undefined): string {
  const title = "## 2. Planning";
  if (figures === undefined) {
    return notRun(title);
  }
  const rows = figures.map((f) => [
    String(f.hosts),
    f.mode,
    String(f.flows),
    String(f.tunnels),
    duration(f.parseMs),
    duration(f.planMs),
    mebibytes(f.planHeapBytes),
    duration(f.diffEmptyMs),
    duration(f.diffOneMs),
    mebibytes(f.rssBeforeBytes),
    mebibytes(f.peakRssBytes),
  ]);
  return [
    title,
    "",
    "One Node process per size and mode computes host0's desired state of a synthetic cluster.",
    'Times are medians over the repeats after one unmeasured call. "validate" is',
    "`parseCluster` on the cluster as a plain object (the check every store read does);",
    '"heap kept" is the heap that the planned state holds after garbage collection. The diff',
    "runs against a host with nothing configured and against a host that has every peer but",
    'the last (one join). "RSS before" is Node plus the cluster; "peak RSS" covers the',
    "whole process.",
    "",
    table(
      [
        "hosts",
        "mode",
        "flows",
        "tunnel ports",
        "validate",
        "planHost",
        "heap kept",
        "diff, empty host",
        "diff, 1 peer missing",
        "RSS before",
        "peak RSS",
      ],
      rows,
    ),
    "",
  ].join("\n");
}

function renderConvergence(figures: ConvergenceFigures | undefined): string {
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

function renderDataPlane(data: BenchResults["dataPlane"]): string {
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
      targets.push([path.label, percent(rate / ovsUnderlay), met(rate / ovsUnderlay >= 0.8)]);
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
    table(
      ["path", "of the underlay through br-phy", isReference ? "met" : "80 % reached"],
      targets,
    ),
    "",
  ].join("\n");
}

function renderAgent(figures: AgentFigures | undefined): string {
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
