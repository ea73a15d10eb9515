/**
 * `npm run bench`: measures the control plane, planning, lab convergence, the data plane and
 * the agent's footprint, and writes docs/benchmarks.md. It needs root, because it builds
 * network namespaces. Everything it builds is named `omb-*` or lives in labs `b-*` under
 * /var/lib/ovs-mesh/bench, and is removed at the end, also after a failure or a signal.
 */
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";

import { measureAgent, measureLabAgent } from "./agent-footprint.js";
import { interrupted, runCleanup } from "./cleanup.js";
import { measureControlPlane } from "./control-plane.js";
import { measureConvergence } from "./convergence.js";
import {
  buildDataPlane,
  measureSeries,
  receiveThroughOvs,
  type PathFigures,
} from "./data-plane.js";
import { sweepLabs } from "./labs.js";
import { describeMachine, loadAverage } from "./machine.js";
import { measurePlanning } from "./planning.js";
import { renderReport, type BenchResults, type DataPlaneSeries } from "./report.js";
import { sweepLeftovers } from "./sandbox.js";

const SECTIONS = ["control", "planning", "convergence", "dataplane", "agent"] as const;
type Section = (typeof SECTIONS)[number];

const USAGE = `Usage: npm run bench [-- --quick] [-- --only SECTIONS] [-- --out FILE] [-- --json FILE]

  --quick          fewer and shorter runs (under 10 minutes on 2 cores); skips 5000 peers, and
                   times 100 manual add-port calls one by one and samples larger bridges
  --only LIST      comma-separated sections to run: ${SECTIONS.join(", ")} (default all)
  --out FILE       report to write (default docs/benchmarks.md)
  --json FILE      also write the raw figures as JSON`;

