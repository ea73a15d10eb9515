import { readFile, writeFile } from "node:fs/promises";

import { checkInterfaceName } from "../plan/cluster.js";

const PROC_SYS = "/proc/sys";

/**
 * sysctl subtrees whose keys are "<prefix><interface>.<setting>". Interface names may
 * contain dots (VLAN devices such as "eth0.5"), so only the last dot ends the name.
 */
const INTERFACE_PREFIXES = [
  "net.ipv4.conf.",
  "net.ipv4.neigh.",
  "net.ipv6.conf.",
  "net.ipv6.neigh.",
];

/** One path component of a sysctl key that is not an interface name. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Converts a dotted sysctl key into its file under /proc/sys, such as
 * "net.ipv4.conf.eth0.5.rp_filter" into "/proc/sys/net/ipv4/conf/eth0.5/rp_filter".
 * Throws a RangeError for a key that could escape /proc/sys or name no valid file.
 */
export function sysctlPath(key: string): string {
  const prefix = INTERFACE_PREFIXES.find((candidate) => key.startsWith(candidate));
  if (prefix === undefined) {
    const segments = key.split(".");
    checkSegments(key, segments);
    return [PROC_SYS, ...segments].join("/");
  }

  const rest = key.slice(prefix.length);
  const lastDot = rest.lastIndexOf(".");
  if (lastDot === -1) {
    throw new RangeError(
      `invalid sysctl key ${JSON.stringify(key)}: expected ${prefix}<interface>.<setting>`,
    );
  }
  const device = rest.slice(0, lastDot);
  const setting = rest.slice(lastDot + 1);
  const problem = checkInterfaceName(device);
  if (problem !== undefined) {
    throw new RangeError(`invalid sysctl key ${JSON.stringify(key)}: ${problem}`);
  }
  const segments = [...prefix.slice(0, -1).split("."), setting];
  checkSegments(key, segments);
  return [PROC_SYS, ...segments.slice(0, -1), device, setting].join("/");
}

function checkSegments(key: string, segments: string[]): void {
  for (const segment of segments) {
    if (!SEGMENT.test(segment)) {
      throw new RangeError(
        `invalid sysctl key ${JSON.stringify(key)}: each dotted part must be letters, digits, "_" or "-"`,
      );
    }
  }
}

/**
 * Reads a sysctl of the current network namespace without its trailing newline.
 * Returns undefined when the key does not exist, such as a setting of a missing interface.
 */
export async function readSysctl(key: string): Promise<string | undefined> {
  const path = sysctlPath(key);
  try {
    const text = await readFile(path, "utf8");
    return text.endsWith("\n") ? text.slice(0, -1) : text;
  } catch (error) {
    if (isNotFound(error)) {
      return undefined;
    }
    throw error;
  }
}

/** Writes a sysctl of the current network namespace. */
export async function writeSysctl(key: string, value: string): Promise<void> {
  const path = sysctlPath(key);
  if (value === "" || /[\n\r\0]/.test(value)) {
    throw new RangeError(
      `invalid value ${JSON.stringify(value)} for sysctl ${key}: expected one non-empty line`,
    );
  }
  try {
    await writeFile(path, value);
  } catch (error) {
    if (isNotFound(error)) {
      throw new Error(
        `failed to set sysctl ${key}: ${path} not found. Check the key, and create the interface that it names before setting it`,
        { cause: error },
      );
    }
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
