import { CommandError } from "../host/exec.js";
import { ConfigError } from "../plan/cluster.js";
import { PlanError } from "../plan/host.js";
import { UsageError, type Command } from "./command.js";
import { commands } from "./commands.js";

/**
 * Exit codes: 0 success; 1 a failure while doing the work (an external command, the store,
 * a check that found problems); 2 a wrong command line, invalid configuration, or a cluster
 * that cannot be planned for this host, in which case nothing on the host was changed.
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function overview(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  const lines = commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return [
    "Usage: ovs-mesh COMMAND [OPTIONS]",
    "",
    "Joins the container subnets of many hosts into one network over Open vSwitch tunnels.",
    "",
    "Commands:",
    ...lines,
    "",
    "Run 'ovs-mesh COMMAND --help' for the options of a command.",
  ].join("\n");
}

/**
 * Errors whose message says what failed and what to do; anything else is unexpected and is
 * printed with its stack.
 */
const EXPECTED_ERRORS = new Set([
  "OvsdbError",
  "OvsdbConnectionError",
  "OvsChangeError",
  "OvsApplyTimeoutError",
  "EtcdError",
  "EtcdUnavailableError",
  "ClusterNotFoundError",
  "HostNotFoundError",
  "JoinConflictError",
  "SubnetError",
  "LabError",
  "NoStatusError",
  "StatusFileError",
  "DirectoryError",
  "HostRecordError",
]);

/** Runs the command line and returns the process exit code; the only place that catches. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${overview()}\n`);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command: Command | undefined = commands.find((candidate) => candidate.name === name);
  if (command === undefined) {
    process.stderr.write(`ovs-mesh: unknown command ${JSON.stringify(name)}\n\n${overview()}\n`);
    return EXIT_USAGE;
  }
  // Arguments after "--" belong to another program (lab exec HOST -- CMD --help).
  const separator = rest.indexOf("--");
  const own = separator < 0 ? rest : rest.slice(0, separator);
  if (own.includes("--help") || own.includes("-h")) {
    process.stdout.write(`${command.usage}\n`);
    return EXIT_OK;
  }

  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(
        `ovs-mesh ${command.name}: ${error.message}\n` +
          `Run 'ovs-mesh ${command.name} --help' for its options.\n`,
      );
      return EXIT_USAGE;
    }
    if (error instanceof PlanError) {
      // Nothing was changed: the cluster does not fit this host (not a member, MTU, datapath).
      process.stderr.write(`ovs-mesh ${command.name}: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`ovs-mesh ${command.name}: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof CommandError) {
      process.stderr.write(`ovs-mesh ${command.name}: command failed: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    if (error instanceof Error && EXPECTED_ERRORS.has(error.name)) {
      process.stderr.write(`ovs-mesh ${command.name}: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`ovs-mesh ${command.name}: ${message}\n`);
    return EXIT_FAILURE;
  }
}
