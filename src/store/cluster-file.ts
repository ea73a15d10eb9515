import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { ConfigError, parseCluster, type Cluster } from "../plan/cluster.js";

/** Reads and validates a YAML cluster file; every problem becomes a {@link ConfigError}. */
export async function readClusterFile(path: string): Promise<Cluster> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unknown error";
    throw new ConfigError(path, [
      { path: "(file)", message: `cannot read the cluster file (${code}); check --config` },
    ]);
  }
  return parseClusterText(text, path);
}

/** Parses and validates the text of a YAML cluster file. */
export function parseClusterText(text: string, source: string): Cluster {
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      source,
      document.errors.map((error) => ({
        path: `line ${error.linePos?.[0]?.line ?? "?"}`,
        message: `invalid YAML: ${yamlReason(error.message)}; fix the syntax`,
      })),
    );
  }
  let value: unknown;
  try {
    value = document.toJS();
  } catch (error) {
    // The yaml package (2.x) raises ReferenceError for an alias without its anchor and for aliases
    // that expand past its limit of 100, as in a "billion laughs" document.
    if (error instanceof ReferenceError) {
      throw new ConfigError(source, [
        { path: "(file)", message: `invalid YAML: ${error.message}; fix the aliases (*name)` },
      ]);
    }
    throw error;
  }
  return parseCluster(value, source);
}

/** The first line of a YAML parser message, without the position that the path already gives. */
function yamlReason(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "");
}
