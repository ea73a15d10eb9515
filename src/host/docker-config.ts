import { realpath } from "node:fs/promises";
import { dirname } from "node:path";
import {
  containsNetwork,
  formatCidr,
  formatIpv4,
  gatewayAddress,
  parseCidr,
  type Ipv4Network,
} from "../plan/ipv4.js";
import { MIN_INNER_MTU } from "../plan/mtu.js";
import { fileMode, readFileIfExists, writeFileAtomic } from "./atomic-file.js";
import { makeDirectory } from "./directory.js";

/** Docker's daemon configuration file on a standard installation. */
export const DEFAULT_DAEMON_JSON = "/etc/docker/daemon.json";

/** Environment file for scripts and other tools, in the spirit of flannel's subnet.env. */
export const DEFAULT_ENV_FILE = "/run/ovs-mesh/subnet.env";

/** Suffix of the copy of daemon.json taken before each change. */
export const BACKUP_SUFFIX = ".ovs-mesh.bak";

/** Largest MTU that an Ethernet device in Linux accepts (IP_MAX_MTU). */
export const MAX_MTU = 65535;

/** The network settings that ovs-mesh owns in Docker's configuration. */
export interface DockerNetwork {
  /** This host's subnet, as "a.b.c.d/n". */
  subnet: string;
  /** The cluster range that contains every host's subnet, as "a.b.c.d/n". */
  range: string;
  /** MTU inside the tunnels, for docker0 and every container interface. */
  innerMtu: number;
}

/** Options for {@link writeDockerConfig}. */
export interface DockerConfigOptions extends DockerNetwork {
  daemonJsonPath?: string;
  envFilePath?: string;
}

/** The outcome of {@link writeDockerConfig}. */
export interface DockerConfigResult {
  daemonJsonPath: string;
  envFilePath: string;
  /** The `bip` value written, such as "10.240.1.1/24". */
  bip: string;
  mtu: number;
  /** `bip` and `mtu` as they were before; undefined where the key or the file was missing. */
  previous: { bip: unknown; mtu: unknown };
  /** Whether daemon.json was written. Docker applies the change only when it restarts. */
  daemonJsonChanged: boolean;
  /** Copy of the previous daemon.json; undefined when nothing changed or no file existed. */
  backupPath: string | undefined;
  envFileChanged: boolean;
}

/** Returns a problem with the subnet, range or MTU, naming the value; undefined when valid. */
export function checkDockerNetwork(network: DockerNetwork): string | undefined {
  const subnet = parseCidr(network.subnet);
  if (subnet === undefined) {
    return `invalid subnet ${JSON.stringify(network.subnet)}: write an IPv4 network such as 10.240.1.0/24, with no bits set after the prefix`;
  }
  if (subnet.length > 30) {
    return `subnet ${network.subnet} is too small for a gateway and containers: use a prefix length of 30 or less`;
  }
  const range = parseCidr(network.range);
  if (range === undefined) {
    return `invalid range ${JSON.stringify(network.range)}: write an IPv4 network such as 10.240.0.0/16, with no bits set after the prefix`;
  }
  if (!containsNetwork(range, subnet)) {
    return `subnet ${network.subnet} is outside the cluster range ${network.range}: pick a subnet inside it`;
  }
  if (
    !Number.isInteger(network.innerMtu) ||
    network.innerMtu < MIN_INNER_MTU ||
    network.innerMtu > MAX_MTU
  ) {
    return `invalid MTU ${network.innerMtu}: expected an integer from ${MIN_INNER_MTU} to ${MAX_MTU}`;
  }
  return undefined;
}

/** Docker's `bip` for a subnet: the gateway address with the prefix length ("10.240.1.1/24"). */
export function bridgeIp(subnet: Ipv4Network): string {
  return `${formatIpv4(gatewayAddress(subnet))}/${subnet.length}`;
}

/** The result of {@link mergeDaemonJson}: the new text, or undefined when nothing changes. */
export interface DaemonJsonMerge {
  text: string | undefined;
  previous: { bip: unknown; mtu: unknown };
}

/**
 * Sets `bip` and `mtu` for `subnet` in the text of a daemon.json and keeps every other key
 * in its place. `existing` is undefined for a missing file. Throws an Error naming `path`
 * when the text is not a JSON object, or when it contains a key that dockerd rejects
 * together with the new `bip`.
 */
