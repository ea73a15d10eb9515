import { TUNNEL_MODES, TUNNEL_TYPES } from "../plan/cluster.js";
import { DEFAULT_PARALLEL, checkLab, containerPairs } from "../lab/check.js";
import { loadCurrentLab } from "../lab/docker-hosts.js";
import { destroyLab } from "../lab/down.js";
import { LabError } from "../lab/errors.js";
import { formatCheck, formatDown, formatStatus } from "../lab/format.js";
import { DEFAULT_LAB_NAME, checkLabName } from "../lab/names.js";
import { loadLab } from "../lab/state.js";
import { labStatus } from "../lab/status.js";
import { findTarget, parseTargetName, runInTarget } from "../lab/targets.js";
import { DEFAULT_LAB_OPTIONS, MAX_CONTAINERS, MAX_HOSTS } from "../lab/topology.js";
import { createLab } from "../lab/up.js";
import { choiceOption, integerOption, parseOptions } from "./args.js";
import { UsageError, type Command } from "./command.js";
import { PROGRESS_OPTIONS, PROGRESS_USAGE, progressPrinter } from "./progress.js";
import { FAULTS_USAGE, linkSubcommand, restartSubcommand } from "./lab-faults.js";
import {
  MEMBERS_USAGE,
  STORE_OPTIONS,
  STORE_USAGE,
  addSubcommand,
  removeSubcommand,
  storeChoice,
} from "./lab-members.js";

const USAGE = `Usage: ovs-mesh lab SUBCOMMAND [OPTIONS]

Builds a cluster of hosts on this machine from network namespaces, each host with its own
ovsdb-server and ovs-vswitchd, and configures them with 'ovs-mesh apply'. Needs root.
State lives in /var/lib/ovs-mesh/lab/NAME/; namespaces are named om-NAME-*.

Subcommands:
  up      [--hosts N] [--containers K] [--tunnel gre|vxlan|geneve] [--mode flow|port]
          [--no-apply] [--retain] [--docker] [--store file|etcd [--etcd-members 1|3]]
          Builds the lab: hosts host0..host(N-1) with containers c0..c(K-1) each.
          --hosts        number of hosts, 1 to ${MAX_HOSTS} (default ${DEFAULT_LAB_OPTIONS.hosts})
          --containers   containers per host, 0 to ${MAX_CONTAINERS} (default ${DEFAULT_LAB_OPTIONS.containers})
          --tunnel       tunnel type (default ${DEFAULT_LAB_OPTIONS.tunnel})
          --mode         flow: one tunnel port per host; port: one per peer (default ${DEFAULT_LAB_OPTIONS.mode})
          --no-apply     skip 'ovs-mesh apply'; hosts get docker0 as Docker would, no tunnels
          --retain       keep what was built when a step fails, for inspection
          --docker       run dockerd on every host, configured with 'ovs-mesh docker-config'
                         before it starts, and make the containers Docker containers
${STORE_USAGE}
  status  [--json]
          Shows hosts, containers, addresses, OVS sockets and whether the daemons run.
          Exit code 1 when a namespace is missing or a daemon is not running.
  exec    [--timeout SECONDS] HOST[/CONTAINER] -- COMMAND [ARG...]
          Runs a command in a host's namespace, with OVS_RUNDIR set so that ovs-vsctl,
          ovs-ofctl and ovs-appctl reach that host's daemons, or in a container: with
          'docker exec' for a Docker container, else in the container's network namespace.
          Passes the command's exit code through. --timeout defaults to 600 seconds.
  check   [--json] [--parallel N]
          Between every ordered pair of containers on different hosts: ping, a 10 MiB TCP
          transfer, and don't-fragment pings of the inner MTU (must pass) and one byte more
          (must fail). Checks N pairs at once (default ${DEFAULT_PARALLEL}). Exit code 0 only when all pass.
${MEMBERS_USAGE}
${FAULTS_USAGE}
  down    Stops the lab's processes, deletes its namespaces and state. Succeeds when the
          lab does not exist.

Options of every subcommand:
  --name NAME   lab name, 1 to 20 lower-case letters, digits and "-" (default "${DEFAULT_LAB_NAME}")

Options of up, down, add and remove, which print each step with the time since the start:
${PROGRESS_USAGE}`;

const NAME_OPTION = { name: { type: "string" } } as const;

