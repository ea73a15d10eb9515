import { DEFAULT_PATHS, type HostPaths } from "../agent/paths.js";

/** Options that locate Open vSwitch and ovs-mesh's state on a host. */
export const HOST_OPTIONS = {
  ovsdb: { type: "string" },
  "ovs-rundir": { type: "string" },
  "state-dir": { type: "string" },
} as const;

export const HOST_OPTIONS_USAGE = `  --ovsdb SOCKET      ovsdb-server's unix socket (default ${DEFAULT_PATHS.ovsdbSocket})
  --ovs-rundir DIR    ovs-vswitchd's run directory with BRIDGE.mgmt (default ${DEFAULT_PATHS.ovsRunDir})
  --state-dir DIR     where ovs-mesh records what it created (default ${DEFAULT_PATHS.stateDir})`;

/** Builds host paths from parsed options, with Debian's defaults. */
export function hostPaths(values: {
  ovsdb?: string;
  "ovs-rundir"?: string;
  "state-dir"?: string;
}): HostPaths {
  return {
    ovsdbSocket: values.ovsdb ?? DEFAULT_PATHS.ovsdbSocket,
    ovsRunDir: values["ovs-rundir"] ?? DEFAULT_PATHS.ovsRunDir,
    stateDir: values["state-dir"] ?? DEFAULT_PATHS.stateDir,
  };
}
