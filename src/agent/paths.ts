/** Where ovs-mesh finds Open vSwitch and keeps its own files on a host. */
export interface HostPaths {
  /** Unix socket of ovsdb-server. */
  ovsdbSocket: string;
  /** ovs-vswitchd's run directory, which holds the bridges' OpenFlow sockets (BRIDGE.mgmt). */
  ovsRunDir: string;
  /** Directory of ovs-mesh's own record of what it created on this host. */
  stateDir: string;
}

/** Paths of a Debian host with the openvswitch-switch package. */
export const DEFAULT_PATHS: HostPaths = {
  ovsdbSocket: "/var/run/openvswitch/db.sock",
  ovsRunDir: "/var/run/openvswitch",
  stateDir: "/var/lib/ovs-mesh",
};
