/** Renders the control-plane and planning sections of the report. */
import type { ControlPlaneFigures, ManualEstimate } from "./control-plane.js";
import type { ReconcileFigures } from "./control-plane-child.js";
import { duration, factor, mebibytes, met, notRun, table } from "./format.js";
import type { PlanningFigures } from "./planning-child.js";

function programs(figures: ReconcileFigures): string {
  const entries = Object.entries(figures.programs);
  return entries.length === 0
    ? "none"
    : entries.map(([name, count]) => `${name} ${count}`).join(", ");
}

/** Renders section 1: reconciles through `converge` against the manual method. */
export function renderControlPlane(figures: ControlPlaneFigures | undefined): string {
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

/** Renders section 2: planHost and diffHost for large clusters. */
export function renderPlanning(figures: PlanningFigures[] | undefined): string {
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
