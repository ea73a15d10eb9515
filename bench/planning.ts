/** Planning: validation, planHost and diffHost for large clusters, one process per size. */
import { fileURLToPath } from "node:url";

import { run } from "../src/host/exec.js";
import type { TunnelMode } from "../src/plan/cluster.js";
import type { PlanningFigures, PlanningRequest } from "./planning-child.js";

/** Settings of {@link measurePlanning}. */
export interface PlanningOptions {
  hostCounts: number[];
  modes: TunnelMode[];
  repeats: number;
  onProgress: (message: string) => void;
}

/** Measures each cluster size and mode in a fresh Node process. */
export async function measurePlanning(options: PlanningOptions): Promise<PlanningFigures[]> {
  const child = fileURLToPath(new URL("./planning-child.js", import.meta.url));
  const figures: PlanningFigures[] = [];
  for (const mode of options.modes) {
    for (const hosts of options.hostCounts) {
      options.onProgress(`planning: ${hosts} hosts, ${mode} mode`);
      const request: PlanningRequest = { hosts, mode, repeats: options.repeats };
      const { stdout } = await run(
        [process.execPath, "--expose-gc", child, JSON.stringify(request)],
        { timeoutMs: 600_000 },
      );
      figures.push(JSON.parse(stdout) as PlanningFigures);
    }
  }
  return figures;
}
