import { readFileIfExists, writeFileAtomic } from "./atomic-file.js";
import { join } from "node:path";
import { makeDirectory } from "./directory.js";

/** ovs-mesh's record of what it created on a host, so that `reset` can undo exactly that. */
export interface HostRecord {
  ovsBridge: string;
  linuxBridge: string;
  /** Whether ovs-mesh created the Linux bridge (rather than Docker or the operator). */
  createdLinuxBridge: boolean;
  /** Cluster range routed through the Linux bridge. */
  route: string;
  /** Values that sysctl keys had before ovs-mesh first changed them. */
  sysctlsBefore: Record<string, string>;
}

const FILE_NAME = "host.json";

/** A host record that cannot be read: invalid JSON or a wrong shape. */
export class HostRecordError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path} is not a valid ovs-mesh host record (${reason}); remove it and run apply again`);
    this.name = "HostRecordError";
  }
}

/** Reads the record; undefined when ovs-mesh never applied a configuration here. */
export async function readHostRecord(stateDir: string): Promise<HostRecord | undefined> {
  const path = join(stateDir, FILE_NAME);
  const text = await readFileIfExists(path);
  if (text === undefined) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new HostRecordError(path, `invalid JSON: ${error.message}`);
    }
    throw error;
  }
  if (!isHostRecord(value)) {
    throw new HostRecordError(path, "a field is missing or of the wrong type");
  }
  return value;
}

function isHostRecord(value: unknown): value is HostRecord {
  if (typeof value !== "object" || value === null) {
    return false;
  }
  const record = value as Record<string, unknown>;
  return (
    typeof record.ovsBridge === "string" &&
    typeof record.linuxBridge === "string" &&
    typeof record.createdLinuxBridge === "boolean" &&
    typeof record.route === "string" &&
    typeof record.sysctlsBefore === "object" &&
    record.sysctlsBefore !== null &&
    Object.values(record.sysctlsBefore).every((item) => typeof item === "string")
  );
}

/** Writes the record atomically: a temporary file, fsync, then rename over the old one. */
export async function writeHostRecord(stateDir: string, record: HostRecord): Promise<void> {
  await makeDirectory(stateDir, 0o755);
  const path = join(stateDir, FILE_NAME);
  await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
}
