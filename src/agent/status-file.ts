import { readFileIfExists, writeFileAtomic } from "../host/atomic-file.js";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { TUNNEL_MODES, TUNNEL_TYPES, type TunnelMode, type TunnelType } from "../plan/cluster.js";

/** Name of the agent's status file in its state directory. */
export const STATUS_FILE = "status.json";

/** Health of a tunnel: "unknown" before the first probe, or when no source reports it. */
export type Health = "up" | "down" | "unknown";

/** The agent's last view of one peer. */
export interface PeerStatus {
  name: string;
  underlayIp: string;
  subnet: string;
  /** Result of the last probe through the overlay. */
  health: Health;
  /** Round-trip time of the last probe in milliseconds; null when the peer did not reply. */
  rttMs: number | null;
  /** When `health` last changed, as an ISO 8601 time; null before the first probe. */
  lastChange: string | null;
  /** Error that kept the last probe from being sent; null when it was sent. */
  error: string | null;
}

/** The agent's status file: the host's own settings and the state of each peer. */
export interface StatusFile {
  version: 1;
  host: string;
  /** When the agent last wrote the file, as an ISO 8601 time. */
  updatedAt: string;
  subnet: string;
  /** The host's gateway address on the Linux bridge, without prefix length. */
  gateway: string;
  innerMtu: number;
  datapath: "system" | "netdev";
  tunnel: TunnelType;
  mode: TunnelMode;
  ovsBridge: string;
  linuxBridge: string;
  /** Seconds between probe rounds; 0 when probes are off. */
  probeIntervalSeconds: number;
  peers: PeerStatus[];
}

/** Path of the status file in a state directory. */
export function statusFilePath(stateDir: string): string {
  return join(stateDir, STATUS_FILE);
}

/**
 * Writes the status file so that readers see the old or the new file, never a part of one.
 * Each write has a temporary file of its own, so that a probe round and a reconcile can
 * write at the same time.
 */
export async function writeStatusFile(stateDir: string, status: StatusFile): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const path = statusFilePath(stateDir);
  await writeFileAtomic(path, `${JSON.stringify(status, null, 2)}\n`);
}

/** Reads and validates a status file; undefined when it does not exist. */
export async function readStatusFile(path: string): Promise<StatusFile | undefined> {
  const text = await readFileIfExists(path);
  if (text === undefined) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StatusFileError(path, `invalid JSON (${(error as Error).message})`);
  }
  return parseStatusFile(value, path);
}

/** A status file that is not what the agent writes. */
export class StatusFileError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`invalid status file ${path}: ${problem}; it is rewritten by the running agent`);
    this.name = "StatusFileError";
  }
}

/** Validates a parsed status file, naming the first field that is wrong. */
export function parseStatusFile(value: unknown, source: string): StatusFile {
  const fail = (field: string, expected: string): never => {
    throw new StatusFileError(source, `${field} must be ${expected}`);
  };
  const object = isObject(value) ? value : fail("the top level", "an object");
  if (object.version !== 1) {
    fail("version", "1");
  }
  const text = (key: string, from: Record<string, unknown> = object, prefix = ""): string =>
    typeof from[key] === "string" ? from[key] : fail(`${prefix}${key}`, "a string");
  const number = (key: string): number =>
    typeof object[key] === "number" ? object[key] : fail(key, "a number");

  const datapath = text("datapath");
  const tunnel = text("tunnel");
  const mode = text("mode");
  if (datapath !== "system" && datapath !== "netdev") {
    fail("datapath", "system or netdev");
  }
  if (!(TUNNEL_TYPES as readonly string[]).includes(tunnel)) {
    fail("tunnel", TUNNEL_TYPES.join(", "));
  }
  if (!(TUNNEL_MODES as readonly string[]).includes(mode)) {
    fail("mode", TUNNEL_MODES.join(", "));
  }
  const peers = Array.isArray(object.peers) ? object.peers : fail("peers", "a list");

  return {
    version: 1,
    host: text("host"),
    updatedAt: text("updatedAt"),
    subnet: text("subnet"),
    gateway: text("gateway"),
    innerMtu: number("innerMtu"),
    datapath: datapath as StatusFile["datapath"],
    tunnel: tunnel as TunnelType,
    mode: mode as TunnelMode,
    ovsBridge: text("ovsBridge"),
    linuxBridge: text("linuxBridge"),
    probeIntervalSeconds: number("probeIntervalSeconds"),
    peers: peers.map((entry: unknown, index: number) => {
      const prefix = `peers[${index}].`;
      const peer = isObject(entry) ? entry : fail(`peers[${index}]`, "an object");
      const name = text("name", peer, prefix);
      const underlayIp = text("underlayIp", peer, prefix);
      const subnet = text("subnet", peer, prefix);
      const health = text("health", peer, prefix);
      if (health !== "up" && health !== "down" && health !== "unknown") {
        fail(`${prefix}health`, "up, down or unknown");
      }
      const nullable = <T>(key: string, type: "string" | "number"): T | null => {
        const field = peer[key];
        return field === null || typeof field === type
          ? (field as T | null)
          : fail(`${prefix}${key}`, `a ${type} or null`);
      };
      return {
        name,
        underlayIp,
        subnet,
        health: health as Health,
        rttMs: nullable<number>("rttMs", "number"),
        lastChange: nullable<string>("lastChange", "string"),
        error: peer.error === undefined ? null : nullable<string>("error", "string"),
      };
    }),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
