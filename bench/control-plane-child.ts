/**
 * The control-plane driver. The parent runs it inside the OVS instance's namespace with
 * `ip netns exec`, because `converge` reads and changes the Linux state of the namespace it
 * runs in. It configures one host for each peer count through `converge`, the code path of
 * `ovs-mesh apply` and the agent, and prints the measurements as one JSON object.
 */
import { countSpawns, takeSpawnCounts } from "./spawn-count.js";
import { converge, type KnownHost } from "../src/agent/converge.js";
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
  /** One more peer and one fewer again, reading the whole host as `apply` and a resync do. */
  add?: ReconcileFigures;
  remove?: ReconcileFigures;
  /** The same from the last reconcile's known state, as the agent does on a store change. */
  addKnown?: ReconcileFigures;
  removeKnown?: ReconcileFigures;
}

interface Measured {
  figures: ReconcileFigures;
  known: KnownHost | undefined;
}

async function measure(
  peers: number,
  request: ControlPlaneRequest,
  known?: KnownHost,
): Promise<Measured> {
  const cluster = syntheticCluster(peers + 1, request.mode);
  takeSpawnCounts();
  const started = performance.now();
  const result = await converge(cluster, syntheticHost(0).name, request.paths, {
    dryRun: false,
    known,
  });
  const milliseconds = performance.now() - started;
  const figures = {
    milliseconds,
    ovsdbRequests: result.ovsdbRequests,
    programs: takeSpawnCounts(),
    steps: result.steps.length,
    flows: result.desired.flows.length,
  };
  return { figures, known: result.known };
}

/** Reads the whole host and fails unless it is converged for `peers` peers. */
async function checkConverged(
  peers: number,
  request: ControlPlaneRequest,
): Promise<KnownHost | undefined> {
  const { figures, known } = await measure(peers, request);
  if (figures.steps !== 0) {
    throw new Error(`a reconcile with ${peers} peers found ${figures.steps} steps, not 0`);
  }
  return known;
}

async function measurePeerCount(
  peers: number,
  request: ControlPlaneRequest,
): Promise<PeerCountFigures> {
  const full = (await measure(peers, request)).figures;
  const noop = (await measure(peers, request)).figures;
  if (noop.steps !== 0) {
    throw new Error(`a second reconcile with ${peers} peers found ${noop.steps} steps, not 0`);
  }
  const result: PeerCountFigures = { peers, full, noop };

  if (peers === request.incrementalAt) {
    result.add = (await measure(peers + 1, request)).figures;
    result.remove = (await measure(peers, request)).figures;

    // Each change from a known state is checked by a reconcile that reads everything.
    let known = await checkConverged(peers, request);
    const added = await measure(peers + 1, request, known);
    result.addKnown = added.figures;
    known = await checkConverged(peers + 1, request);
    const removed = await measure(peers, request, known);
    result.removeKnown = removed.figures;
    await checkConverged(peers, request);
  }
  await resetHost(request.paths);
  return result;
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
