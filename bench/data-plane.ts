/**
 * Data plane: TCP throughput and round-trip time between two hosts, over the plain underlay
 * and over each tunnel, with the kernel's own devices as a reference. All paths are measured
 * in rounds, one test per path per round, so that the load of the shared machine falls on
 * every path alike, and each figure is the median over the rounds.
 */
import { runIn, runIp } from "../src/lab/namespaces.js";
import { PHYSICAL_BRIDGE } from "../src/lab/names.js";
import type { Lab, LabHost } from "../src/lab/lab.js";
import type { TunnelMode, TunnelType } from "../src/plan/cluster.js";
import { createKernelReference } from "./kernel-reference.js";
import { createBenchLab } from "./labs.js";
import {
  measureRoundTrip,
  measureThroughput,
  warmUp,
  type Endpoint,
  type ThroughputOptions,
} from "./traffic.js";

/** One way between two endpoints that the benchmark measures. */
export interface DataPath {
  id: string;
  /** Description of what carries the traffic, for the report. */
  label: string;
  /** Datapath that forwards the packets: "kernel" or "OVS netdev". */
  datapath: string;
  client: Endpoint;
  server: Endpoint;
  /** Sets the routes that this path needs before each test. Absent when no route changes. */
  prepare?: () => Promise<void>;
}

/** The labs and namespaces that carry the paths. */
export interface DataPlaneBed {
  paths: DataPath[];
  /** The OVS labs, for tuning between measurement series. */
  labs: Lab[];
}

/** Settings of one measurement series. */
export interface SeriesOptions extends ThroughputOptions {
  rounds: number;
  pings: number;
  onProgress: (message: string) => void;
}

/** Figures of one path in one series. */
export interface PathFigures {
  id: string;
  /** Received rates in bit/s, one per round. */
  throughput: number[];
  /** TCP retransmissions, one count per round. */
  retransmits: number[];
  /** Average round-trip times in ms, one per round. */
  roundTrip: number[];
}

const TUNNEL_LABS: { tunnel: TunnelType; mode: TunnelMode }[] = [
  { tunnel: "gre", mode: "flow" },
  { tunnel: "gre", mode: "port" },
  { tunnel: "vxlan", mode: "flow" },
  { tunnel: "geneve", mode: "flow" },
];

/** Identifier of the reference path that the overlay's 80 % target is measured against. */
export const OVS_UNDERLAY_PATH = "ovs-underlay-hosts";
/** Identifier of the kernel underlay path, the reference of the kernel's own VXLAN. */
export const KERNEL_UNDERLAY_PATH = "kernel-underlay-hosts";

/**
 * Builds the kernel reference network, a lab without ovs-mesh whose hosts route container
 * traffic over br-phy, and one 2-host lab per tunnel type and mode.
 */
export async function buildDataPlane(onProgress: (message: string) => void): Promise<DataPlaneBed> {
  const paths: DataPath[] = [];
  const labs: Lab[] = [];

  onProgress("data plane: building the kernel reference namespaces");
  const kernel = await createKernelReference();
  paths.push(
    {
      id: KERNEL_UNDERLAY_PATH,
      label: "underlay, host to host (veth and Linux bridge)",
      datapath: "kernel",
      client: kernel.hosts[0],
      server: kernel.hosts[1],
    },
    {
      id: "kernel-routed-containers",
      label: "no tunnel, container to container, routed (flannel host-gw)",
      datapath: "kernel",
      client: kernel.containers[0],
      server: kernel.containers[1],
      prepare: kernel.useRoutes,
    },
    {
      id: "kernel-vxlan-containers",
      label: "kernel VXLAN device, container to container (flannel vxlan)",
      datapath: "kernel",
      client: kernel.containers[0],
      server: kernel.containers[1],
      prepare: kernel.useVxlan,
    },
  );

  onProgress("data plane: building lab b-dp-plain (no ovs-mesh, routes over br-phy)");
  const plain = await createBenchLab(
    { name: "b-dp-plain", hosts: 2, containers: 1, tunnel: "gre", mode: "flow" },
    { configure: false },
  );
  await routeOverUnderlay(plain);
  labs.push(plain);
  const [plain0, plain1] = twoHosts(plain);
  paths.push(
    {
      id: OVS_UNDERLAY_PATH,
      label: "underlay, host to host through br-phy",
      datapath: "OVS netdev",
      client: { namespace: plain0.namespace, address: plain0.underlayIp },
      server: { namespace: plain1.namespace, address: plain1.underlayIp },
    },
    {
      id: "ovs-routed-containers",
      label: "no tunnel, container to container, routed through br-phy",
      datapath: "OVS netdev",
      client: containerEndpoint(plain0),
      server: containerEndpoint(plain1),
    },
  );

  for (const { tunnel, mode } of TUNNEL_LABS) {
    const name = `b-dp-${tunnel}-${mode}`;
    onProgress(`data plane: building lab ${name}`);
    const lab = await createBenchLab({ name, hosts: 2, containers: 1, tunnel, mode });
    labs.push(lab);
    const [host0, host1] = twoHosts(lab);
    paths.push({
      id: `ovs-mesh-${tunnel}-${mode}`,
      label: `ovs-mesh ${tunnel.toUpperCase()}, ${mode} mode, container to container`,
      datapath: "OVS netdev",
      client: containerEndpoint(host0),
      server: containerEndpoint(host1),
    });
  }

  for (const path of paths) {
    await path.prepare?.();
    await warmUp(path.client, path.server);
  }
  return { paths, labs };
}

