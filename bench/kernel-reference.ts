/**
 * A two-host reference network built only from kernel devices, in the benchmark's own
 * namespaces: a switch namespace with a Linux bridge, two host namespaces joined to it by
 * veths, and one container namespace per host behind a Linux bridge. Containers reach each
 * other either routed over the underlay (as flannel's host-gw backend does) or through the
 * kernel's VXLAN device (as flannel's vxlan backend does).
 */
import { runIn, runIp } from "../src/lab/namespaces.js";
import { createNamespace } from "./sandbox.js";
import type { Endpoint } from "./traffic.js";

/** Underlay of the reference network, which exists only inside its namespaces. */
const UNDERLAY_PREFIX = "198.19.0";
/** VXLAN network identifier and UDP port that flannel's vxlan backend uses by default. */
const VNI = "1";
const VXLAN_PORT = "8472";
/** Underlay MTU 1500 minus 50 bytes of VXLAN over IPv4, as flannel sets it. */
const INNER_MTU = 1450;

interface ReferenceHost {
  namespace: string;
  container: string;
  underlayIp: string;
  /** Subnet of the host's containers, such as 10.250.1.0/24. */
  subnet: string;
  containerIp: string;
  /** Address of the VXLAN device, the subnet's network address as flannel assigns it. */
  vxlanIp: string;
  vxlanMac: string;
}

/** The kernel reference network and its endpoints. */
export interface KernelReference {
  hosts: [Endpoint, Endpoint];
  containers: [Endpoint, Endpoint];
  /** Routes each host's traffic for the other's subnet over the plain underlay. */
  useRoutes(): Promise<void>;
  /** Routes each host's traffic for the other's subnet through the VXLAN device. */
  useVxlan(): Promise<void>;
}

/** Builds the reference network. The run's cleanup removes its namespaces. */
export async function createKernelReference(): Promise<KernelReference> {
  const switchNamespace = await createNamespace("kernel-sw");
  await runIp(switchNamespace, ["link", "add", "underlay", "type", "bridge"]);
  await runIp(switchNamespace, ["link", "set", "underlay", "up"]);

  const hosts: ReferenceHost[] = [];
  for (const index of [0, 1]) {
    hosts.push({
      namespace: await createNamespace(`kernel-h${index}`),
      container: await createNamespace(`kernel-c${index}`),
      underlayIp: `${UNDERLAY_PREFIX}.${10 + index}`,
      subnet: `10.250.${index + 1}.0/24`,
      containerIp: `10.250.${index + 1}.2`,
      vxlanIp: `10.250.${index + 1}.0`,
      vxlanMac: `02:00:00:00:00:0${index + 1}`,
    });
  }
  for (const [index, host] of hosts.entries()) {
    await buildHost(switchNamespace, `h${index}`, host);
  }
  const [first, second] = hosts;
  if (first === undefined || second === undefined) {
    throw new Error("the kernel reference needs two hosts");
  }
  await addVxlanPeer(first, second);
  await addVxlanPeer(second, first);

  const route = async (via: "underlay" | "vxlan") => {
    for (const [host, peer] of [
      [first, second],
      [second, first],
    ] as const) {
      const next =
        via === "underlay"
          ? ["via", peer.underlayIp, "dev", "eth0"]
          : ["via", peer.vxlanIp, "dev", "flannel.1", "onlink"];
      await runIp(host.namespace, ["route", "replace", peer.subnet, ...next]);
    }
  };
  return {
    hosts: [
      { namespace: first.namespace, address: first.underlayIp },
      { namespace: second.namespace, address: second.underlayIp },
    ],
    containers: [
      { namespace: first.container, address: first.containerIp },
      { namespace: second.container, address: second.containerIp },
    ],
    useRoutes: () => route("underlay"),
    useVxlan: () => route("vxlan"),
  };
}

async function buildHost(
  switchNamespace: string,
  port: string,
  host: ReferenceHost,
): Promise<void> {
  // Created in the switch namespace with the peer moved straight into the host, so that no
  // device ever appears in the root namespace.
  await runIp(switchNamespace, [
    "link",
    "add",
    port,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    host.namespace,
  ]);
  await runIp(switchNamespace, ["link", "set", port, "master", "underlay", "up"]);
  await runIp(host.namespace, ["address", "add", `${host.underlayIp}/24`, "dev", "eth0"]);
  await runIp(host.namespace, ["link", "set", "eth0", "up"]);
  await runIn(host.namespace, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);

  const gateway = host.subnet.replace(/\.0\/24$/, ".1");
  await runIp(host.namespace, ["link", "add", "cni0", "mtu", String(INNER_MTU), "type", "bridge"]);
  await runIp(host.namespace, ["address", "add", `${gateway}/24`, "dev", "cni0"]);
  await runIp(host.namespace, ["link", "set", "cni0", "up"]);
  await runIp(host.namespace, [
    "link",
    "add",
    "veth-c0",
    "mtu",
    String(INNER_MTU),
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "mtu",
    String(INNER_MTU),
    "netns",
    host.container,
  ]);
  await runIp(host.namespace, ["link", "set", "veth-c0", "master", "cni0", "up"]);
  await runIp(host.container, ["address", "add", `${host.containerIp}/24`, "dev", "eth0"]);
  await runIp(host.container, ["link", "set", "eth0", "up"]);
  await runIp(host.container, ["route", "add", "default", "via", gateway]);

  await runIp(host.namespace, [
    "link",
    "add",
    "flannel.1",
    "address",
    host.vxlanMac,
    "type",
    "vxlan",
    "id",
    VNI,
    "local",
    host.underlayIp,
    "dev",
    "eth0",
    "dstport",
    VXLAN_PORT,
    "nolearning",
  ]);
  await runIp(host.namespace, ["address", "add", `${host.vxlanIp}/32`, "dev", "flannel.1"]);
  await runIp(host.namespace, ["link", "set", "flannel.1", "up"]);
}

/** Adds the neighbour and forwarding entries for one peer, as flannel's vxlan backend does. */
async function addVxlanPeer(host: ReferenceHost, peer: ReferenceHost): Promise<void> {
  await runIp(host.namespace, [
    "neighbour",
    "replace",
    peer.vxlanIp,
    "lladdr",
    peer.vxlanMac,
    "dev",
    "flannel.1",
    "nud",
    "permanent",
  ]);
  await runIn(host.namespace, [
    "bridge",
    "fdb",
    "append",
    peer.vxlanMac,
    "dev",
    "flannel.1",
    "dst",
    peer.underlayIp,
  ]);
}
