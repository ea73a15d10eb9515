import { isAbsolute, join } from "node:path";
import { parseIpv4 } from "../plan/ipv4.js";
import type { DockerdOptions } from "./docker-daemon.js";
import { exists } from "./docker-files.js";
import { CGROUP_PREFIX, MAX_SOCKET_PATH, daemonPaths, type DaemonPaths } from "./docker-paths.js";

export async function checkDockerdOptions(options: DockerdOptions): Promise<void> {
  if (!/^[A-Za-z0-9_.-]+$/.test(options.netns) || options.netns.startsWith(".")) {
    throw new RangeError(`invalid network namespace name ${JSON.stringify(options.netns)}`);
  }
  if (!(await exists(join("/run/netns", options.netns)))) {
    throw new RangeError(
      `network namespace ${options.netns} not found: create it with "ip netns add ${options.netns}"`,
    );
  }
  if (!isAbsolute(options.dir)) {
    throw new RangeError(`state directory ${JSON.stringify(options.dir)} must be an absolute path`);
  }
  const longest = daemonPaths(options.dir).containerdTtrpcSocket;
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
    throw new RangeError(
      `state directory ${options.dir} is too long: the socket ${longest} exceeds ${MAX_SOCKET_PATH} bytes; use a shorter directory`,
    );
  }
  if (options.bip !== undefined) {
    checkBip(options.bip);
  }
  if (options.mtu !== undefined) {
    checkMtu(options.mtu);
  }
}

function checkBip(bip: unknown): void {
  const [address = "", length = ""] = typeof bip === "string" ? bip.split("/") : [];
  const prefixLength = Number(length);
  if (
    parseIpv4(address) === undefined ||
    !/^\d+$/.test(length) ||
    prefixLength < 1 ||
    prefixLength > 30
  ) {
    throw new RangeError(
      `invalid bip ${JSON.stringify(bip)}: write the bridge address with its prefix length, such as 10.240.1.1/24`,
    );
  }
}

function checkMtu(mtu: unknown): void {
  if (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new RangeError(
      `invalid MTU ${JSON.stringify(mtu)}: expected an integer from 68 to 65535`,
    );
  }
}

/**
 * Returns the text of daemon.json: the keys of `existing` (the file as it is, undefined when
 * missing) with the daemon's own paths and settings laid over them, and with `bip` and `mtu`
 * from the options where given. So the `bip` and `mtu` that `ovs-mesh docker-config` wrote
 * before the start stay. Raises a RangeError when the file is not a JSON object, or when the
 * result has no valid `bip` or `mtu`.
 */
export function mergeDockerdConfig(
  existing: string | undefined,
  paths: DaemonPaths,
  options: DockerdOptions,
): string {
  let base: unknown = {};
  if (existing !== undefined) {
    try {
      base = JSON.parse(existing);
    } catch (error) {
      throw new RangeError(`${paths.config} is not valid JSON: ${String(error)}`);
    }
  }
  if (typeof base !== "object" || base === null || Array.isArray(base)) {
    throw new RangeError(`${paths.config} must contain a JSON object`);
  }
  const config: Record<string, unknown> = { ...base, ...dockerdConfig(paths, options) };
  checkBip(config.bip);
  checkMtu(config.mtu);
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * dockerd's configuration. "containerd" is always set: without it, dockerd 20.10 uses the
 * system's containerd whenever /run/containerd/containerd.sock exists. "deprecated-key-path"
 * keeps dockerd from writing /etc/docker/key.json. "cgroup-parent" gives the containers
 * cgroups of their own, which {@link stopDockerd} removes.
 */
export function dockerdConfig(
  paths: DaemonPaths,
  options: DockerdOptions,
): Record<string, unknown> {
  return {
    ...(options.bip === undefined ? {} : { bip: options.bip }),
    ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
    "data-root": paths.dataRoot,
    "exec-root": paths.execRoot,
    pidfile: paths.dockerdPidfile,
    hosts: [`unix://${paths.socket}`],
    containerd: paths.containerdSocket,
    "deprecated-key-path": paths.keyFile,
    "cgroup-parent": `/${CGROUP_PREFIX}${options.netns}`,
    iptables: true,
  };
}

/**
 * containerd's configuration: sockets and directories in the state directory, no debug or
 * metrics listener, and no CRI plugin, which Docker does not use.
 */
export function containerdConfig(paths: DaemonPaths): string {
  const quote = (text: string) => JSON.stringify(text);
  return [
    "version = 2",
    `root = ${quote(paths.containerdRoot)}`,
    `state = ${quote(paths.containerdState)}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    "[grpc]",
    `  address = ${quote(paths.containerdSocket)}`,
    "[ttrpc]",
    `  address = ${quote(paths.containerdTtrpcSocket)}`,
    "[debug]",
    '  address = ""',
    "[metrics]",
    '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${quote(paths.containerdOpt)}`,
    "",
  ].join("\n");
}