export function mergeDaemonJson(
  existing: string | undefined,
  subnet: Ipv4Network,
  mtu: number,
  path: string,
): DaemonJsonMerge {
  const config = existing === undefined ? {} : parseDaemonJson(existing, path);
  const previous = { bip: config.bip, mtu: config.mtu };
  const bip = bridgeIp(subnet);

  // dockerd 20.10 rejects any non-empty "bridge" next to "bip" ("-b & --bip, mutually
  // exclusive"), even "docker0".
  if (config.bridge !== undefined && config.bridge !== "") {
    throw new Error(
      `${path} sets "bridge": ${JSON.stringify(config.bridge)}, which dockerd rejects together with "bip"; remove "bridge" so that Docker creates docker0, then run again`,
    );
  }
  const fixedCidr = config["fixed-cidr"];
  if (fixedCidr !== undefined) {
    const fixed = typeof fixedCidr === "string" ? parseCidr(fixedCidr) : undefined;
    if (fixed === undefined || !containsNetwork(subnet, fixed)) {
      throw new Error(
        `${path} sets "fixed-cidr": ${JSON.stringify(fixedCidr)}, which is not inside ${formatCidr(subnet)}; remove "fixed-cidr" or set it inside that subnet, then run again`,
      );
    }
  }

  if (previous.bip === bip && previous.mtu === mtu) {
    return { text: undefined, previous };
  }
  config.bip = bip;
  config.mtu = mtu;
  return { text: `${JSON.stringify(config, null, 2)}\n`, previous };
}

function parseDaemonJson(text: string, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `${path} is not valid JSON (${reason}); fix the file or move it away, then run again. Nothing was written`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(
      `${path} must contain a JSON object, found ${Array.isArray(value) ? "an array" : JSON.stringify(value)}; fix the file or move it away, then run again. Nothing was written`,
    );
  }
  return value as Record<string, unknown>;
}

/** Formats the environment file: one `KEY=value` line per setting. */
export function formatSubnetEnv(network: DockerNetwork): string {
  const subnet = parseCidr(network.subnet);
  if (subnet === undefined) {
    throw new RangeError(`invalid subnet ${JSON.stringify(network.subnet)}`);
  }
  return [
    `OVS_MESH_SUBNET=${formatCidr(subnet)}`,
    `OVS_MESH_GATEWAY=${formatIpv4(gatewayAddress(subnet))}`,
    `OVS_MESH_MTU=${network.innerMtu}`,
    `OVS_MESH_RANGE=${network.range}`,
    "",
  ].join("\n");
}

/**
 * Sets `bip` and `mtu` in Docker's daemon.json and writes the environment file. Both files
 * are replaced atomically, and each is written only when its content changes. Before
 * daemon.json changes, its previous content is copied to daemon.json.ovs-mesh.bak.
 * Throws a RangeError for an invalid subnet, range or MTU. Throws an Error naming the file
 * when the existing daemon.json cannot be merged. In both cases nothing is written.
 */
export async function writeDockerConfig(options: DockerConfigOptions): Promise<DockerConfigResult> {
  const problem = checkDockerNetwork(options);
  if (problem !== undefined) {
    throw new RangeError(problem);
  }
  const subnet = parseCidr(options.subnet);
  if (subnet === undefined) {
    throw new RangeError(`invalid subnet ${JSON.stringify(options.subnet)}`);
  }
  const bip = bridgeIp(subnet);
  const daemonJsonPath = await resolveLink(options.daemonJsonPath ?? DEFAULT_DAEMON_JSON);
  const envFilePath = options.envFilePath ?? DEFAULT_ENV_FILE;

  const existing = await readFileIfExists(daemonJsonPath);
  const merge = mergeDaemonJson(existing, subnet, options.innerMtu, daemonJsonPath);

  let backupPath: string | undefined;
  if (merge.text !== undefined) {
    const mode = await fileMode(daemonJsonPath);
    if (existing !== undefined) {
      backupPath = `${daemonJsonPath}${BACKUP_SUFFIX}`;
      await writeInDirectory(backupPath, existing, mode);
    }
    await writeInDirectory(daemonJsonPath, merge.text, mode);
  }

  const envText = formatSubnetEnv(options);
  const envFileChanged = (await readFileIfExists(envFilePath)) !== envText;
  if (envFileChanged) {
    await writeInDirectory(envFilePath, envText, 0o644);
  }

  return {
    daemonJsonPath,
    envFilePath,
    bip,
    mtu: options.innerMtu,
    previous: merge.previous,
    daemonJsonChanged: merge.text !== undefined,
    backupPath,
    envFileChanged,
  };
}

/** Writes a file atomically, creating its directory (such as /etc/docker) when missing. */
async function writeInDirectory(path: string, text: string, mode: number): Promise<void> {
  await makeDirectory(dirname(path), 0o755);
  await writeFileAtomic(path, text, mode);
}

/** Follows a symbolic link, so that the rename replaces the target rather than the link. */
async function resolveLink(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return path;
    }
    throw error;
  }
}
