import { converge } from "../agent/converge.js";
import { describeSteps } from "../plan/diff.js";
import { readClusterFile } from "../store/cluster-file.js";
import { parseOptions, required } from "./args.js";
import type { Command } from "./command.js";
import { HOST_OPTIONS, HOST_OPTIONS_USAGE, checkOvsRunDir, hostPaths } from "./host-options.js";

const OPTIONS = {
  config: { type: "string" },
  host: { type: "string" },
  ...HOST_OPTIONS,
} as const;

function usage(name: string, what: string): string {
  return `Usage: ovs-mesh ${name} --config FILE --host NAME [OPTIONS]

${what}

Options:
  --config FILE       cluster file (YAML)
  --host NAME         this host's name in the cluster file
${HOST_OPTIONS_USAGE}`;
}

async function runConverge(args: string[], dryRun: boolean): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const config = required(values.config, "config");
  const host = required(values.host, "host");
  const paths = hostPaths(values);
  await checkOvsRunDir(paths);
  const cluster = await readClusterFile(config);
  const result = await converge(cluster, host, paths, { dryRun });

  const lines = describeSteps(result.steps);
  if (lines.length === 0) {
    process.stdout.write(`${host}: up to date, nothing to change\n`);
    return 0;
  }
  const verb = dryRun ? "would change" : "changed";
  process.stdout.write(`${host}: ${verb} ${lines.length}:\n`);
  for (const line of lines) {
    process.stdout.write(`  ${line}\n`);
  }
  return 0;
}

export const planCommand: Command = {
  name: "plan",
  summary: "print what apply would change on this host, changing nothing",
  usage: usage("plan", "Prints the changes that would bring this host to the cluster's state."),
  run: (args) => runConverge(args, true),
};

export const applyCommand: Command = {
  name: "apply",
  summary: "configure this host for the cluster (OVS bridge, tunnels, rules, routes)",
  usage: usage(
    "apply",
    "Brings this host to the cluster's state; running it again changes nothing.",
  ),
  run: (args) => runConverge(args, false),
};
