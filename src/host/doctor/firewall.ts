import type { TunnelType } from "../../plan/cluster.js";
import { FORWARD_CHAIN, type RuleSpec } from "../../plan/state.js";
import { isPlainJump, splitRuleLine } from "../iptables.js";
import { fail, ok, skip, warn, type CheckResult } from "./check.js";

/** A built-in chain as `iptables -S CHAIN` prints it. */
export interface ChainListing {
  /** Policy, such as "ACCEPT" or "DROP". */
  policy: string | undefined;
  /** Arguments after "-A CHAIN" of each rule, in order. */
  rules: RuleSpec[];
}

/** Parses `iptables -S CHAIN` output into the chain's policy and rules. */
export function parseChainWithPolicy(output: string, chain: string): ChainListing {
  const listing: ChainListing = { policy: undefined, rules: [] };
  for (const line of output.split("\n")) {
    const args = splitRuleLine(line);
    if (args[0] === "-P" && args[1] === chain) {
      listing.policy = args[2];
    } else if (args[0] === "-A" && args[1] === chain) {
      listing.rules.push(args.slice(2));
    }
  }
  return listing;
}

const DROPPING = ["DROP", "REJECT"];

/** Returns the target of a rule (-j or -g), or undefined. */
function targetOf(rule: RuleSpec): string | undefined {
  const index = rule.findIndex((argument) => argument === "-j" || argument === "-g");
  return index < 0 ? undefined : rule[index + 1];
}

/**
 * Checks that forwarded overlay traffic is accepted. Docker sets FORWARD's policy to DROP;
 * then packets between local and remote containers pass only through the jump to
 * ovs-mesh's chain, which accepts the cluster range. A rule before the jump that drops
 * every packet stops them as well.
 */
export function checkForwardPolicy(forward: ChainListing | Error): CheckResult {
  const id = "forward-policy";
  if (forward instanceof Error) {
    return skip(id, `FORWARD could not be read: ${forward.message}`);
  }
  const jump = forward.rules.findIndex((rule) => isPlainJump(rule, FORWARD_CHAIN));
  const before = jump < 0 ? forward.rules : forward.rules.slice(0, jump);
  const blocking = before.find(
    (rule) => rule.length === 2 && DROPPING.includes(targetOf(rule) ?? ""),
  );
  if (blocking !== undefined) {
    return fail(
      id,
      `FORWARD drops every packet with "-A FORWARD ${blocking.join(" ")}"${jump < 0 ? "" : ` before the jump to ${FORWARD_CHAIN}`}`,
      `delete that rule, or insert the jump before it: iptables -I FORWARD 1 -j ${FORWARD_CHAIN}`,
    );
  }
  if (forward.policy !== "DROP") {
    return ok(id, `FORWARD policy is ${forward.policy ?? "unknown"}`);
  }
  if (jump >= 0) {
    return ok(id, `FORWARD policy is DROP and FORWARD jumps to ${FORWARD_CHAIN}`);
  }
  return fail(
    id,
    `FORWARD policy is DROP and FORWARD does not jump to ${FORWARD_CHAIN}: packets between local and remote containers are dropped`,
    `run ovs-mesh apply or restart the agent (they add ${FORWARD_CHAIN} and the jump), or: iptables -I FORWARD 1 -j ${FORWARD_CHAIN}`,
  );
}

/** IP protocol and UDP port of each tunnel type's outer packets. */
const TUNNEL_TRAFFIC: Readonly<
  Record<TunnelType, { protocols: string[]; port: number | undefined; label: string }>
> = {
  gre: { protocols: ["gre", "47"], port: undefined, label: "GRE (IP protocol 47)" },
  vxlan: { protocols: ["udp", "17"], port: 4789, label: "VXLAN (UDP port 4789)" },
  geneve: { protocols: ["udp", "17"], port: 6081, label: "Geneve (UDP port 6081)" },
};

/** Arguments that only select the protocol, port or action of a rule. */
const PLAIN_ARGUMENTS = new Set(["-p", "--protocol", "-m", "--dport", "--dports", "-j", "-g"]);

/** Classifies the tunnel packets that a rule matches: all of them, some of them, or none. */
function ruleCoverage(rule: RuleSpec, tunnel: TunnelType): "all" | "some" | "none" {
  const traffic = TUNNEL_TRAFFIC[tunnel];
  let partial = false;
  for (let index = 0; index < rule.length; index += 1) {
    const argument = rule[index] ?? "";
    const value = rule[index + 1] ?? "";
    if (argument === "!") {
      partial = true;
    } else if (
      (argument === "-i" || argument === "-o") &&
      value === "lo" &&
      rule[index - 1] !== "!"
    ) {
      // Tunnel packets to and from peers never use the loopback interface.
      return "none";
    } else if (argument === "-p" || argument === "--protocol") {
      if (value !== "all" && !traffic.protocols.includes(value.toLowerCase())) {
        return "none";
      }
      index += 1;
    } else if (argument === "--dport" || argument === "--dports") {
      if (traffic.port === undefined || !portListIncludes(value, traffic.port)) {
        return "none";
      }
      index += 1;
    } else if (PLAIN_ARGUMENTS.has(argument)) {
      index += 1;
    } else if (argument.startsWith("-")) {
      partial = true;
    }
  }
  return partial ? "some" : "all";
}