/** Measures every path once per round and returns the figures in the order of `paths`. */
export async function measureSeries(
  paths: readonly DataPath[],
  options: SeriesOptions,
): Promise<PathFigures[]> {
  const figures = paths.map(
    (path) => ({ id: path.id, throughput: [], retransmits: [], roundTrip: [] }) as PathFigures,
  );
  for (let round = 1; round <= options.rounds; round += 1) {
    for (const [index, path] of paths.entries()) {
      await path.prepare?.();
      const result = await measureThroughput(path.client, path.server, options);
      const rtt = await measureRoundTrip(path.client, path.server, options.pings);
      figures[index]?.throughput.push(result.bitsPerSecond);
      figures[index]?.retransmits.push(result.retransmits);
      figures[index]?.roundTrip.push(rtt);
      const rate = (result.bitsPerSecond / 1e9).toFixed(2);
      options.onProgress(
        `data plane: round ${round}/${options.rounds} ${path.id}: ${rate} Gbit/s, ${result.retransmits} retransmits, ${rtt.toFixed(3)} ms`,
      );
    }
  }
  return figures;
}

/**
 * Makes every frame reach the OVS lab hosts through ovs-vswitchd. A lab host's eth0 is a port
 * of br-phy, but the kernel still receives its frames too. By default it answers ARP requests for br-phy's
 * address on eth0 with eth0's MAC, so a peer's kernel may send to that MAC, and the host's
 * kernel then takes the frames straight from eth0, skipping OVS. With arp_ignore=8 eth0
 * answers no ARP, peers learn br-phy's MAC, and the kernel drops the copies it sees on eth0
 * as frames for another host. Tunnel traffic is not affected, because OVS resolves tunnel
 * next hops through br-phy itself.
 */
export async function receiveThroughOvs(bed: DataPlaneBed): Promise<void> {
  for (const host of bed.labs.flatMap((lab) => lab.hosts)) {
    await runIn(host.namespace, ["sysctl", "-q", "-w", "net.ipv4.conf.eth0.arp_ignore=8"]);
    await runIp(host.namespace, ["neighbour", "flush", "dev", PHYSICAL_BRIDGE]);
    await runIp(host.namespace, ["neighbour", "flush", "dev", "eth0"]);
  }
  for (const path of bed.paths.filter((candidate) => candidate.datapath !== "kernel")) {
    await path.prepare?.();
    await warmUp(path.client, path.server);
  }
}

/**
 * Lets the hosts of a lab without tunnels route each other's container subnets over
 * br-phy: each host forwards and has a route to the other's subnet via its underlay IP.
 */
async function routeOverUnderlay(lab: Lab): Promise<void> {
  const [first, second] = twoHosts(lab);
  for (const [host, peer] of [
    [first, second],
    [second, first],
  ] as const) {
    await runIn(host.namespace, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    await runIp(host.namespace, [
      "route",
      "replace",
      peer.subnet,
      "via",
      peer.underlayIp,
      "dev",
      PHYSICAL_BRIDGE,
    ]);
  }
}

function twoHosts(lab: Lab): [LabHost, LabHost] {
  const [first, second] = lab.hosts;
  if (first === undefined || second === undefined) {
    throw new Error(`lab ${lab.name} has fewer than two hosts`);
  }
  return [first, second];
}

function containerEndpoint(host: LabHost): Endpoint {
  const container = host.containers[0];
  if (container === undefined) {
    throw new Error(`lab host ${host.name} has no container`);
  }
  return { namespace: container.namespace, address: container.ip };
}