function labName(value: string | undefined): string {
  const name = value ?? DEFAULT_LAB_NAME;
  const problem = checkLabName(name);
  if (problem) {
    throw new UsageError(problem);
  }
  return name;
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

async function up(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    ...NAME_OPTION,
    hosts: { type: "string" },
    containers: { type: "string" },
    tunnel: { type: "string" },
    mode: { type: "string" },
    "no-apply": { type: "boolean" },
    retain: { type: "boolean" },
    docker: { type: "boolean" },
    ...STORE_OPTIONS,
    ...PROGRESS_OPTIONS,
  });
  const defaults = DEFAULT_LAB_OPTIONS;
  const options = {
    name: labName(values.name),
    hosts: integerOption(values.hosts, "hosts", defaults.hosts, 1, MAX_HOSTS),
    containers: integerOption(
      values.containers,
      "containers",
      defaults.containers,
      0,
      MAX_CONTAINERS,
    ),
    tunnel: choiceOption(values.tunnel, "tunnel", TUNNEL_TYPES, defaults.tunnel),
    mode: choiceOption(values.mode, "mode", TUNNEL_MODES, defaults.mode),
  };
  // An interrupted build leaves namespaces and daemons behind; say how to remove them.
  const onInterrupt = () => {
    process.stderr.write(
      `\nlab up interrupted: lab ${options.name} is half built; remove it with 'ovs-mesh lab down --name ${options.name}'\n`,
    );
    process.exit(130);
  };
  process.once("SIGINT", onInterrupt);
  let lab;
  try {
    lab = await createLab(options, {
      configure: values["no-apply"] !== true,
      retain: values.retain === true,
      docker: values.docker === true,
      store: storeChoice(values),
      onProgress: progressPrinter(values),
    });
  } finally {
    process.off("SIGINT", onInterrupt);
  }
  process.stdout.write(
    `lab ${lab.name} is ready: ${lab.hosts.length} ${lab.hosts.length === 1 ? "host" : "hosts"}, ${lab.tunnel} tunnels in ${lab.mode} mode. ` +
      `Next: 'ovs-mesh lab status --name ${lab.name}', 'ovs-mesh lab check --name ${lab.name}'\n`,
  );
  return 0;
}

async function down(args: string[]): Promise<number> {
  const { values } = parseOptions(args, { ...NAME_OPTION, ...PROGRESS_OPTIONS });
  const report = await destroyLab(labName(values.name), { onProgress: progressPrinter(values) });
  process.stdout.write(`${formatDown(report)}\n`);
  return 0;
}

async function status(args: string[]): Promise<number> {
  const { values } = parseOptions(args, { ...NAME_OPTION, json: { type: "boolean" } });
  const result = await labStatus(labName(values.name));
  if (values.json === true) {
    printJson(result);
  } else {
    process.stdout.write(`${formatStatus(result)}\n`);
  }
  return result.healthy ? 0 : 1;
}

async function exec(args: string[]): Promise<number> {
  const separator = args.indexOf("--");
  if (separator < 0) {
    throw new UsageError(
      "missing -- before the command: ovs-mesh lab exec HOST[/CONTAINER] -- COMMAND",
    );
  }
  const command = args.slice(separator + 1);
  const { values, positionals } = parseOptions(
    args.slice(0, separator),
    { ...NAME_OPTION, timeout: { type: "string" } },
    true,
  );
  if (command.length === 0) {
    throw new UsageError("missing command after --");
  }
  const [targetText, ...extra] = positionals;
  if (targetText === undefined || extra.length > 0) {
    throw new UsageError("expected exactly one target, HOST or HOST/CONTAINER, before --");
  }
  const timeoutSeconds = integerOption(values.timeout, "timeout", 600, 1, 86_400);

  const targetName = parseTargetName(targetText);
  if (typeof targetName === "string") {
    throw new UsageError(targetName);
  }
  const lab = await loadLab(labName(values.name));
  const target = findTarget(lab, targetName);
  if (typeof target === "string") {
    throw new UsageError(target);
  }
  const result = await runInTarget(target, command, timeoutSeconds * 1000, "inherit");
  return result.code;
}

async function check(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    ...NAME_OPTION,
    json: { type: "boolean" },
    parallel: { type: "string" },
  });
  const parallel = integerOption(values.parallel, "parallel", DEFAULT_PARALLEL, 1, 64);
  const lab = await loadCurrentLab(labName(values.name));
  let done = 0;
  const total = containerPairs(lab).length;
  const onPair = process.stderr.isTTY
    ? () => {
        done += 1;
        process.stderr.write(`\rchecked ${done} of ${total} pairs`);
      }
    : undefined;
  const report = await checkLab(lab, { parallel, onPair });
  if (onPair !== undefined) {
    process.stderr.write("\n");
  }
  if (values.json === true) {
    printJson(report);
  } else {
    process.stdout.write(`${formatCheck(report)}\n`);
  }
  return report.ok ? 0 : 1;
}

const SUBCOMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  up,
  down,
  status,
  exec,
  check,
  add: addSubcommand,
  remove: removeSubcommand,
  restart: restartSubcommand,
  link: linkSubcommand,
};

/** `ovs-mesh lab`: builds, shows, uses, checks and removes local multi-host labs. */
export const labCommand: Command = {
  name: "lab",
  summary: "build a multi-host lab on this machine from network namespaces",
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const [name, ...rest] = args;
    const subcommand = name === undefined ? undefined : SUBCOMMANDS[name];
    if (subcommand === undefined) {
      throw new UsageError(
        name === undefined
          ? "missing subcommand"
          : `unknown subcommand ${JSON.stringify(name)}: use up, status, exec, check, add, remove, restart, link or down`,
      );
    }
    try {
      return await subcommand(rest);
    } catch (error) {
      if (error instanceof LabError) {
        process.stderr.write(`ovs-mesh lab ${name}: ${error.message}\n`);
        return 1;
      }
      throw error;
    }
  },
};
