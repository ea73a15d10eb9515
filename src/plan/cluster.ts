import {
  containsAddress,
  containsNetwork,
  overlaps,
  parseCidr,
  parseIpv4,
  type Ipv4Network,
} from "./ipv4.js";
import { MIN_INNER_MTU, innerMtu } from "./mtu.js";

export type TunnelType = "gre" | "vxlan" | "geneve";
export type TunnelMode = "flow" | "port";
export type DatapathChoice = "auto" | "system" | "netdev";

export const TUNNEL_TYPES: readonly TunnelType[] = ["gre", "vxlan", "geneve"];
export const TUNNEL_MODES: readonly TunnelMode[] = ["flow", "port"];
export const DATAPATHS: readonly DatapathChoice[] = ["auto", "system", "netdev"];

/** Cluster-wide settings, shared by every host. */
export interface ClusterSettings {
  /** Cluster range that every host subnet is carved from, as "a.b.c.d/n". */
  range: string;
  /** Prefix length of each host's subnet. */
  subnetLength: number;
  tunnel: TunnelType;
  mode: TunnelMode;
  datapath: DatapathChoice;
  /** Name of the OVS bridge that holds the tunnels. */
  ovsBridge: string;
  /** Name of the Linux bridge that holds the containers (Docker's bridge). */
  linuxBridge: string;
  /** MTU of the underlay network; detected from the host's underlay interface when absent. */
  underlayMtu: number | undefined;
}

/** One member host. */
export interface HostSpec {
  name: string;
  /** IPv4 address on the underlay network that tunnels are sent to. */
  underlayIp: string;
  /** Subnet of the cluster range that this host owns, as "a.b.c.d/n". */
  subnet: string;
}

/** A whole cluster: settings and members. */
export interface Cluster extends ClusterSettings {
  hosts: HostSpec[];
}

export const DEFAULT_SETTINGS: Omit<ClusterSettings, "range"> = {
  subnetLength: 24,
  tunnel: "gre",
  mode: "flow",
  datapath: "auto",
  ovsBridge: "br0",
  linuxBridge: "docker0",
  underlayMtu: undefined,
};

/** One invalid value: where it is and what is wrong with it, including the fix. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Raised for invalid configuration; lists every problem found, not only the first. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `invalid configuration in ${source}:\n` +
        problems.map((problem) => `  ${problem.path}: ${problem.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Host names: DNS labels, because they appear in logs, OVS external_ids and store keys. */
const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Linux interface names: at most 15 bytes (IFNAMSIZ - 1), no slash, colon or whitespace,
 * and not "." or "..". Limited here to a portable set of characters.
 */
const INTERFACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/** Returns a problem when `name` cannot be a Linux interface name. */
export function checkInterfaceName(name: string): string | undefined {
  if (!INTERFACE_NAME.test(name)) {
    return `invalid interface name ${JSON.stringify(name)}: use 1 to 15 letters, digits, "_", "." or "-", not starting with "." or "-"`;
  }
  return undefined;
}

