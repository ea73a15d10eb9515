/** Renders the results of a benchmark run as docs/benchmarks.md. */
import type { AgentFigures } from "./agent-footprint.js";
import type { ControlPlaneFigures } from "./control-plane.js";
import type { ConvergenceFigures } from "./convergence.js";
import type { DataPath, PathFigures } from "./data-plane.js";
import { duration, mebibytes, table } from "./format.js";
import type { MachineFacts } from "./machine.js";
import type { PlanningFigures } from "./planning-child.js";
import { renderControlPlane, renderPlanning } from "./report-control-plane.js";
import { renderAgent, renderConvergence, renderDataPlane } from "./report-lab.js";

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
