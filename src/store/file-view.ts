import { readFile } from "node:fs/promises";
import { parseDocument, type Document } from "yaml";
import {
  ConfigError,
  parseCluster,
  parseHost,
  parseSettings,
  type ClusterSettings,
  type HostSpec,
} from "../plan/cluster.js";
import { errorCode } from "./lock.js";
import type { ClusterView, HostRecord, StoreProblem } from "./store.js";

/** A cluster file as read from disk: the YAML document, for edits that keep comments, and its value. */
export interface ClusterDocument {
  document: Document;
  value: unknown;
}

/**
 * Reads and parses a cluster file. A missing file or a YAML syntax error is a
 * {@link ConfigError} that names the file, and the line and column of each error.
 */
export async function readClusterDocument(path: string): Promise<ClusterDocument> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") {
      throw new ConfigError(path, [
        {
          path: "(file)",
          message: "file not found: create the cluster file or pass the path of an existing one",
        },
      ]);
    }
    throw error;
  }

  const document = parseDocument(text);
  if (document.errors.length > 0) {
    throw new ConfigError(
      path,
      document.errors.map((error) => {
        const position = error.linePos?.[0];
        // yaml appends " at line N, column M:" and a code frame; the position is given apart.
        const summary = (error.message.split("\n")[0] ?? "").replace(
          / at line \d+, column \d+:$/,
          "",
        );
        return {
          path: position ? `line ${position.line}, column ${position.col}` : "(file)",
          message: `invalid YAML: ${summary}: fix the syntax at this position`,
        };
      }),
    );
  }
  return { document, value: document.toJS() };
}

/**
 * Validates a cluster file's value. Invalid settings raise a {@link ConfigError}; an invalid
 * host entry, or one that repeats an earlier entry's name, underlay IP or subnet, lands in
 * `problems` and is skipped.
 */
export function clusterView(value: unknown, source: string): ClusterView {
  try {
    const { hosts, ...settings } = parseCluster(value, source);
    return {
      settings,
      hosts: hosts.map((host) => ({ ...host, lastSeen: undefined })),
      problems: [],
    };
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw error;
    }
    if (error.problems.some((problem) => !/^hosts\[\d+\]/.test(problem.path))) {
      // A problem outside the host entries: the settings or the file's shape are wrong.
      throw error;
    }
  }
  return partialView(value, source);
}

/**
 * Builds the view from the valid host entries, checking each entry on its own so that
 * every problem names the entry's index in the file.
 */
function partialView(value: unknown, source: string): ClusterView {
  // parseCluster found problems only inside host entries, so the settings are valid and
  // `hosts` is a list.
  const { hosts: entries, ...rest } = value as { hosts: unknown[] };
  const settings: ClusterSettings = parseSettings(rest, source);
  const hosts: HostRecord[] = [];
  /** Index in the file of each entry of `hosts`. */
  const indices: number[] = [];
  const problems: StoreProblem[] = [];
  const report = (index: number, field: string, message: string): void => {
    problems.push({ key: `${source}: hosts[${index}]${field}`, message });
  };

  entries.forEach((entry, index) => {
    let host: HostSpec;
    try {
      host = parseHost(entry, settings, source);
    } catch (error) {
      if (!(error instanceof ConfigError)) {
        throw error;
      }
      for (const problem of error.problems) {
        report(index, problem.path.replace(/^host/, ""), problem.message);
      }
      return;
    }
    for (const [field, label] of DUPLICATE_FIELDS) {
      const first = hosts.findIndex((other) => other[field] === host[field]);
      if (first >= 0) {
        report(
          index,
          `.${field}`,
          `${label} ${host[field]} is also used by hosts[${indices[first] ?? first}]: give each host its own ${label}`,
        );
        return;
      }
    }
    hosts.push({ ...host, lastSeen: undefined });
    indices.push(index);
  });
  return { settings, hosts, problems };
}

const DUPLICATE_FIELDS = [
  ["name", "name"],
  ["underlayIp", "underlay IP"],
  ["subnet", "subnet"],
] as const;

/** Returns the host entries of a cluster file's value as they are, valid or not. */
export function rawHostEntries(value: unknown): Record<string, unknown>[] {
  if (typeof value !== "object" || value === null) {
    return [];
  }
  const hosts = (value as Record<string, unknown>).hosts;
  if (!Array.isArray(hosts)) {
    return [];
  }
  return hosts.map((entry: unknown) =>
    typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>) : {},
  );
}
