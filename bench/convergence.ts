/**
 * Convergence in the lab: how long a cluster of agents with an etcd store takes to reach a
 * host that joins, and to forget a host that leaves, timed by the lab's own measurements.
 */
import { measureJoin, measureLeave } from "../src/lab/convergence.js";
import { BENCH_LAB_ROOT, createBenchLab } from "./labs.js";
import { median } from "./stats.js";

/** Settings of {@link measureConvergence}. */
export interface ConvergenceOptions {
  hostCounts: number[];
  /** Joins and leaves per lab. The table shows the median. */
  repeats: number;
  onProgress: (message: string) => void;
}

/** One figure of the convergence table, with `value` undefined when it was not measured. */
export interface ConvergenceRow {
  hosts: number;
  event: string;
  /** Median milliseconds over the repeats. */
  value: number | undefined;
  /** All samples, in milliseconds. */
  samples: number[];
  /** Method of measurement, or the reason why the figure was not measured. */
  note: string;
}

/** Figures of the convergence section. */
export interface ConvergenceFigures {
  description: string;
  rows: ConvergenceRow[];
}

/**
 * Builds one lab per host count whose hosts run `ovs-mesh agent` with a one-member etcd
 * store, then lets a new host join and leave again `repeats` times.
 */
export async function measureConvergence(options: ConvergenceOptions): Promise<ConvergenceFigures> {
  const rows: ConvergenceRow[] = [];
  for (const hosts of options.hostCounts) {
    const name = `b-conv-${hosts}`;
    options.onProgress(`convergence: building lab ${name} with ${hosts} agents and etcd`);
    await createBenchLab(
      { name, hosts, containers: 1, tunnel: "gre", mode: "flow" },
      { store: { kind: "etcd", etcdMembers: 1 } },
    );

    const samples = {
      agentJoined: [],
      bridge: [],
      join: [],
      leaveCommand: [],
      leave: [],
    } as Record<"agentJoined" | "bridge" | "join" | "leaveCommand" | "leave", number[]>;
    for (let repeat = 1; repeat <= options.repeats; repeat += 1) {
      const join = await measureJoin(name, { root: BENCH_LAB_ROOT });
      samples.agentJoined.push(join.joinedMs);
      samples.bridge.push(join.bridgeMs);
      samples.join.push(join.convergedMs);
      const leave = await measureLeave(name, join.host, { root: BENCH_LAB_ROOT });
      samples.leaveCommand.push(leave.leaveMs);
      samples.leave.push(leave.convergedMs);
      options.onProgress(
        `convergence: ${hosts} hosts, round ${repeat}: join ${join.convergedMs} ms, leave ${leave.convergedMs} ms`,
      );
    }

    const row = (event: string, values: number[], note: string): ConvergenceRow => ({
      hosts,
      event,
      value: median(values),
      samples: values,
      note,
    });
    rows.push(
      row("join: the new agent has claimed its subnet", samples.agentJoined, "agent log"),
      row("join: docker0 of the new host has its gateway", samples.bridge, "polled every 50 ms"),
      row(
        "join: every existing container reaches the new host's container",
        samples.join,
        "first echo reply of pings every 50 ms",
      ),
      row("leave: `ovs-mesh leave` has returned", samples.leaveCommand, "command exit"),
      row(
        "leave: no peer has rules for the host any more",
        samples.leave,
        "flow dumps every 50 ms",
      ),
    );
  }
  return {
    description: [
      "One lab per size whose hosts run `ovs-mesh agent` with a one-member etcd store (GRE, flow",
      `mode, one container per host). A new host joins and leaves again ${repeatsText(options.repeats)},`,
      "and the table shows the median. The new host's namespace and OVS are built first, and",
      "join times run from the start of its agent; leave times run from the start of",
      "`ovs-mesh leave`. The new host's containers are attached only once its agent has made",
      "docker0, as Docker would, so the reach time includes that step of the lab.",
    ].join(" "),
    rows,
  };
}

function repeatsText(repeats: number): string {
  return repeats === 1 ? "once" : `${repeats} times`;
}
