import { COOKIE, type Flow } from "../plan/state.js";
import { run } from "./exec.js";
import { parseFlowDump } from "./openflow.js";

/** An OpenFlow rule with the counters that ovs-vswitchd keeps for it. */
export interface FlowStats {
  flow: Flow;
  packets: number;
  bytes: number;
}

/** Statistics fields that `ovs-ofctl dump-flows` prints between the match fields. */
const STAT_FIELDS =
  /\b(duration|n_packets|n_bytes|idle_age|hard_age|idle_timeout|hard_timeout)=[^,\s]*,\s*/g;

/** Reads ovs-mesh's rules with their packet and byte counters from a bridge. */
export async function dumpFlowStats(target: string): Promise<FlowStats[]> {
  const { stdout } = await run(
    ["ovs-ofctl", "-O", "OpenFlow13", "--names", "dump-flows", target, `cookie=${COOKIE}/-1`],
    { timeoutMs: 30_000 },
  );
  return parseFlowStats(stdout);
}

/**
 * Parses `ovs-ofctl dump-flows` output with statistics, such as
 * " cookie=0x1, duration=5.0s, table=10, n_packets=5, n_bytes=490, priority=100,ip actions=LOCAL".
 * Rules without counters, as `--no-stats` prints them, count 0 packets and 0 bytes.
 */
export function parseFlowStats(text: string): FlowStats[] {
  const stats: FlowStats[] = [];
  for (const line of text.split("\n")) {
    const flows = parseFlowDump(line.replace(STAT_FIELDS, ""));
    const flow = flows[0];
    if (flow === undefined) {
      continue;
    }
    stats.push({
      flow,
      packets: counter(line, "n_packets"),
      bytes: counter(line, "n_bytes"),
    });
  }
  return stats;
}

function counter(line: string, field: string): number {
  const match = new RegExp(`\\b${field}=(\\d+)`).exec(line);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}
