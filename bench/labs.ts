/** Labs that the benchmark builds with the product's lab code, under a state root of its own. */
import { destroyLab } from "../src/lab/down.js";
import { listLabNames } from "../src/lab/state.js";
import { createLab, type CreateLabOptions } from "../src/lab/up.js";
import type { Lab } from "../src/lab/lab.js";
import type { LabOptions } from "../src/lab/topology.js";
import { onCleanup } from "./cleanup.js";

/**
 * State root of the benchmark's labs, apart from the default one, so that `ovs-mesh lab
 * status` does not list them. Every lab name starts with "b-", so its namespaces start with
 * "om-b-".
 */
export const BENCH_LAB_ROOT = "/var/lib/ovs-mesh/bench";

/** Builds a lab under {@link BENCH_LAB_ROOT} and registers its removal. */
export async function createBenchLab(
  options: LabOptions,
  how: Omit<CreateLabOptions, "root"> = {},
): Promise<Lab> {
  if (!options.name.startsWith("b-")) {
    throw new RangeError(`benchmark lab names start with "b-": ${JSON.stringify(options.name)}`);
  }
  onCleanup(`lab ${options.name}`, async () => {
    await destroyLab(options.name, { root: BENCH_LAB_ROOT });
  });
  return createLab(options, { ...how, root: BENCH_LAB_ROOT });
}

/** Removes every lab under {@link BENCH_LAB_ROOT}, left by an interrupted run. */
export async function sweepLabs(): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listLabNames(BENCH_LAB_ROOT)) {
    await destroyLab(name, { root: BENCH_LAB_ROOT });
    removed.push(`lab ${name}`);
  }
  return removed;
}
