import { parseIpv4 } from "../plan/ipv4.js";
import { innerMtu } from "../plan/mtu.js";
import { addNamespace, deviceMtu, runIp } from "./namespaces.js";
import { CONTAINER_DEVICE, containerVeth } from "./names.js";
import type { Lab, LabContainer, LabHost } from "./lab.js";

/** Linux bridge that a host's containers are attached to, named as Docker names it. */
export const DOCKER_BRIDGE = "docker0";

/**
 * Creates the host's docker0 the way Docker does when given `bip` and `mtu`, unless it
 * exists: with the gateway address of the host's subnet and the inner MTU of the lab's
 * tunnel type. `ovs-mesh apply` creates docker0 itself on a host without Docker, so this
 * only runs for hosts that were not configured. Returns docker0's MTU.
 */
export async function ensureDockerBridge(lab: Lab, host: LabHost): Promise<number> {
  const existing = await deviceMtu(host.namespace, DOCKER_BRIDGE);
  if (existing !== undefined) {
    return existing;
  }
  const mtu = innerMtu(lab.underlayMtu, lab.tunnel);
  const prefixLength = lab.subnetLength;
  await runIp(host.namespace, ["link", "add", DOCKER_BRIDGE, "type", "bridge"]);
  await runIp(host.namespace, [
    "address",
    "add",
    `${host.gateway}/${prefixLength}`,
    "dev",
    DOCKER_BRIDGE,
  ]);
  await runIp(host.namespace, ["link", "set", DOCKER_BRIDGE, "mtu", String(mtu), "up"]);
  return mtu;
}

/**
 * Returns the MAC address that Docker 20.10 gives a container on its default bridge: 02:42
 * followed by the four bytes of the IPv4 address. A container that comes back with its
 * address thus keeps its MAC, and other hosts' neighbor entries for it stay valid.
 */
export function containerMac(ip: string): string {
  const address = parseIpv4(ip);
  if (address === undefined) {
    throw new RangeError(`invalid container address ${JSON.stringify(ip)}`);
  }
  const bytes = [24, 16, 8, 0].map((shift) => ((address >>> shift) & 0xff).toString(16));
  return ["02", "42", ...bytes.map((byte) => byte.padStart(2, "0"))].join(":");
}

/**
 * Creates a container: a namespace with one veth whose other end is a port of the host's
 * docker0, the container's address in the host's subnet, and a default route via the
 * gateway. `mtu` is docker0's MTU, as Docker gives its containers.
 */
export async function createContainer(
  lab: Lab,
  host: LabHost,
  container: LabContainer,
  mtu: number,
): Promise<void> {
  const veth = containerVeth(container.name);
  await addNamespace(container.namespace);
  await runIp(host.namespace, [
    "link",
    "add",
    veth,
    "mtu",
    String(mtu),
    "type",
    "veth",
    "peer",
    "name",
    CONTAINER_DEVICE,
    "mtu",
    String(mtu),
    "address",
    containerMac(container.ip),
    "netns",
    container.namespace,
  ]);
  await runIp(host.namespace, ["link", "set", veth, "master", DOCKER_BRIDGE, "up"]);

  await runIp(container.namespace, [
    "address",
    "add",
    `${container.ip}/${lab.subnetLength}`,
    "dev",
    CONTAINER_DEVICE,
  ]);
  await runIp(container.namespace, ["link", "set", CONTAINER_DEVICE, "up"]);
  await runIp(container.namespace, ["route", "add", "default", "via", host.gateway]);
}
