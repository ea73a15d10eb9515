import {
  FORWARD_CHAIN,
  NAT_CHAIN,
  type LinuxActual,
  type LinuxChange,
  type RuleSpec,
} from "../plan/state.js";
import { applyIpChanges, checkIpChange, type IpChange } from "./ip-batch.js";
import { readLinks, readRoutes } from "./ip-read.js";
import { applyIptables, checkIptablesChange } from "./iptables-restore.js";
import { isPlainJump, readChain, type IptablesChange, type IptablesTable } from "./iptables.js";
import { readSysctl, sysctlPath, writeSysctl } from "./sysctl.js";

/** Sysctls and chains for {@link readLinux}, which reads links and routes in full. */
export interface LinuxQuery {
  /** sysctl keys in dotted form. */
  sysctlKeys: string[];
  /** Chains to list per table. */
  chains: { filter: string[]; nat: string[] };
}

/**
 * Reads the Linux side of the current network namespace: links with their IPv4 addresses,
 * main-table IPv4 routes, the requested sysctls and chains, and whether FORWARD and nat
 * POSTROUTING jump to ovs-mesh's chains, and whether each jump is its chain's first rule.
 */
export async function readLinux(query: LinuxQuery): Promise<LinuxActual> {
  const [links, routes, sysctls, filter, nat, forward, postrouting] = await Promise.all([
    readLinks(),
    readRoutes(),
    readSysctls(query.sysctlKeys),
    readChains("filter", query.chains.filter),
    readChains("nat", query.chains.nat),
    readChain("filter", "FORWARD"),
    readChain("nat", "POSTROUTING"),
  ]);

  return {
    links,
    routes,
    sysctls,
    chains: { filter, nat },
    jumps: {
      forward: hasJump(forward, FORWARD_CHAIN),
      postrouting: hasJump(postrouting, NAT_CHAIN),
    },
    jumpsFirst: {
      forward: isFirstRule(forward, FORWARD_CHAIN),
      postrouting: isFirstRule(postrouting, NAT_CHAIN),
    },
  };
}

async function readSysctls(keys: readonly string[]): Promise<Record<string, string | undefined>> {
  const values = await Promise.all(keys.map(readSysctl));
  return Object.fromEntries(keys.map((key, index) => [key, values[index]]));
}

async function readChains(
  table: IptablesTable,
  chains: readonly string[],
): Promise<Record<string, RuleSpec[] | undefined>> {
  const rules = await Promise.all(chains.map((chain) => readChain(table, chain)));
  return Object.fromEntries(chains.map((chain, index) => [chain, rules[index]]));
}

function hasJump(rules: RuleSpec[] | undefined, chain: string): boolean {
  return rules !== undefined && rules.some((rule) => isPlainJump(rule, chain));
}

function isFirstRule(rules: RuleSpec[] | undefined, chain: string): boolean {
  const first = rules?.[0];
  return first !== undefined && isPlainJump(first, chain);
}

/** Consecutive changes that one tool applies. */
type ChangeRun =
  | { tool: "sysctl"; changes: Extract<LinuxChange, { kind: "sysctl" }>[] }
  | { tool: "ip"; changes: IpChange[] }
  | { tool: "iptables"; changes: IptablesChange[] };

/**
 * Applies changes to the current network namespace in list order. It first checks every
 * interface name, address, sysctl key and chain in the list, so an invalid change stops the
 * list before anything is applied.
 *
 * Consecutive link, address and route changes share one `ip -batch` process. Consecutive
 * iptables changes share one iptables-restore call per table, so each table changes
 * atomically, and the tables are applied in the order they first appear. A list grouped by
 * tool therefore runs each tool once. A sysctl of an interface must come after the change
 * that creates the interface, because its /proc/sys file appears with the interface.
 */
export async function applyLinux(changes: readonly LinuxChange[]): Promise<void> {
  changes.forEach(checkLinuxChange);

  for (const changeRun of groupRuns(changes)) {
    switch (changeRun.tool) {
      case "sysctl":
        for (const change of changeRun.changes) {
          await writeSysctl(change.key, change.value);
        }
        break;

      case "ip":
        await applyIpChanges(changeRun.changes);
        break;

      case "iptables":
        for (const table of tablesInOrder(changeRun.changes)) {
          const tableChanges = changeRun.changes.filter((change) => change.table === table);
          await applyIptables(table, tableChanges);
        }
        break;
    }
  }
}

/** Throws a RangeError for a change that must not reach a command. */
function checkLinuxChange(change: LinuxChange): void {
  if (change.kind === "sysctl") {
    sysctlPath(change.key);
  } else if ("table" in change) {
    checkIptablesChange(change);
  } else {
    checkIpChange(change);
  }
}

function groupRuns(changes: readonly LinuxChange[]): ChangeRun[] {
  const runs: ChangeRun[] = [];
  for (const change of changes) {
    const last = runs.at(-1);
    if (change.kind === "sysctl") {
      if (last?.tool === "sysctl") {
        last.changes.push(change);
      } else {
        runs.push({ tool: "sysctl", changes: [change] });
      }
    } else if ("table" in change) {
      if (last?.tool === "iptables") {
        last.changes.push(change);
      } else {
        runs.push({ tool: "iptables", changes: [change] });
      }
    } else if (last?.tool === "ip") {
      last.changes.push(change);
    } else {
      runs.push({ tool: "ip", changes: [change] });
    }
  }
  return runs;
}

function tablesInOrder(changes: readonly IptablesChange[]): IptablesTable[] {
  return [...new Set(changes.map((change) => change.table))];
}
