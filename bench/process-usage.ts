/** CPU time and memory of one process over an interval, read from /proc. */
import { readFile, writeFile } from "node:fs/promises";

/** CPU and memory of one process over one interval. */
export interface Usage {
  label: string;
  seconds: number;
  /** CPU time of the agent and the programs it ran over the interval, in seconds. */
  cpuSeconds: number;
  /** CPU time as a share of one CPU, in percent. */
  cpuPercent: number;
  /** Resident set size at the end, and its peak over the interval, in bytes. */
  rssBytes: number;
  peakRssBytes: number;
  /** Reconciles that the agent logged during the interval. */
  reconciles: number;
}

/**
 * Measures a process's CPU time and memory while `during` runs. `countReconciles` returns
 * the reconciles that the process has logged so far.
 */
export async function sampleProcess(
  pid: number,
  ticksPerSecond: number,
  label: string,
  countReconciles: () => number | Promise<number>,
  during: () => Promise<unknown>,
): Promise<Usage> {
  // Writing 5 to clear_refs resets the peak RSS (VmHWM) of the process to its current RSS.
  await writeFile(`/proc/${pid}/clear_refs`, "5");
  const reconcilesBefore = await countReconciles();
  const ticksBefore = await cpuTicks(pid);
  const started = performance.now();
  await during();
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = ((await cpuTicks(pid)) - ticksBefore) / ticksPerSecond;
  const memory = await memoryOf(pid);
  return {
    label,
    seconds,
    cpuSeconds,
    cpuPercent: (100 * cpuSeconds) / seconds,
    rssBytes: memory.rss,
    peakRssBytes: memory.peak,
    reconciles: (await countReconciles()) - reconcilesBefore,
  };
}

/**
 * User and system time of a process and of its children that have exited, in clock ticks
 * (fields 14 to 17 of /proc/PID/stat), so that the ip, iptables, ovs-ofctl and ping
 * programs that the agent runs count as its own.
 */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0);
}

async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kilobytes = (key: string) => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
    if (match?.[1] === undefined) {
      throw new Error(`/proc/${pid}/status has no ${key}`);
    }
    return Number(match[1]) * 1024;
  };
  return { rss: kilobytes("VmRSS"), peak: kilobytes("VmHWM") };
}
