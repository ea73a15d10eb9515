import type { RuleSpec } from "../plan/state.js";
import { run } from "./exec.js";
import {
  LOCK_WAIT_SECONDS,
  assertChainName,
  assertTable,
  isPlainJump,
  readChain,
  referencesChain,
  type IptablesChange,
  type IptablesTable,
} from "./iptables.js";

/**
 * Built-in chains per table. ovs-mesh may jump from them, but it never replaces or deletes
 * them, because flushing one would drop the rules that other software put there.
 */
const BUILTIN_CHAINS: Readonly<Record<IptablesTable, readonly string[]>> = {
  filter: ["INPUT", "FORWARD", "OUTPUT"],
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
};

/** Characters that iptables-restore reads literally outside quotes, and that need no quoting. */
const PLAIN_ARGUMENT = /^[A-Za-z0-9_.:/,=+!@%-]+$/;

/**
 * Formats one argument for iptables-restore input, quoting it when it is empty or contains
 * anything besides plain characters. Throws for line breaks and NUL, which no quoting carries.
 */
export function formatRuleArgument(argument: string): string {
  if (/[\n\r\0]/.test(argument)) {
    throw new RangeError(
      `invalid iptables argument ${JSON.stringify(argument)}: line breaks and NUL cannot be passed to iptables-restore`,
    );
  }
  if (PLAIN_ARGUMENT.test(argument)) {
    return argument;
  }
  return `"${argument.replace(/["\\]/g, "\\$&")}"`;
}

/** Throws a RangeError for a change with an unknown table, an invalid chain or rule. */
export function checkIptablesChange(change: IptablesChange): void {
  assertTable(change.table);
  assertChainName(change.chain);

  if (change.kind === "add-jump" || change.kind === "move-jump" || change.kind === "remove-jump") {
    assertChainName(change.from);
  }
  if (change.kind === "set-chain" || change.kind === "remove-chain") {
    if (BUILTIN_CHAINS[change.table].includes(change.chain)) {
      throw new RangeError(
        `${change.kind}: ${change.chain} is a built-in chain of table ${change.table}, and ovs-mesh only replaces or removes its own chains`,
      );
    }
  }
  if (change.kind === "set-chain") {
    for (const rule of change.rules) {
      rule.forEach(formatRuleArgument);
    }
  }
}

/**
 * Builds iptables-restore input for one table, to be run with --noflush. `jumpSources`
 * contains the current rules of every chain that a jump change names, and the function
 * updates it as the changes would. So add-jump skips a jump that is already present,
 * move-jump skips a jump that is already the first rule, and remove-jump deletes each rule
 * that jumps to the chain. Returns undefined when nothing changes.
 */
export function buildRestoreText(
  table: IptablesTable,
  changes: readonly IptablesChange[],
  jumpSources: Map<string, RuleSpec[]>,
): string | undefined {
  const lines: string[] = [];
  for (const change of changes) {
    if (change.table !== table) {
      throw new RangeError(`${change.kind} for table ${change.table} in the input for ${table}`);
    }
    checkIptablesChange(change);
    lines.push(...restoreLines(change, jumpSources));
  }

  if (lines.length === 0) {
    return undefined;
  }
  return [`*${table}`, ...lines, "COMMIT", ""].join("\n");
}

function restoreLines(change: IptablesChange, jumpSources: Map<string, RuleSpec[]>): string[] {
  switch (change.kind) {
    case "set-chain":
      // Under --noflush, a chain line creates the chain, or flushes it if it exists.
      return [
        `:${change.chain} - [0:0]`,
        ...change.rules.map((rule) => formatRule("-A", change.chain, rule)),
      ];

    case "remove-chain":
      // The chain line empties the chain first and makes -X succeed when it does not exist.
      return [`:${change.chain} - [0:0]`, `-X ${change.chain}`];

    case "add-jump": {
      const rules = jumpSource(jumpSources, change.from);
      if (rules.some((rule) => isPlainJump(rule, change.chain))) {
        return [];
      }
      const jump: RuleSpec = ["-j", change.chain];
      rules.unshift(jump);
      return [formatRule("-I", change.from, ["1", ...jump])];
    }

    case "move-jump": {
      const rules = jumpSource(jumpSources, change.from);
      const first = rules[0];
      if (first !== undefined && isPlainJump(first, change.chain)) {
        return [];
      }
      // Each -D deletes the first rule that matches, so one line per jump deletes them all;
      // iptables-restore commits the deletions and the insertion together.
      const jump: RuleSpec = ["-j", change.chain];
      const deletions = rules
        .filter((rule) => isPlainJump(rule, change.chain))
        .map(() => formatRule("-D", change.from, jump));
      jumpSources.set(change.from, [
        jump,
        ...rules.filter((rule) => !isPlainJump(rule, change.chain)),
      ]);
      return [...deletions, formatRule("-I", change.from, ["1", ...jump])];
    }

    case "remove-jump": {
      const rules = jumpSource(jumpSources, change.from);
      const removed = rules.filter((rule) => referencesChain(rule, change.chain));
      const remaining = rules.filter((rule) => !referencesChain(rule, change.chain));
      jumpSources.set(change.from, remaining);
      return removed.map((rule) => formatRule("-D", change.from, rule));
    }
  }
}

function jumpSource(jumpSources: Map<string, RuleSpec[]>, chain: string): RuleSpec[] {
  const rules = jumpSources.get(chain);
  if (rules === undefined) {
    throw new RangeError(`missing the current rules of chain ${chain}`);
  }
  return rules;
}

function formatRule(command: string, chain: string, rule: RuleSpec): string {
  return [command, chain, ...rule.map(formatRuleArgument)].join(" ");
}

/**
 * Applies changes to one table of the current network namespace in one iptables-restore
 * call, so the table changes atomically. Reads the chains that jumps come from first, which
 * makes add-jump and remove-jump safe to repeat.
 */
export async function applyIptables(
  table: IptablesTable,
  changes: readonly IptablesChange[],
): Promise<void> {
  changes.forEach(checkIptablesChange);

  const jumpSources = new Map<string, RuleSpec[]>();
  for (const change of changes) {
    if (
      change.kind === "add-jump" ||
      change.kind === "move-jump" ||
      change.kind === "remove-jump"
    ) {
      if (!jumpSources.has(change.from)) {
        jumpSources.set(change.from, (await readChain(table, change.from)) ?? []);
      }
    }
  }

  const text = buildRestoreText(table, changes, jumpSources);
  if (text === undefined) {
    return;
  }
  await run(["iptables-restore", "-w", LOCK_WAIT_SECONDS, "--noflush"], { input: text });
}
