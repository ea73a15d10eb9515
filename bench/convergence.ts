/** Convergence in the lab: how long the cluster takes to reach a host that joins or leaves. */

/** One figure of the convergence table, with `value` undefined when it was not measured. */
export interface ConvergenceRow {
  hosts: number;
  event: "join" | "leave";
  /** Milliseconds. */
  value: number | undefined;
  /** Method of measurement, or the reason why the figure was not measured. */
  note: string;
}

/** Figures of the convergence section. */
export interface ConvergenceFigures {
  description: string;
  rows: ConvergenceRow[];
}

/**
 * Returns the convergence rows.
 * NOTE: the lab does not yet start hosts with an agent and a shared store (`lab up --store
 * etcd`, `lab add`, `lab remove`), so there is nothing to time and every row gives that reason.
 */
export async function measureConvergence(
  hostCounts: readonly number[],
): Promise<ConvergenceFigures> {
  const reason =
    "the lab cannot yet run agents with a shared store and add or remove hosts (lab up --store etcd, lab add, lab remove)";
  return {
    description:
      "Join: time from starting a new host's agent until every existing container reaches a container of the new host. Leave: time from `ovs-mesh leave` until every peer has dropped the host's rules.",
    rows: hostCounts.flatMap((hosts) => [
      { hosts, event: "join", value: undefined, note: reason },
      { hosts, event: "leave", value: undefined, note: reason },
    ]),
  };
}
