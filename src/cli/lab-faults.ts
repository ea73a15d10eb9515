import { LINK_STATES, setHostLink } from "../lab/link.js";
import { DEFAULT_LAB_NAME, checkLabHostName, checkLabName } from "../lab/names.js";
import { restartHost } from "../lab/restart.js";
import { parseOptions } from "./args.js";
import { UsageError } from "./command.js";

/** Help text of the `lab restart` and `lab link` subcommands. */
export const FAULTS_USAGE = `  restart HOST
          Restarts a host as a reboot would: stops its agent, OVS daemons and containers,
          deletes its namespaces and sockets, keeps its OVS database and ovs-mesh's state,
          then starts it again (agent, or 'ovs-mesh apply') and re-creates its containers.
  link    HOST down|up
          Takes the host's underlay link down or up, as pulling or plugging its cable would.`;

function labName(value: string | undefined): string {
  const name = value ?? DEFAULT_LAB_NAME;
  const problem = checkLabName(name);
  if (problem) {
    throw new UsageError(problem);
  }
  return name;
}

function hostArgument(value: string | undefined): string {
  if (value === undefined) {
    throw new UsageError("missing HOST");
  }
  const problem = checkLabHostName(value);
  if (problem) {
    throw new UsageError(problem);
  }
  return value;
}

/** `lab restart HOST`. */
export async function restartSubcommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { name: { type: "string" } }, true);
  const [host, ...extra] = positionals;
  if (extra.length > 0) {
    throw new UsageError(`expected one HOST, found ${JSON.stringify(positionals)}`);
  }
  const report = await restartHost(labName(values.name), hostArgument(host), {
    onProgress: (message) => process.stderr.write(`${message}\n`),
  });
  const subnet =
    report.subnetAfter === report.subnetBefore
      ? `subnet ${report.subnetAfter}`
      : `subnet ${report.subnetAfter} (was ${report.subnetBefore})`;
  process.stdout.write(`${report.host} restarted in ${report.seconds.toFixed(1)} s, ${subnet}\n`);
  return 0;
}

/** `lab link HOST down|up`. */
export async function linkSubcommand(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { name: { type: "string" } }, true);
  const [host, state, ...extra] = positionals;
  if (state === undefined || extra.length > 0) {
    throw new UsageError(`expected HOST and down or up, found ${JSON.stringify(positionals)}`);
  }
  const linkState = LINK_STATES.find((candidate) => candidate === state);
  if (linkState === undefined) {
    throw new UsageError(`invalid link state ${JSON.stringify(state)}: expected down or up`);
  }
  const hostName = hostArgument(host);
  await setHostLink(labName(values.name), hostName, linkState);
  process.stdout.write(`${hostName}: underlay link ${linkState}\n`);
  return 0;
}
