import { stat } from "node:fs/promises";
import { DEFAULT_PATHS, type HostPaths } from "../agent/paths.js";
import { UsageError } from "./command.js";

/** Options that locate Open vSwitch and ovs-mesh's state on a host. */
export const HOST_OPTIONS = {
  ovsdb: { type: "string" },
  "ovs-rundir": { type: "string" },
  "state-dir": { type: "string" },
} as const;

export const HOST_OPTIONS_USAGE = `  --ovsdb SOCKET      ovsdb-server's unix socket (default $OVS_RUNDIR/db.sock when
                      OVS_RUNDIR is set, else ${DEFAULT_PATHS.ovsdbSocket})
  --ovs-rundir DIR    ovs-vswitchd's run directory with BRIDGE.mgmt (default $OVS_RUNDIR,
                      else ${DEFAULT_PATHS.ovsRunDir})
  --state-dir DIR     where ovs-mesh records what it created (default $OVS_MESH_STATE_DIR,
                      else ${DEFAULT_PATHS.stateDir})`;

/**
 * Builds host paths from parsed options. Absent options fall back to the environment, as the
 * OVS tools do with OVS_RUNDIR, and then to Debian's defaults.
 */
export function hostPaths(
  values: { ovsdb?: string; "ovs-rundir"?: string; "state-dir"?: string },
  env: NodeJS.ProcessEnv = process.env,
): HostPaths {
  const runDir = env.OVS_RUNDIR || undefined;
  return {
    ovsdbSocket: values.ovsdb ?? (runDir ? `${runDir}/db.sock` : DEFAULT_PATHS.ovsdbSocket),
    ovsRunDir: values["ovs-rundir"] ?? runDir ?? DEFAULT_PATHS.ovsRunDir,
    stateDir: values["state-dir"] ?? (env.OVS_MESH_STATE_DIR || DEFAULT_PATHS.stateDir),
  };
}

/**
 * Raises a {@link UsageError} unless --ovs-rundir is a directory. ovs-mesh reaches a bridge's
 * OpenFlow rules through a socket in that directory, after it has created the bridge in
 * OVSDB, so a wrong directory would leave a new bridge without rules behind.
 */
export async function checkOvsRunDir(paths: HostPaths): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(paths.ovsRunDir)).isDirectory();
  } catch (error) {
    if (error instanceof Error && "code" in error && typeof error.code === "string") {
      throw new UsageError(
        `invalid --ovs-rundir ${JSON.stringify(paths.ovsRunDir)}: ${error.code}; pass the run directory of ovs-vswitchd, which contains BRIDGE.mgmt`,
      );
    }
    throw error;
  }
  if (!isDirectory) {
    throw new UsageError(
      `invalid --ovs-rundir ${JSON.stringify(paths.ovsRunDir)}: not a directory; pass the run directory of ovs-vswitchd, which contains BRIDGE.mgmt`,
    );
  }
}
