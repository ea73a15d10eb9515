/** Number and table formatting for the Markdown report. */

/** Formats a Markdown table with a header row. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Formats milliseconds with a precision that suits their size: "0.42 ms", "37 ms", "1.23 s". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) {
    return "n/a";
  }
  if (ms >= 1000) {
    return `${(ms / 1000).toFixed(ms >= 100_000 ? 0 : 2)} s`;
  }
  return ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`;
}

/** Formats bytes in MiB. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Formats a rate in bit/s as Gbit/s. */
export function gigabits(bitsPerSecond: number): string {
  return `${(bitsPerSecond / 1e9).toFixed(2)}`;
}

/** Formats a ratio as a percentage. */
export function percent(ratio: number): string {
  return Number.isFinite(ratio) ? `${(100 * ratio).toFixed(0)} %` : "n/a";
}

/** Formats a ratio as a factor, such as "312x". */
export function factor(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}x` : "n/a";
}

/** Returns "yes" or "**no**" in bold, so that a missed target is easy to find. */
export function met(ok: boolean): string {
  return ok ? "yes" : "**no**";
}

/** Returns a section that this run skipped: its title and a note that it was not run. */
export function notRun(title: string): string {
  return `${title}\n\nNot run in this invocation (see \`--only\`).\n`;
}
