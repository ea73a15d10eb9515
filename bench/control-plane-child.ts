/**
 * The control-plane driver. The parent runs it inside the OVS instance's namespace with
 * `ip netns exec`, because `converge` reads and changes the Linux state of the namespace it
 * runs in. It configures one host for each peer count through `converge`, the code path of
 * `ovs-mesh apply` and the agent, and prints the measurements as one JSON object.
 */
import { countSpawns, takeSpawnCounts } from "./spawn-count.js";
import { converge } from "../src/agent/converge.js";
import { resetHost } from "../src/agent/reset.js";
import type { HostPaths } from "../src/agent/paths.js";
import type { TunnelMode } from "../src/plan/cluster.js";
import { syntheticCluster, syntheticHost } from "./fixtures.js";

/** Request that the parent passes as the only argument, in JSON. */
export interface ControlPlaneRequest {
  paths: HostPaths;
  mode: TunnelMode;
  /** Peer counts to configure, each from an empty host. */
  peerCounts: number[];
  /** Peer count at which one peer is added and then removed again. */
  incrementalAt: number;
}

/** One reconcile as measured. */
export interface ReconcileFigures {
  milliseconds: number;
  ovsdbRequests: number;
  /** External programs started, by name, such as { "ovs-ofctl": 2, ip: 3 }. */
  programs: Record<string, number>;
  /** Steps that the diff returned, 0 for a host that was converged already. */
  steps: number;
  /** OpenFlow rules of the desired state. */
  flows: number;
}

/** Figures for one peer count. */
export interface PeerCountFigures {
  peers: number;
  full: ReconcileFigures;
  /** A second reconcile right after the full one, which must find nothing to do. */
  noop: ReconcileFigures;
  add?: ReconcileFigures;
  remove?: ReconcileFigures;
}

async function measure(peers: number, request: ControlPlaneRequest): Promise<ReconcileFigures> {
  const cluster = syntheticCluster(peers + 1, request.mode);
  takeSpawnCounts();
  const started = performance.now();
  const result = await converge(cluster, syntheticHost(0).name, request.paths, { dryRun: false });
  const milliseconds = performance.now() - started;
  return {
    milliseconds,
    ovsdbRequests: result.ovsdbRequests,
    programs: takeSpawnCounts(),
    steps: result.steps.length,
    flows: result.desired.flows.length,
  };
}

async function measurePeerCount(
  peers: number,
  request: ControlPlaneRequest,
): Promise<PeerCountFigures> {
  const full = await measure(peers, request);
  const noop = await measure(peers, request);
  if (noop.steps !== 0) {
    throw new Error(`a second reconcile with ${peers} peers found ${noop.steps} steps, not 0`);
  }
  const figures: PeerCountFigures = { peers, full, noop };
  if (peers === request.incrementalAt) {
    figures.add = await measure(peers + 1, request);
    figures.remove = await measure(peers, request);
  }
  await resetHost(request.paths);
  return figures;
}

async function main(): Promise<void> {
  const argument = process.argv[2];
  if (argument === undefined) {
    throw new Error("usage: control-plane-child.js REQUEST_JSON");
  }
  const request = JSON.parse(argument) as ControlPlaneRequest;
  countSpawns();

  // The first reconcile of a process also loads modules and compiles hot code. `ovs-mesh
  // apply` pays that once per run and the agent once per start, so it is left out here.
  await measurePeerCount(10, { ...request, incrementalAt: -1 });

  const results: PeerCountFigures[] = [];
  for (const peers of request.peerCounts) {
    results.push(await measurePeerCount(peers, request));
    process.stderr.write(`control plane: ${request.mode} mode, ${peers} peers done\n`);
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

await main();