/** Returns a problem when `name` cannot be a host name. */
export function checkHostName(name: string): string | undefined {
  if (!HOST_NAME.test(name)) {
    return `invalid host name ${JSON.stringify(name)}: use 1 to 63 lower-case letters, digits and "-", starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Collects problems while walking an untrusted object. */
class Checker {
  readonly problems: ConfigProblem[] = [];

  report(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  object(value: unknown, path: string): Record<string, unknown> | undefined {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.report(path, `expected a mapping, found ${describe(value)}`);
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  knownKeys(object: Record<string, unknown>, path: string, known: readonly string[]): void {
    for (const key of Object.keys(object)) {
      if (!known.includes(key)) {
        this.report(
          join(path, key),
          `unknown key ${JSON.stringify(key)}: remove it or use one of ${known.join(", ")}`,
        );
      }
    }
  }

  string(value: unknown, path: string): string | undefined {
    if (typeof value !== "string" || value === "") {
      this.report(path, `expected a non-empty string, found ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  integer(value: unknown, path: string, min: number, max: number): number | undefined {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.report(path, `expected an integer from ${min} to ${max}, found ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  choice<T extends string>(value: unknown, path: string, choices: readonly T[]): T | undefined {
    if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
      this.report(path, `expected one of ${choices.join(", ")}, found ${describe(value)}`);
      return undefined;
    }
    return value as T;
  }

  cidr(value: unknown, path: string): Ipv4Network | undefined {
    const text = this.string(value, path);
    if (text === undefined) {
      return undefined;
    }
    const network = parseCidr(text);
    if (network === undefined) {
      this.report(
        path,
        `invalid CIDR ${JSON.stringify(text)}: write an IPv4 network such as 10.240.0.0/16, with no bits set after the prefix`,
      );
    }
    return network;
  }

  ipv4(value: unknown, path: string): number | undefined {
    const text = this.string(value, path);
    if (text === undefined) {
      return undefined;
    }
    const address = parseIpv4(text);
    if (address === undefined) {
      this.report(path, `invalid IPv4 address ${JSON.stringify(text)}: write it as a.b.c.d`);
    }
    return address;
  }
}

/**
 * IPv4 blocks that are neither host addresses nor routable between hosts (RFC 6890):
 * "this network", loopback, link-local, multicast and the reserved block with broadcast.
 */
const SPECIAL_PURPOSE: readonly [string, Ipv4Network][] = [
  ["0.0.0.0/8 (this network)", { base: 0, length: 8 }],
  ["127.0.0.0/8 (loopback)", { base: 127 * 2 ** 24, length: 8 }],
  ["169.254.0.0/16 (link-local)", { base: 169 * 2 ** 24 + 254 * 2 ** 16, length: 16 }],
  ["224.0.0.0/4 (multicast)", { base: 224 * 2 ** 24, length: 4 }],
  ["240.0.0.0/4 (reserved, with the broadcast address)", { base: 240 * 2 ** 24, length: 4 }],
];

/** Names the special-purpose block that a network overlaps, or undefined. */
function specialPurpose(network: Ipv4Network): string | undefined {
  return SPECIAL_PURPOSE.find(([, block]) => overlaps(block, network))?.[0];
}

function describe(value: unknown): string {
  if (value === undefined) {
    return "nothing";
  }
  // JSON.stringify writes Infinity and NaN (YAML's .inf, .nan, 1e400) as null.
  if (typeof value === "number" && !Number.isFinite(value)) {
    return String(value);
  }
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function join(path: string, key: string | number): string {
  if (typeof key === "number") {
    return `${path}[${key}]`;
  }
  return path ? `${path}.${key}` : key;
}

const SETTINGS_KEYS = [
  "range",
  "subnetLength",
  "tunnel",
  "mode",
  "datapath",
  "bridges",
  "underlayMtu",
] as const;
const HOST_KEYS = ["name", "underlayIp", "subnet"] as const;

function checkSettings(
  checker: Checker,
  object: Record<string, unknown>,
  path: string,
): ClusterSettings | undefined {
  const range = checker.cidr(object.range, join(path, "range"));
  const subnetLength =
    object.subnetLength === undefined
      ? DEFAULT_SETTINGS.subnetLength
      : checker.integer(object.subnetLength, join(path, "subnetLength"), 1, 30);
  const tunnel =
    object.tunnel === undefined
      ? DEFAULT_SETTINGS.tunnel
      : checker.choice(object.tunnel, join(path, "tunnel"), TUNNEL_TYPES);
  const mode =
    object.mode === undefined
      ? DEFAULT_SETTINGS.mode
      : checker.choice(object.mode, join(path, "mode"), TUNNEL_MODES);
  const datapath =
    object.datapath === undefined
      ? DEFAULT_SETTINGS.datapath
      : checker.choice(object.datapath, join(path, "datapath"), DATAPATHS);
  const underlayMtu =
    object.underlayMtu === undefined
      ? undefined
      : checker.integer(object.underlayMtu, join(path, "underlayMtu"), 576, 65535);

  let ovsBridge = DEFAULT_SETTINGS.ovsBridge;
  let linuxBridge = DEFAULT_SETTINGS.linuxBridge;
  if (object.bridges !== undefined) {
    const bridgesPath = join(path, "bridges");
    const bridges = checker.object(object.bridges, bridgesPath);
    if (bridges) {
      checker.knownKeys(bridges, bridgesPath, ["ovs", "linux"]);
      ovsBridge = checkBridgeName(checker, bridges.ovs, join(bridgesPath, "ovs"), ovsBridge);
      linuxBridge = checkBridgeName(
        checker,
        bridges.linux,
        join(bridgesPath, "linux"),
        linuxBridge,
      );
      if (ovsBridge === linuxBridge) {
        checker.report(
          bridgesPath,
          `the OVS and Linux bridges are both named ${JSON.stringify(ovsBridge)}: give them different names`,
        );
      }
    }
  }

  const lengthFits = !(range && subnetLength !== undefined && subnetLength <= range.length);
  if (!lengthFits) {
    checker.report(
      join(path, "subnetLength"),
      `subnet length /${subnetLength} must be longer than the range's /${range?.length}, so that the range holds several host subnets`,
    );
  }
  const special = range ? specialPurpose(range) : undefined;
  if (special) {
    checker.report(
      join(path, "range"),
      `range ${String(object.range)} overlaps ${special}, which cannot carry container traffic: pick a private range such as 10.240.0.0/16`,
    );
  }
  if (
    range &&
    tunnel &&
    underlayMtu !== undefined &&
    innerMtu(underlayMtu, tunnel) < MIN_INNER_MTU
  ) {
    checker.report(
      join(path, "underlayMtu"),
      `underlay MTU ${underlayMtu} leaves an inner MTU of ${innerMtu(underlayMtu, tunnel)} with ${tunnel}, below the minimum ${MIN_INNER_MTU}: raise the underlay MTU`,
    );
  }

  if (
    range === undefined ||
    !lengthFits ||
    special !== undefined ||
    subnetLength === undefined ||
    tunnel === undefined ||
    mode === undefined ||
    datapath === undefined ||
    (object.underlayMtu !== undefined && underlayMtu === undefined)
  ) {
    return undefined;
  }
  return {
    range: object.range as string,
    subnetLength,
    tunnel,
    mode,
    datapath,
    ovsBridge,
    linuxBridge,
    underlayMtu,
  };
}

function checkBridgeName(checker: Checker, value: unknown, path: string, fallback: string): string {
  if (value === undefined) {
    return fallback;
  }
  const name = checker.string(value, path);
  if (name === undefined) {
    return fallback;
  }
  const problem = checkInterfaceName(name);
  if (problem) {
    checker.report(path, problem);
  }
  return name;
}

/**
 * Checks one host record against the cluster settings. Returns the host, or undefined
 * after reporting each problem to `checker`.
 */
function checkHost(
  checker: Checker,
  value: unknown,
  path: string,
  settings: ClusterSettings | undefined,
): HostSpec | undefined {
  const object = checker.object(value, path);
  if (!object) {
    return undefined;
  }
  checker.knownKeys(object, path, HOST_KEYS);
  const before = checker.problems.length;

  const name = checker.string(object.name, join(path, "name"));
  if (name !== undefined) {
    const problem = checkHostName(name);
    if (problem) {
      checker.report(join(path, "name"), problem);
    }
  }
  const underlay = checker.ipv4(object.underlayIp, join(path, "underlayIp"));
  const subnet = checker.cidr(object.subnet, join(path, "subnet"));

  const range = settings ? parseCidr(settings.range) : undefined;
  if (range && settings && subnet) {
    if (!containsNetwork(range, subnet)) {
      checker.report(
        join(path, "subnet"),
        `subnet ${String(object.subnet)} is outside the cluster range ${settings.range}: pick a subnet inside it`,
      );
    } else if (subnet.length !== settings.subnetLength) {
      checker.report(
        join(path, "subnet"),
        `subnet ${String(object.subnet)} has length /${subnet.length}, but the cluster uses /${settings.subnetLength}: use a /${settings.subnetLength}`,
      );
    }
  }
  const specialUnderlay =
    underlay === undefined ? undefined : specialPurpose({ base: underlay, length: 32 });
  if (specialUnderlay) {
    checker.report(
      join(path, "underlayIp"),
      `underlay IP ${String(object.underlayIp)} is in ${specialUnderlay}: use the host's unicast address on the physical network`,
    );
  }
  if (range && settings && underlay !== undefined && containsAddress(range, underlay)) {
    checker.report(
      join(path, "underlayIp"),
      `underlay IP ${String(object.underlayIp)} is inside the cluster range ${settings.range}: tunnels would be routed into the overlay; use an address of the physical network`,
    );
  }

  if (checker.problems.length > before || name === undefined) {
    return undefined;
  }
  return { name, underlayIp: object.underlayIp as string, subnet: object.subnet as string };
}

/**
 * Reports every pair of hosts that share a name, underlay IP or subnet. `hosts` holds the
 * valid entries with their index in the list, so that messages name the right entry.
 */
function checkUnique(
  checker: Checker,
  hosts: readonly { host: HostSpec; index: number }[],
  path: string,
): void {
  const fields = [
    ["name", "name"],
    ["underlayIp", "underlay IP"],
    ["subnet", "subnet"],
  ] as const;
  for (const [field, label] of fields) {
    const seen = new Map<string, number>();
    hosts.forEach(({ host, index }) => {
      const first = seen.get(host[field]);
      if (first === undefined) {
        seen.set(host[field], index);
      } else {
        checker.report(
          join(join(path, index), field),
          `${label} ${host[field]} is also used by ${path}[${first}]: give each host its own ${label}`,
        );
      }
    });
  }
}

/** Validates cluster settings from an untrusted source (a file, the store, a command line). */
export function parseSettings(value: unknown, source: string): ClusterSettings {
  const checker = new Checker();
  const object = checker.object(value, "(top level)");
  const settings = object ? checkSettings(checker, object, "") : undefined;
  if (object) {
    checker.knownKeys(object, "", SETTINGS_KEYS);
  }
  if (checker.problems.length > 0 || settings === undefined) {
    throw new ConfigError(source, checker.problems);
  }
  return settings;
}

/** Validates one host record from an untrusted source against the cluster settings. */
export function parseHost(value: unknown, settings: ClusterSettings, source: string): HostSpec {
  const checker = new Checker();
  const host = checkHost(checker, value, "host", settings);
  if (checker.problems.length > 0 || host === undefined) {
    throw new ConfigError(source, checker.problems);
  }
  return host;
}

/** Validates a whole cluster (settings plus a `hosts` list) from an untrusted source. */
export function parseCluster(value: unknown, source: string): Cluster {
  const checker = new Checker();
  const object = checker.object(value, "(top level)");
  if (!object) {
    throw new ConfigError(source, checker.problems);
  }
  checker.knownKeys(object, "", [...SETTINGS_KEYS, "hosts"]);
  const settings = checkSettings(checker, object, "");

  const hosts: { host: HostSpec; index: number }[] = [];
  if (!Array.isArray(object.hosts)) {
    checker.report("hosts", `expected a list of hosts, found ${describe(object.hosts)}`);
  } else {
    object.hosts.forEach((entry: unknown, index: number) => {
      const host = checkHost(checker, entry, join("hosts", index), settings);
      if (host) {
        hosts.push({ host, index });
      }
    });
    checkUnique(checker, hosts, "hosts");
  }

  if (checker.problems.length > 0 || settings === undefined) {
    throw new ConfigError(source, checker.problems);
  }
  return { ...settings, hosts: hosts.map(({ host }) => host) };
}
