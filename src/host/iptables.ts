import type { LinuxChange, RuleSpec } from "../plan/state.js";
import { CommandError, run } from "./exec.js";

/** The iptables tables that ovs-mesh writes to. */
export type IptablesTable = "filter" | "nat";

/** A change that iptables-restore applies. */
export type IptablesChange = Extract<LinuxChange, { table: IptablesTable }>;

const TABLES: readonly string[] = ["filter", "nat"];

/**
 * Chain names: at most 28 characters (XT_EXTENSION_MAXNAMELEN - 1), limited to a set that
 * needs no quoting and cannot be read as an option.
 */
const CHAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,27}$/;

/** Seconds that iptables waits for the xtables lock, which the legacy backend takes. */
export const LOCK_WAIT_SECONDS = "10";

/** Returns a problem when `name` cannot be an iptables chain name. */
export function checkChainName(name: string): string | undefined {
  if (!CHAIN_NAME.test(name)) {
    return `invalid chain name ${JSON.stringify(name)}: use 1 to 28 letters, digits, "_", "." or "-", not starting with "." or "-"`;
  }
  return undefined;
}

/** Throws a RangeError when `name` cannot be an iptables chain name. */
export function assertChainName(name: string): void {
  const problem = checkChainName(name);
  if (problem !== undefined) {
    throw new RangeError(problem);
  }
}

/** Throws a RangeError for a table other than filter and nat. */
export function assertTable(table: string): asserts table is IptablesTable {
  if (!TABLES.includes(table)) {
    throw new RangeError(`invalid iptables table ${JSON.stringify(table)}: use filter or nat`);
  }
}

/**
 * Splits one line of `iptables -S` output or iptables-restore input into arguments, by the
 * rules that iptables-restore itself uses. Whitespace separates arguments and a double quote
 * opens a quoted part. Inside it, a backslash makes the next character literal, and the
 * closing quote ends the argument.
 */
export function splitRuleLine(line: string): string[] {
  const args: string[] = [];
  let current = "";
  let inArgument = false;
  let quoted = false;
  let escaped = false;

  for (const char of line) {
    if (quoted) {
      if (escaped) {
        current += char;
        escaped = false;
      } else if (char === "\\") {
        escaped = true;
      } else if (char === '"') {
        quoted = false;
        args.push(current);
        current = "";
        inArgument = false;
      } else {
        current += char;
      }
    } else if (char === '"') {
      quoted = true;
      inArgument = true;
    } else if (char === " " || char === "\t" || char === "\n") {
      if (inArgument) {
        args.push(current);
        current = "";
        inArgument = false;
      }
    } else {
      current += char;
      inArgument = true;
    }
  }

  if (quoted) {
    throw new SyntaxError(`unterminated quote in iptables rule: ${line}`);
  }
  if (inArgument) {
    args.push(current);
  }
  return args;
}

/**
 * Extracts the rules of `chain` from `iptables -S CHAIN` output: the arguments after
 * "-A CHAIN" on each line. Chain declarations, policies and comments are skipped.
 */
export function parseChainListing(output: string, chain: string): RuleSpec[] {
  const rules: RuleSpec[] = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith("-A ")) {
      continue;
    }
    const args = splitRuleLine(line);
    if (args[1] !== chain) {
      throw new SyntaxError(`unexpected rule of another chain in iptables -S ${chain}: ${line}`);
    }
    rules.push(args.slice(2));
  }
  return rules;
}

/**
 * Returns true when `iptables -S CHAIN` failed because the chain does not exist. The legacy
 * backend prints "No chain/target/match by that name". The nft backend since iptables 1.8.7
 * reports a missing chain as incompatible, as 1.8.9 on Debian 12 does.
 */
export function isMissingChainError(stderr: string, table: string, chain: string): boolean {
  // NOTE: the nft backend prints the same message for a chain that exists but contains rules
  // written with nft, which iptables cannot list, so such a chain reads as missing.
  return (
    stderr.includes("No chain/target/match by that name") ||
    stderr.includes(`chain \`${chain}' in table \`${table}' is incompatible`)
  );
}

/**
 * Reads the rules of one chain in the current network namespace with `iptables -S`.
 * Returns undefined when the chain does not exist.
 */
export async function readChain(
  table: IptablesTable,
  chain: string,
): Promise<RuleSpec[] | undefined> {
  assertTable(table);
  assertChainName(chain);

  const argv = ["iptables", "-w", LOCK_WAIT_SECONDS, "-t", table, "-S", chain];
  const result = await run(argv, { okCodes: [0, 1] });
  if (result.code === 0) {
    return parseChainListing(result.stdout, chain);
  }
  if (isMissingChainError(result.stderr, table, chain)) {
    return undefined;
  }
  throw new CommandError(argv, result.code, result.stderr, `exited with code ${result.code}`);
}

/** Returns true when a rule is exactly a jump to `chain`, as add-jump writes it. */
export function isPlainJump(rule: RuleSpec, chain: string): boolean {
  return rule.length === 2 && rule[0] === "-j" && rule[1] === chain;
}

/** Returns true when a rule jumps or goes to `chain`, with or without matches. */
export function referencesChain(rule: RuleSpec, chain: string): boolean {
  return rule.some(
    (argument, index) => (argument === "-j" || argument === "-g") && rule[index + 1] === chain,
  );
}
