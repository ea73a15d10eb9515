/**
 * Counts the external programs that this process starts, by program name. It wraps
 * `child_process.spawn` and publishes the wrapper to ES module importers with
 * `syncBuiltinESMExports`, so product code that imports `spawn` is measured unchanged.
 */
import childProcess from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import { basename } from "node:path";

const counts = new Map<string, number>();
let installed = false;

/** Starts counting; calling it again does nothing. */
export function countSpawns(): void {
  if (installed) {
    return;
  }
  installed = true;
  const original = childProcess.spawn;
  const counting = (command: string, ...rest: unknown[]): unknown => {
    const name = basename(command);
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return Reflect.apply(original, childProcess, [command, ...rest]);
  };
  childProcess.spawn = counting as typeof original;
  syncBuiltinESMExports();
}

/** Returns the counts so far, by program name, and sets them to zero. */
export function takeSpawnCounts(): Record<string, number> {
  const snapshot = Object.fromEntries([...counts.entries()].sort());
  counts.clear();
  return snapshot;
}
