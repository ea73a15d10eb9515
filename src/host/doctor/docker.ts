import type { LinkActual } from "../../plan/state.js";
import { fail, ok, skip, type CheckResult } from "./check.js";

/** Facts that {@link checkLinuxBridge} needs. */
export interface LinuxBridgeFacts {
  bridgeName: string;
  /** The bridge as the host has it; undefined when it does not exist. */
  link: LinkActual | undefined;
  /** Gateway address with prefix length that the cluster gives this host, such as "10.240.1.1/24". */
  expectedAddress: string | undefined;
  /** Inner MTU that the cluster and underlay give this host. */
  expectedMtu: number | undefined;
  /** The host's subnet, for the fix. */
  subnet: string | undefined;
  range: string | undefined;
}

/**
 * Checks that the container bridge (docker0) has the gateway address of the host's subnet
 * and the inner MTU. Docker sets both from daemon.json (bip and mtu) when it starts, so a
 * difference usually means that daemon.json was not updated or Docker was not restarted.
 */
export function checkLinuxBridge(facts: LinuxBridgeFacts): CheckResult {
  const id = "linux-bridge";
  const { bridgeName, link } = facts;
  if (facts.expectedAddress === undefined || facts.expectedMtu === undefined) {
    return skip(
      id,
      `no cluster known, so the address and MTU of ${bridgeName} were not checked`,
      "pass --config FILE --host NAME or --etcd",
    );
  }
  const dockerFix = `ovs-mesh docker-config --subnet ${facts.subnet ?? "SUBNET"} --mtu ${facts.expectedMtu} --range ${facts.range ?? "RANGE"}, then restart Docker (systemctl restart docker) and the agent`;
  if (link === undefined) {
    return fail(
      id,
      `the Linux bridge ${bridgeName} does not exist, so containers have no gateway`,
      `start Docker configured by ${dockerFix.split(",")[0]}, or run ovs-mesh apply, which creates the bridge`,
    );
  }
  const problems: string[] = [];
  if (!link.addresses.includes(facts.expectedAddress)) {
    const found = link.addresses.length === 0 ? "no IPv4 address" : link.addresses.join(", ");
    problems.push(
      `${bridgeName} has ${found}, but this host's gateway is ${facts.expectedAddress}`,
    );
  }
  const foreign = link.addresses.filter((address) => address !== facts.expectedAddress);
  if (foreign.length > 0 && problems.length === 0) {
    problems.push(`${bridgeName} also has ${foreign.join(", ")}, outside this host's claim`);
  }
  if (link.mtu !== facts.expectedMtu) {
    problems.push(
      `${bridgeName} has MTU ${link.mtu}, but the tunnels leave ${facts.expectedMtu}${link.mtu > facts.expectedMtu ? ": large packets to remote containers are lost" : ""}`,
    );
  }
  if (problems.length === 0) {
    return ok(id, `${bridgeName} has ${facts.expectedAddress} and MTU ${facts.expectedMtu}`);
  }
  return fail(id, problems.join("; "), dockerFix);
}
