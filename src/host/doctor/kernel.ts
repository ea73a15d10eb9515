import { ok, fail, skip, warn, type CheckResult } from "./check.js";

/** Checks that the host routes packets between its interfaces (net.ipv4.ip_forward=1). */
export function checkIpForward(value: string | undefined): CheckResult {
  const id = "ip-forward";
  if (value === undefined) {
    return skip(id, "net.ipv4.ip_forward could not be read");
  }
  if (value === "1") {
    return ok(id, "net.ipv4.ip_forward is 1");
  }
  return fail(
    id,
    `net.ipv4.ip_forward is ${value}: the host does not route between its containers and the tunnels, so no container reaches another host`,
    "sysctl -w net.ipv4.ip_forward=1 (ovs-mesh apply and the agent set it: check that the agent runs)",
  );
}

/** Values that {@link checkRpFilter} needs. */
export interface RpFilterFacts {
  /** Value of net.ipv4.conf.all.rp_filter. */
  all: string | undefined;
  /** Value of net.ipv4.conf.BRIDGE.rp_filter; undefined when the bridge does not exist. */
  bridge: string | undefined;
  bridgeName: string;
  /** Cluster range; undefined when no cluster is known. */
  range: string | undefined;
  /** Whether the main table routes the cluster range through the bridge. */
  clusterRoute: boolean;
  /** Whether the main table has a default route. */
  defaultRoute: boolean;
}

/**
 * Checks that reverse path filtering keeps packets from remote containers. They arrive on
 * the Linux bridge with a source address of another host's subnet. The kernel applies the
 * larger of conf.all and conf.BRIDGE. Mode 1 (strict) drops such a packet unless the route
 * back to its source leaves through the bridge, which the cluster route provides. Mode 2
 * (loose) drops it only when no route at all leads back to the source.
 */
export function checkRpFilter(facts: RpFilterFacts): CheckResult {
  const id = "rp-filter";
  if (facts.all === undefined) {
    return skip(id, "net.ipv4.conf.all.rp_filter could not be read");
  }
  const mode = Math.max(Number(facts.all), Number(facts.bridge ?? "0"));
  const values = `conf.all.rp_filter=${facts.all}, conf.${facts.bridgeName}.rp_filter=${facts.bridge ?? "(no bridge)"}`;
  if (mode === 0) {
    return ok(id, `reverse path filtering is off (${values})`);
  }
  if (mode === 2) {
    return facts.clusterRoute || facts.defaultRoute
      ? ok(
          id,
          `loose reverse path filtering (${values}) keeps overlay traffic: a route leads back to every source`,
        )
      : fail(
          id,
          `loose reverse path filtering (${values}) with no route to the cluster range and no default route drops packets from remote containers`,
          "run ovs-mesh apply, which routes the cluster range through the bridge",
        );
  }
  if (facts.range === undefined) {
    return warn(
      id,
      `strict reverse path filtering (${values}) is safe only while the cluster range is routed through ${facts.bridgeName}; without a cluster this was not checked`,
      "pass --config FILE --host NAME or --etcd so that doctor knows the cluster range",
    );
  }
  if (facts.clusterRoute) {
    return ok(
      id,
      `strict reverse path filtering (${values}) keeps overlay traffic because ${facts.range} is routed through ${facts.bridgeName}`,
    );
  }
  return fail(
    id,
    `strict reverse path filtering (${values}) drops packets from remote containers: ${facts.range} is not routed through ${facts.bridgeName}, so the route back to their source leaves through another interface`,
    `run ovs-mesh apply (it adds the route ${facts.range} dev ${facts.bridgeName}), or set net.ipv4.conf.all.rp_filter and conf.${facts.bridgeName}.rp_filter to 2`,
  );
}

/** Values that {@link checkSendRedirects} needs. */
export interface RedirectFacts {
  /** Value of net.ipv4.conf.all.send_redirects. */
  all: string | undefined;
  /** Value of net.ipv4.conf.BRIDGE.send_redirects; undefined when the bridge does not exist. */
  bridge: string | undefined;
  bridgeName: string;
}

/**
 * Checks that the host sends no ICMP redirects to its containers. It forwards their packets
 * for remote containers back out of the bridge they came from, which makes the kernel send
 * redirects ("reach that address directly") unless both conf.all and conf.BRIDGE are 0.
 */
export function checkSendRedirects(facts: RedirectFacts): CheckResult {
  const id = "send-redirects";
  if (facts.all === undefined) {
    return skip(id, "net.ipv4.conf.all.send_redirects could not be read");
  }
  const on = [
    ...(facts.all === "0" ? [] : [`net.ipv4.conf.all.send_redirects=${facts.all}`]),
    ...(facts.bridge === undefined || facts.bridge === "0"
      ? []
      : [`net.ipv4.conf.${facts.bridgeName}.send_redirects=${facts.bridge}`]),
  ];
  if (on.length === 0) {
    return ok(id, `ICMP redirects are off on all and ${facts.bridgeName}`);
  }
  return fail(
    id,
    `${on.join(" and ")}: the host tells its containers to reach remote containers directly on ${facts.bridgeName}, where they cannot be reached`,
    `sysctl -w net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.${facts.bridgeName}.send_redirects=0 (ovs-mesh apply sets both)`,
  );
}
