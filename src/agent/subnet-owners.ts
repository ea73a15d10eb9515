import type { Cluster } from "../plan/cluster.js";

/**
 * Remembers which peer owns each subnet, to find the subnets whose owner changed between
 * two cluster views. A subnet that a host freed and another host claimed holds new
 * containers, often at the same addresses but with new MAC addresses. This host's kernel
 * keeps sending to the old MAC addresses until its neighbor entries expire, which took up
 * to 40 s in the lab (Linux defaults, kernel 6.1), so those entries must be flushed.
 */
export class SubnetOwners {
  #owners: Map<string, string> | undefined;

  /**
   * Records the peers of `cluster` and returns the subnets whose owner (name and underlay
   * IP) differs from the last call. The first call returns none, because the agent cannot
   * know what the kernel learned before it started.
   */
  changed(cluster: Cluster, self: string): string[] {
    const owners = new Map(
      cluster.hosts
        .filter((host) => host.name !== self)
        .map((host) => [host.subnet, `${host.name} ${host.underlayIp}`]),
    );
    const previous = this.#owners;
    this.#owners = owners;
    if (previous === undefined) {
      return [];
    }
    return [...owners]
      .filter(([subnet, owner]) => previous.get(subnet) !== owner)
      .map(([subnet]) => subnet);
  }
}
