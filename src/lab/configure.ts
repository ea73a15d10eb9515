import { rename, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { runIn } from "./namespaces.js";
import { hostStateDirectory, ovsEnvironment } from "./ovs-daemons.js";
import type { Lab, LabHost } from "./lab.js";
import { clusterDocument } from "./topology.js";

/** Time that one `ovs-mesh apply` may take on a lab host. */
const APPLY_TIMEOUT_MS = 120_000;

/** Returns the path of this checkout's `ovs-mesh` launcher, relative to dist/src/lab/configure.js. */
export function ovsMeshBinary(): string {
  return fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));
}

/** Writes the lab's cluster file (YAML), which every host is configured from. */
export async function writeClusterFile(lab: Lab): Promise<void> {
  const temporary = `${lab.clusterFile}.tmp`;
  await writeFile(temporary, stringify(clusterDocument(lab)), { mode: 0o644 });
  await rename(temporary, lab.clusterFile);
}

/**
 * Returns the command that configures one lab host, as an operator would run it on a real
 * host: `ovs-mesh apply` inside the host's namespace, pointed at the host's own OVS.
 */
export function applyCommand(lab: Lab, host: LabHost): string[] {
  return [
    process.execPath,
    ovsMeshBinary(),
    "apply",
    "--config",
    lab.clusterFile,
    "--host",
    host.name,
    "--ovsdb",
    host.dbSocket,
    "--ovs-rundir",
    host.runDirectory,
    // Each lab host keeps its own record of what apply created, as separate machines would.
    "--state-dir",
    hostStateDirectory(host),
  ];
}

/** Configures one lab host by running {@link applyCommand} inside its namespace. */
export async function configureHost(lab: Lab, host: LabHost): Promise<void> {
  await runIn(host.namespace, applyCommand(lab, host), {
    env: ovsEnvironment(host),
    timeoutMs: APPLY_TIMEOUT_MS,
  });
}
