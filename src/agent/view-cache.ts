import { readFileIfExists, writeFileAtomic } from "../host/atomic-file.js";
import { join } from "node:path";
import { makeDirectory } from "../host/directory.js";
import { ConfigError, parseCluster, type Cluster } from "../plan/cluster.js";

const FILE_NAME = "cluster.json";

/**
 * Reads the last cluster view that the agent applied, so that after a reboot it can restore
 * the data plane while the store is still unreachable. Undefined when there is none; a
 * cache that fails validation is an error, like any other input.
 */
export async function readCachedCluster(stateDir: string): Promise<Cluster | undefined> {
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
      throw new ConfigError(path, [
        {
          path: "(file)",
          message: `invalid JSON (${error.message}); remove the file, the agent writes it again`,
        },
      ]);
    }
    throw error;
  }
  return parseCluster(value, path);
}

/** Writes the cluster view atomically. */
export async function writeCachedCluster(stateDir: string, cluster: Cluster): Promise<void> {
  await makeDirectory(stateDir);
  const path = join(stateDir, FILE_NAME);
  const { underlayMtu, ...rest } = cluster;
  const document = underlayMtu === undefined ? rest : { ...rest, underlayMtu };
  await writeFileAtomic(path, `${JSON.stringify(toFileShape(document), null, 2)}\n`);
}

/** The cluster in the shape of a cluster file, so that parseCluster reads it back. */
function toFileShape(cluster: Omit<Cluster, "underlayMtu"> & { underlayMtu?: number }) {
  const { ovsBridge, linuxBridge, ...rest } = cluster;
  return { ...rest, bridges: { ovs: ovsBridge, linux: linuxBridge } };
}
