import { addHosts } from "../lab/add.js";
import { ETCD_MEMBER_COUNTS, LAB_STORE_KINDS, type EtcdMemberCount } from "../lab/cluster-store.js";
import type { StoreChoice } from "../lab/members.js";
import { DEFAULT_LAB_NAME, checkLabName } from "../lab/names.js";
import { removeHost } from "../lab/remove.js";
import { MAX_CONTAINERS, MAX_HOSTS } from "../lab/topology.js";
import { choiceOption, integerOption, parseOptions } from "./args.js";
import { UsageError } from "./command.js";
import { PROGRESS_OPTIONS, progressPrinter } from "./progress.js";

/** Options of `lab up` that give the hosts agents and a store. */
export const STORE_OPTIONS = {
  store: { type: "string" },
  "etcd-members": { type: "string" },
} as const;

/** Help text of {@link STORE_OPTIONS}, as lines of `lab up`. */
export const STORE_USAGE = `          --store        file or etcd: run 'ovs-mesh agent' on every host, which claims the
                         host's subnet in a cluster file or in etcd, instead of 'ovs-mesh apply'
          --etcd-members number of etcd members with --store etcd, 1 or 3 (default 1); they
                         run in namespace om-NAME-etcd at 198.18.0.2 to .4`;

/** Help text of the `lab add` and `lab remove` subcommands. */
export const MEMBERS_USAGE = `  add     [--count N] [--containers K]
          Adds N hosts (default 1) with K containers each (default: as many as the first host has)
          to a lab built with --store, starts their agents and waits until every agent
          has converged.
  remove  HOST
          Stops the host's agent, runs 'ovs-mesh leave' on it, removes the host and waits
          until every remaining agent has dropped it.`;

/** Reads --store and --etcd-members; undefined when the lab configures hosts with apply. */
export function storeChoice(values: {
  store?: string;
  "etcd-members"?: string;
  "no-apply"?: boolean;
  docker?: boolean;
}): StoreChoice | undefined {
  if (values.store === undefined) {
    if (values["etcd-members"] !== undefined) {
      throw new UsageError("--etcd-members needs --store etcd");
    }
    return undefined;
  }
  const kind = choiceOption(values.store, "store", LAB_STORE_KINDS, "etcd");
  if (values["etcd-members"] !== undefined && kind !== "etcd") {
    throw new UsageError("--etcd-members needs --store etcd");
  }
  if (values["no-apply"] === true) {
    throw new UsageError("--no-apply and --store exclude each other: agents configure the hosts");
  }
  const members = values["etcd-members"] ?? "1";
  const counts = ETCD_MEMBER_COUNTS.map(String);
  if (!counts.includes(members)) {
    throw new UsageError(
      `invalid --etcd-members ${JSON.stringify(members)}: expected ${counts.join(" or ")}`,
    );
  }
  return { kind, etcdMembers: Number(members) as EtcdMemberCount };
}

function labName(value: string | undefined): string {
  const name = value ?? DEFAULT_LAB_NAME;
  const problem = checkLabName(name);
  if (problem) {
    throw new UsageError(problem);
  }
  return name;
}

/** `lab add`: adds hosts to a lab whose hosts run agents. */
export async function addSubcommand(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    name: { type: "string" },
    count: { type: "string" },
    containers: { type: "string" },
    ...PROGRESS_OPTIONS,
  });
  const name = labName(values.name);
  const count = integerOption(values.count, "count", 1, 1, MAX_HOSTS);
  const containers =
    values.containers === undefined
      ? undefined
      : integerOption(values.containers, "containers", 0, 0, MAX_CONTAINERS);
  const hosts = await addHosts(name, { count, containers, onProgress: progressPrinter(values) });
  const added = hosts.map((host) => `${host.name} (${host.underlayIp}, ${host.subnet})`);
  process.stdout.write(`lab ${name}: added ${added.join(", ")}\n`);
  return 0;
}

/** `lab remove HOST`: removes a host from a lab whose hosts run agents. */
export async function removeSubcommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(
    args,
    { name: { type: "string" }, ...PROGRESS_OPTIONS },
    true,
  );
  const [host, ...extra] = positionals;
  if (host === undefined || extra.length > 0) {
    throw new UsageError("expected exactly one host to remove, such as host2");
  }
  const name = labName(values.name);
  await removeHost(name, host, { onProgress: progressPrinter(values) });
  process.stdout.write(`lab ${name}: removed ${host}\n`);
  return 0;
}
