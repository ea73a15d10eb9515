import {
  DEFAULT_DAEMON_JSON,
  DEFAULT_ENV_FILE,
  MAX_MTU,
  checkDockerNetwork,
  writeDockerConfig,
  type DockerConfigResult,
} from "../host/docker-config.js";
import { MIN_INNER_MTU } from "../plan/mtu.js";
import { integerOption, parseOptions, required } from "./args.js";
import { UsageError, type Command } from "./command.js";

const OPTIONS = {
  subnet: { type: "string" },
  mtu: { type: "string" },
  range: { type: "string" },
  "daemon-json": { type: "string" },
  // Not "--env-file": Node 20.20 takes an "--env-file" argument as its own option even
  // after the script name, and exits with code 9 before ovs-mesh runs.
  "subnet-file": { type: "string" },
} as const;

const USAGE = `Usage: ovs-mesh docker-config --subnet CIDR --mtu N --range CIDR [OPTIONS]

Sets Docker's bridge address (bip, the subnet's first address) and MTU in daemon.json,
keeping every other key, and writes an environment file that describes this host's subnet.
Files are replaced atomically and only when their content changes. Docker applies the new
bip and mtu when it restarts.

Options:
  --subnet CIDR        this host's subnet, such as 10.240.1.0/24
  --mtu N              MTU inside the tunnels, in bytes (${MIN_INNER_MTU} to ${MAX_MTU})
  --range CIDR         cluster range that contains the subnet, such as 10.240.0.0/16
  --daemon-json PATH   Docker's configuration file (default ${DEFAULT_DAEMON_JSON}); its
                       previous content is kept in PATH.ovs-mesh.bak
  --subnet-file PATH   environment file with OVS_MESH_SUBNET, OVS_MESH_GATEWAY,
                       OVS_MESH_MTU and OVS_MESH_RANGE (default ${DEFAULT_ENV_FILE})`;

async function runDockerConfig(args: string[]): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const subnet = required(values.subnet, "subnet");
  const range = required(values.range, "range");
  const innerMtu = integerOption(required(values.mtu, "mtu"), "mtu", 0, MIN_INNER_MTU, MAX_MTU);
  const problem = checkDockerNetwork({ subnet, range, innerMtu });
  if (problem !== undefined) {
    throw new UsageError(problem);
  }

  const result = await writeDockerConfig({
    subnet,
    range,
    innerMtu,
    daemonJsonPath: values["daemon-json"],
    envFilePath: values["subnet-file"],
  });
  process.stdout.write(describeResult(result));
  return 0;
}

/** Lines for people: what changed in each file, and whether Docker must restart. */
function describeResult(result: DockerConfigResult): string {
  const lines: string[] = [];
  if (result.daemonJsonChanged) {
    lines.push(
      `${result.daemonJsonPath}: set bip ${result.bip} (was ${formatPrevious(result.previous.bip)}), mtu ${result.mtu} (was ${formatPrevious(result.previous.mtu)})`,
    );
    if (result.backupPath !== undefined) {
      lines.push(`${result.daemonJsonPath}: previous content saved in ${result.backupPath}`);
    }
  } else {
    lines.push(
      `${result.daemonJsonPath}: up to date (bip ${result.bip}, mtu ${result.mtu}), nothing to change`,
    );
  }
  lines.push(
    result.envFileChanged
      ? `${result.envFilePath}: written`
      : `${result.envFilePath}: up to date, nothing to change`,
  );
  if (result.daemonJsonChanged) {
    lines.push("Restart Docker to apply bip and mtu, for example: systemctl restart docker");
  }
  return `${lines.join("\n")}\n`;
}

function formatPrevious(value: unknown): string {
  return value === undefined ? "unset" : JSON.stringify(value);
}

export const dockerConfigCommand: Command = {
  name: "docker-config",
  summary: "set Docker's bridge address and MTU for this host's subnet (daemon.json)",
  usage: USAGE,
  run: runDockerConfig,
};
