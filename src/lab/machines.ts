import { parseCidr } from "../plan/ipv4.js";
import { addNamespace, runIp } from "./namespaces.js";
import { startOvs, vsctl, type OvsDaemon } from "./ovs-daemons.js";
import { HOST_UNDERLAY_DEVICE, PHYSICAL_BRIDGE, SWITCH_BRIDGE } from "./names.js";
import type { Lab, LabHost } from "./lab.js";

/** Creates the switch namespace with the Linux bridge that every host's underlay link joins. */
export async function createSwitch(lab: Lab): Promise<void> {
  await addNamespace(lab.switchNamespace);
  await runIp(lab.switchNamespace, ["link", "add", SWITCH_BRIDGE, "type", "bridge"]);
  await runIp(lab.switchNamespace, ["link", "set", SWITCH_BRIDGE, "up"]);
}

/**
 * Builds one lab host: its namespace, a veth to the switch, its own OVS daemons, and br-phy
 * with the underlay address.
 *
 * With the userspace (netdev) datapath, OVS encapsulates tunnel packets itself and sends
 * them by its own routing table, which it learns from the addresses and routes on its
 * bridges' internal ports. So the underlay address sits on br-phy, whose ports are the
 * internal port and the veth, and not on the veth.
 */
export async function createHost(
  lab: Lab,
  host: LabHost,
  onStarted: (daemon: OvsDaemon, pid: number) => Promise<void>,
): Promise<void> {
  await addNamespace(host.namespace);

  // The veth is created inside the switch namespace with its peer moved straight into the
  // host namespace, so that no device ever appears in the root namespace.
  await runIp(lab.switchNamespace, [
    "link",
    "add",
    host.name,
    "type",
    "veth",
    "peer",
    "name",
    HOST_UNDERLAY_DEVICE,
    "netns",
    host.namespace,
  ]);
  await runIp(lab.switchNamespace, ["link", "set", host.name, "master", SWITCH_BRIDGE, "up"]);
  await runIp(host.namespace, ["link", "set", HOST_UNDERLAY_DEVICE, "up"]);

  await startOvs(host, onStarted);

  await vsctl(host, [
    "--may-exist",
    "add-br",
    PHYSICAL_BRIDGE,
    "--",
    "set",
    "bridge",
    PHYSICAL_BRIDGE,
    "datapath_type=netdev",
    "--",
    "--may-exist",
    "add-port",
    PHYSICAL_BRIDGE,
    HOST_UNDERLAY_DEVICE,
  ]);
  await runIp(host.namespace, [
    "address",
    "add",
    `${host.underlayIp}/${underlayPrefixLength(lab)}`,
    "dev",
    PHYSICAL_BRIDGE,
  ]);
  await runIp(host.namespace, ["link", "set", PHYSICAL_BRIDGE, "up"]);
}

function underlayPrefixLength(lab: Lab): number {
  const network = parseCidr(lab.underlayNetwork);
  if (network === undefined) {
    throw new RangeError(`invalid underlay network ${lab.underlayNetwork} in lab ${lab.name}`);
  }
  return network.length;
}