/** Returns whether an iptables port list ("4789", "4000:5000", "53,4789") contains `port`. */
export function portListIncludes(list: string, port: number): boolean {
  return list.split(",").some((item) => {
    const [low, high] = item.split(":");
    const from = Number(low === "" ? 0 : low);
    const to = high === undefined ? from : Number(high === "" ? 65535 : high);
    return port >= from && port <= to;
  });
}

/** Finds the first rule or policy of a chain that drops tunnel packets, if one does. */
function findDrop(
  chain: ChainListing,
  tunnel: TunnelType,
): { text: string; certain: boolean } | undefined {
  let uncertain: string | undefined;
  for (const rule of chain.rules) {
    const coverage = ruleCoverage(rule, tunnel);
    const target = targetOf(rule) ?? "";
    if (coverage === "none") {
      continue;
    }
    if (target === "ACCEPT" && coverage === "all") {
      break;
    }
    if (DROPPING.includes(target)) {
      if (coverage === "all") {
        return { text: `rule "${rule.join(" ")}"`, certain: true };
      }
      uncertain ??= `rule "${rule.join(" ")}"`;
    }
  }
  if (uncertain !== undefined) {
    return { text: uncertain, certain: false };
  }
  return undefined;
}

/** Facts that {@link checkTunnelFirewall} needs. */
export interface TunnelFirewallFacts {
  tunnel: TunnelType | undefined;
  /** The datapath in use; undefined when unknown. */
  datapath: "system" | "netdev" | undefined;
  input: ChainListing | Error;
  output: ChainListing | Error;
}

/**
 * Checks that local INPUT and OUTPUT rules let the tunnel's outer packets through. With the
 * system datapath the kernel receives and sends them through these chains. The netdev
 * datapath sends and receives them in ovs-vswitchd on the underlay port, so the chains do
 * not see them (measured in the lab: a DROP rule for GRE in INPUT counted 0 packets). Such
 * a rule is reported as a warning there, because it breaks the overlay as soon as the host
 * moves to the system datapath.
 */
export function checkTunnelFirewall(facts: TunnelFirewallFacts): CheckResult {
  const id = "tunnel-firewall";
  if (facts.tunnel === undefined) {
    return skip(
      id,
      "no cluster known, so the tunnel type is unknown",
      "pass --config FILE --host NAME or --etcd",
    );
  }
  if (facts.input instanceof Error || facts.output instanceof Error) {
    const error = facts.input instanceof Error ? facts.input : facts.output;
    return skip(
      id,
      `INPUT or OUTPUT could not be read: ${error instanceof Error ? error.message : ""}`,
    );
  }
  const label = TUNNEL_TRAFFIC[facts.tunnel].label;
  const findings: string[] = [];
  let certain = false;
  for (const [name, chain] of [
    ["INPUT", facts.input],
    ["OUTPUT", facts.output],
  ] as const) {
    const drop = findDrop(chain, facts.tunnel);
    const policyDrops =
      drop === undefined && chain.policy === "DROP" && !accepts(chain, facts.tunnel, "all");
    if (drop !== undefined) {
      findings.push(`${name} ${drop.certain ? "drops" : "may drop"} ${label} with ${drop.text}`);
      certain ||= drop.certain;
    } else if (policyDrops) {
      // A rule that accepts part of the traffic, such as established connections, may let
      // the tunnel through, but only for packets that it matches.
      const partly = accepts(chain, facts.tunnel, "some");
      findings.push(`${name} ${partly ? "may drop" : "drops"} ${label} by its DROP policy`);
      certain ||= !partly;
    }
  }
  if (findings.length === 0) {
    return ok(id, `INPUT and OUTPUT let ${label} through`);
  }
  const fix = `accept the tunnel traffic before that rule, for example: iptables -I INPUT 1 ${acceptArguments(facts.tunnel)} -j ACCEPT; iptables -I OUTPUT 1 ${acceptArguments(facts.tunnel)} -j ACCEPT`;
  if (facts.datapath === "netdev") {
    return warn(
      id,
      `${findings.join("; ")}. The netdev datapath sends tunnel packets past these chains, so the overlay works now, but not with the system datapath`,
      fix,
    );
  }
  return certain
    ? fail(id, `${findings.join("; ")}: tunnels to peers are cut`, fix)
    : warn(id, findings.join("; "), fix);
}

function accepts(chain: ChainListing, tunnel: TunnelType, coverage: "all" | "some"): boolean {
  return chain.rules.some(
    (rule) => targetOf(rule) === "ACCEPT" && ruleCoverage(rule, tunnel) === coverage,
  );
}

function acceptArguments(tunnel: TunnelType): string {
  const traffic = TUNNEL_TRAFFIC[tunnel];
  return traffic.port === undefined ? "-p gre" : `-p udp --dport ${traffic.port}`;
}
