import type { HostStatus } from "../store/etcd-snapshot.js";
import type { EtcdStore } from "../store/etcd.js";
import { HostNotFoundError } from "../store/errors.js";
import { parseOptions } from "./args.js";
import { UsageError, type Command } from "./command.js";
import { ETCD_OPTIONS, ETCD_USAGE, openEtcdStore } from "./etcd-options.js";

const OPTIONS = { ...ETCD_OPTIONS, json: { type: "boolean" } } as const;

const USAGE = `Usage: ovs-mesh hosts list --etcd URL --cluster NAME [--json]
       ovs-mesh hosts remove NAME --etcd URL --cluster NAME

list    prints each host with its underlay IP, subnet and liveness. A host is "alive" while
        its agent sends heartbeats, "down" when they stopped, and "expired" when its subnet
        reservation ran out, so a joining host may take its subnet.
remove  deletes a host and frees its subnet, also when its record is invalid. The host's
        peers remove their tunnels to it.

Options:
${ETCD_USAGE}
  --json               print the hosts, settings and problems as JSON`;

async function runHosts(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, OPTIONS, true);
  const [action, ...rest] = positionals;
  if (action === "list" && rest.length === 0) {
    const store = openEtcdStore(values);
    try {
      await listHosts(store, values.json === true);
    } finally {
      await store.close();
    }
    return 0;
  }
  if (action === "remove" && rest.length === 1 && rest[0] !== undefined) {
    const store = openEtcdStore(values);
    try {
      await removeHost(store, rest[0]);
    } finally {
      await store.close();
    }
    return 0;
  }
  if (action === "list" || action === "remove") {
    throw new UsageError(`wrong arguments for 'hosts ${action}': ${JSON.stringify(rest)}`);
  }
  throw new UsageError(
    action === undefined
      ? "missing action: list or remove"
      : `unknown action ${JSON.stringify(action)}: use list or remove`,
  );
}

async function listHosts(store: EtcdStore, json: boolean): Promise<void> {
  const view = await store.load();
  if (json) {
    const output = {
      cluster: store.keys.cluster,
      settings: view.settings,
      hosts: view.hosts,
      problems: view.problems,
    };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    return;
  }

  const now = Date.now();
  const rows = [
    ["NAME", "UNDERLAY IP", "SUBNET", "STATUS", "LAST SEEN"],
    ...view.hosts.map((host) => [
      host.name,
      host.underlayIp,
      host.subnet,
      status(host),
      lastSeen(host, now),
    ]),
  ];
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  const lines = rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  for (const problem of view.problems) {
    process.stderr.write(`warning: skipped ${problem.key}: ${problem.message}\n`);
  }
}

async function removeHost(store: EtcdStore, name: string): Promise<void> {
  try {
    await store.leave(name);
  } catch (error) {
    if (error instanceof HostNotFoundError) {
      throw new UsageError(error.message);
    }
    throw error;
  }
  process.stdout.write(
    `removed host ${name} from cluster ${store.keys.cluster} and freed its subnet\n`,
  );
}

function status(host: HostStatus): string {
  if (host.alive) {
    return "alive";
  }
  return host.reservationExpired ? "expired" : "down";
}

function lastSeen(host: HostStatus, now: number): string {
  if (host.lastSeen === undefined) {
    return "never";
  }
  const seconds = Math.max(0, Math.round((now - host.lastSeen) / 1000));
  return `${new Date(host.lastSeen).toISOString()} (${seconds} s ago)`;
}

/** `ovs-mesh hosts`: lists the hosts of an etcd cluster or removes one. */
export const hostsCommand: Command = {
  name: "hosts",
  summary: "list the hosts of an etcd cluster, or remove one",
  usage: USAGE,
  run: runHosts,
};
