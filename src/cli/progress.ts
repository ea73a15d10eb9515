/** Options that choose how a long command reports its steps. */
export const PROGRESS_OPTIONS = {
  quiet: { type: "boolean" },
  json: { type: "boolean" },
} as const;

export const PROGRESS_USAGE = `  --quiet             print no progress, only the result and errors
  --json              print progress as JSON lines ({"elapsedMs":..,"step":".."}) on stderr`;

/**
 * Returns a function that prints each step of a long command on stderr as it happens, with
 * the time since the command started: "[  2.4s] host1: OVS started". `--quiet` prints
 * nothing and `--json` prints one JSON object per step, for scripts.
 */
export function progressPrinter(
  values: { quiet?: boolean; json?: boolean },
  stream: NodeJS.WritableStream = process.stderr,
): (step: string) => void {
  const started = performance.now();
  if (values.quiet === true) {
    return () => undefined;
  }
  if (values.json === true) {
    return (step) => {
      const elapsedMs = Math.round(performance.now() - started);
      stream.write(`${JSON.stringify({ elapsedMs, step })}\n`);
    };
  }
  return (step) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(5);
    stream.write(`[${seconds}s] ${step}\n`);
  };
}