/** Sizes and durations of a full and of a quick run. */
function settingsFor(quick: boolean) {
  return {
    peerCounts: quick ? [10, 100, 1000] : [10, 100, 1000, 5000],
    manualPorts: quick ? 100 : 1000,
    manualSamplePoints: quick ? [250, 500, 1000, 2000] : [2000, 3500, 5000],
    planningRepeats: quick ? 3 : 7,
    convergenceRepeats: 3,
    dataRounds: quick ? 4 : 5,
    dataSeconds: quick ? 2 : 5,
    pings: quick ? 10 : 20,
    agentIdleSeconds: quick ? 15 : 30,
    burstPerHost: !quick,
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const sections = parseSections(values.only);
  const quick = values.quick ?? false;
  const settings = settingsFor(quick);
  const out = values.out ?? fileURLToPath(new URL("../../docs/benchmarks.md", import.meta.url));
  const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

  if (process.getuid?.() !== 0) {
    process.stderr.write("bench: needs root, because it builds network namespaces\n");
    return 2;
  }
  for (const line of [...(await sweepLeftovers()), ...(await sweepLabs())]) {
    progress(`removed a leftover of an earlier run: ${line}`);
  }

  const startedAt = new Date();
  const results: BenchResults = {
    quick,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    startedAt,
    seconds: 0,
    loadBefore: loadAverage(),
    loadAfter: "",
    machine: await describeMachine(),
    settings: {
      "control plane: peer counts": settings.peerCounts.join(", "),
      "manual method: ports added one by one": String(settings.manualPorts),
      "manual method: bridge sizes sampled": settings.manualSamplePoints.join(", "),
      "planning: repeats": String(settings.planningRepeats),
      "convergence: joins and leaves per lab": String(settings.convergenceRepeats),
      "data plane: rounds x seconds per test": `${settings.dataRounds} x ${settings.dataSeconds} s (after 1 s left out)`,
      "agent: idle interval": `${settings.agentIdleSeconds} s`,
    },
    notes: await readFile(fileURLToPath(new URL("../../bench/notes.md", import.meta.url)), "utf8"),
  };

  try {
    if (sections.has("control")) {
      results.controlPlane = await measureControlPlane({
        peerCounts: settings.peerCounts,
        incrementalAt: 1000,
        manualPorts: settings.manualPorts,
        manualSamplePoints: settings.manualSamplePoints,
        manualTargets: [10, 100, 1000, 5000],
        onProgress: progress,
      });
    }
    if (sections.has("planning")) {
      results.planning = await measurePlanning({
        hostCounts: [1000, 5000, 20000],
        modes: ["flow", "port"],
        repeats: settings.planningRepeats,
        onProgress: progress,
      });
    }
    if (sections.has("convergence")) {
      results.convergence = await measureConvergence({
        hostCounts: [3, 10],
        repeats: settings.convergenceRepeats,
        onProgress: progress,
      });
    }
    if (sections.has("dataplane")) {
      const bed = await buildDataPlane(progress);
      const series = {
        rounds: settings.dataRounds,
        seconds: settings.dataSeconds,
        omitSeconds: 1,
        pings: settings.pings,
        onProgress: progress,
      };
      const before = await measureSeries(bed.paths, series);
      progress("data plane: eth0 of every OVS lab host stops answering ARP");
      await receiveThroughOvs(bed);
      const ovsPaths = bed.paths.filter((path) => path.datapath !== "kernel");
      const after = await measureSeries(ovsPaths, series);
      results.dataPlane = { paths: bed.paths, series: dataPlaneSeries(before, after) };
    }
    if (sections.has("agent")) {
      results.agent = await measureAgent({
        hosts: 10,
        idleSeconds: settings.agentIdleSeconds,
        burst: 100,
        burstPerHost: settings.burstPerHost,
        onProgress: progress,
      });
      if (results.convergence !== undefined) {
        progress(`agent: idle in lab b-conv-10, ${settings.agentIdleSeconds} s`);
        results.agent.usages.push(await measureLabAgent("b-conv-10", settings.agentIdleSeconds));
      }
    }
  } finally {
    const errors = await runCleanup();
    for (const error of errors) {
      progress(error.message);
    }
  }

  results.seconds = (Date.now() - startedAt.getTime()) / 1000;
  results.loadAfter = loadAverage();
  // Formatted as the repository's format check expects, so that `npm test` accepts the page.
  const prettierOptions = (await resolveConfig(out)) ?? {};
  await writeFile(out, await format(renderReport(results), { ...prettierOptions, filepath: out }));
  progress(`wrote ${out}`);
  if (values.json !== undefined) {
    await writeFile(values.json, `${JSON.stringify(results, null, 2)}\n`);
    progress(`wrote ${values.json}`);
  }
  return 0;
}

function dataPlaneSeries(before: PathFigures[], after: PathFigures[]): DataPlaneSeries[] {
  return [
    {
      name: "Labs as `ovs-mesh lab up` builds them",
      description: [
        "Here a lab host's kernel may answer ARP for its underlay address on eth0, the port of",
        "br-phy, with eth0's MAC. A peer that learned that MAC sends host traffic to it, and the",
        "receiving kernel takes those frames straight from eth0: the underlay then crosses OVS",
        "only on the sending host, while tunnel traffic crosses OVS on both hosts. So this",
        "underlay figure is not yet the same datapath as the overlay.",
      ].join(" "),
      figures: before,
    },
    {
      name: "Every frame through OVS on both hosts (eth0 answers no ARP)",
      description: [
        "The same labs after `sysctl net.ipv4.conf.eth0.arp_ignore=8` and a flush of the",
        "neighbour tables in every lab host. Peers now learn br-phy's MAC, the kernel drops",
        "the copies of frames it sees on eth0, and host-to-host traffic crosses the netdev",
        "datapath on both hosts, as tunnel traffic does. This underlay is the 100 % of the",
        "80 % target. The kernel's own paths do not change and are not measured again.",
      ].join(" "),
      figures: after,
    },
  ];
}

function parseSections(only: string | undefined): Set<Section> {
  if (only === undefined) {
    return new Set(SECTIONS);
  }
  const chosen = new Set<Section>();
  for (const name of only.split(",")) {
    const section = SECTIONS.find((candidate) => candidate === name.trim());
    if (section === undefined) {
      throw new RangeError(
        `unknown section ${JSON.stringify(name)} in --only: use ${SECTIONS.join(", ")}`,
      );
    }
    chosen.add(section);
  }
  return chosen;
}

try {
  process.exitCode = await main();
} catch (error) {
  // After a signal, the cleanup removes namespaces under running tests, which then fail.
  if (interrupted()) {
    process.exitCode = 130;
  } else {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`bench: ${text}\n`);
    process.exitCode = 1;
  }
}
