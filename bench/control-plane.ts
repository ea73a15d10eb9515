/**
 * Control plane on one OVS instance: configures a host through `converge` for several peer
 * counts in flow and port mode, then adds the same tunnels the manual way, one `ovs-vsctl
 * add-port` call per peer, on the same instance.
 */
import { fileURLToPath } from "node:url";

import { run } from "../src/host/exec.js";
import { inNamespace } from "../src/lab/namespaces.js";
import type { TunnelMode } from "../src/plan/cluster.js";
import type { ControlPlaneRequest, PeerCountFigures } from "./control-plane-child.js";
import { syntheticHost } from "./fixtures.js";
import { createNamespace, startOvsInstance, type OvsInstance } from "./sandbox.js";

/** Settings of {@link measureControlPlane}. */
export interface ControlPlaneOptions {
  peerCounts: number[];
  incrementalAt: number;
  /** Ports that the manual method adds one call at a time, from an empty bridge. */
  manualPorts: number;
  /** Bridge sizes beyond `manualPorts` at which single calls are timed after a bulk fill. */
  manualSamplePoints: number[];
  /** Port counts to report for the manual method, measured or estimated. */
  manualTargets: number[];
  onProgress: (message: string) => void;
}

/** The manual method's total time for one port count. */
export interface ManualEstimate {
  ports: number;
  milliseconds: number;
  /** Origin of the total: every call timed, or read from the cost curve within or beyond it. */
  source: "measured" | "estimated" | "extrapolated";
}

/** Figures of the manual method. */
export interface ManualFigures {
  measuredPorts: number;
  /** Time of one add-port call (ms) against the ports already on the bridge. */
  costCurve: { ports: number; milliseconds: number }[];
  estimates: ManualEstimate[];
}

/** Figures of the whole control-plane section. */
export interface ControlPlaneFigures {
  modes: { mode: TunnelMode; counts: PeerCountFigures[] }[];
  manual: ManualFigures;
}

/** Calls over which the cost of one call is averaged, in the timed run and at each sample. */
const MANUAL_BATCH = 25;
const MANUAL_SAMPLES = 10;
/** Ports per ovs-vsctl transaction when a bridge is filled in bulk. */
const FILL_BATCH = 250;
const MODES: TunnelMode[] = ["flow", "port"];

/** Runs the control-plane section in a namespace and OVS instance of its own. */
export async function measureControlPlane(
  options: ControlPlaneOptions,
): Promise<ControlPlaneFigures> {
  const namespace = await createNamespace("cp");
  const instance = await startOvsInstance(namespace);

  const modes: ControlPlaneFigures["modes"] = [];
  for (const mode of MODES) {
    options.onProgress(`control plane: ${mode} mode, peers ${options.peerCounts.join(", ")}`);
    modes.push({ mode, counts: await runChild(instance, mode, options) });
  }
  options.onProgress(`control plane: manual method, ${options.manualPorts} ports`);
  const manual = await measureManual(instance, options);
  return { modes, manual };
}

async function runChild(
  instance: OvsInstance,
  mode: TunnelMode,
  options: ControlPlaneOptions,
): Promise<PeerCountFigures[]> {
  const request: ControlPlaneRequest = {
    paths: {
      ovsdbSocket: instance.dbSocket,
      ovsRunDir: instance.runDirectory,
      stateDir: instance.stateDirectory,
    },
    mode,
    peerCounts: options.peerCounts,
    incrementalAt: options.incrementalAt,
  };
  const child = fileURLToPath(new URL("./control-plane-child.js", import.meta.url));
  const { stdout } = await run(
    inNamespace(instance.namespace, [process.execPath, child, JSON.stringify(request)]),
    { env: instance.env, timeoutMs: 1_800_000 },
  );
  return JSON.parse(stdout) as PeerCountFigures[];
}

/**
 * The manual method, as an operator sets up a mesh by hand: one `ovs-vsctl add-port ... --
 * set interface ... type=gre options:remote_ip=...` per peer on a netdev bridge. Each call waits, as
 * ovs-vsctl does by default, until ovs-vswitchd has applied it, and costs more the more
 * ports the bridge has. The first `manualPorts` calls are timed one by one. For larger
 * bridges the bridge is filled in bulk, untimed, and a few single calls are timed at each
 * sample point. The total for N ports is the sum of the interpolated cost of each call.
 */
async function measureManual(
  instance: OvsInstance,
  options: ControlPlaneOptions,
): Promise<ManualFigures> {
  const bridge = "br-manual";
  await instance.vsctl([
    "add-br",
    bridge,
    "--",
    "set",
    "bridge",
    bridge,
    "datapath_type=netdev",
    "fail_mode=secure",
  ]);

  const elapsed: number[] = [0];
  const curve: ManualFigures["costCurve"] = [];
  let callStarted = performance.now();
  for (let port = 1; port <= options.manualPorts; port += 1) {
    await instance.vsctl(addPortArguments(bridge, port));
    const now = performance.now();
    elapsed.push((elapsed.at(-1) ?? 0) + (now - callStarted));
    callStarted = now;
    if (port % MANUAL_BATCH === 0) {
      const batch = (elapsed[port] ?? 0) - (elapsed[port - MANUAL_BATCH] ?? 0);
      curve.push({ ports: port - MANUAL_BATCH / 2, milliseconds: batch / MANUAL_BATCH });
    }
  }

  let ports = options.manualPorts;
  for (const point of options.manualSamplePoints.filter((p) => p > options.manualPorts)) {
    options.onProgress(`control plane: manual method, sampling calls at ${point} ports`);
    await fillBridge(instance, bridge, ports + 1, point - MANUAL_SAMPLES);
    ports = point - MANUAL_SAMPLES;
    const started = performance.now();
    for (let sample = 0; sample < MANUAL_SAMPLES; sample += 1) {
      ports += 1;
      await instance.vsctl(addPortArguments(bridge, ports));
    }
    curve.push({
      ports: ports - MANUAL_SAMPLES / 2,
      milliseconds: (performance.now() - started) / MANUAL_SAMPLES,
    });
  }
  await instance.vsctl(["del-br", bridge], 600_000);

  const estimates = options.manualTargets.map((target): ManualEstimate => {
    const measured = elapsed[target];
    if (measured !== undefined) {
      return { ports: target, milliseconds: measured, source: "measured" };
    }
    const last = Math.max(options.manualPorts, ...options.manualSamplePoints);
    const total =
      (elapsed[options.manualPorts] ?? 0) + sumCost(curve, options.manualPorts + 1, target);
    return {
      ports: target,
      milliseconds: total,
      source: target <= last ? "estimated" : "extrapolated",
    };
  });
  return { measuredPorts: options.manualPorts, costCurve: curve, estimates };
}

function addPortArguments(bridge: string, port: number): string[] {
  const name = `gre${port}`;
  const remote = syntheticHost(port).underlayIp;
  return [
    "add-port",
    bridge,
    name,
    "--",
    "set",
    "interface",
    name,
    "type=gre",
    `options:remote_ip=${remote}`,
  ];
}

/** Adds ports `from` to `to` in transactions of {@link FILL_BATCH} ports, untimed. */
async function fillBridge(
  instance: OvsInstance,
  bridge: string,
  from: number,
  to: number,
): Promise<void> {
  for (let first = from; first <= to; first += FILL_BATCH) {
    const args: string[] = [];
    for (let port = first; port <= Math.min(to, first + FILL_BATCH - 1); port += 1) {
      args.push(...(args.length === 0 ? [] : ["--"]), ...addPortArguments(bridge, port));
    }
    await instance.vsctl(args, 600_000);
  }
}

/**
 * Sums the cost of calls `from` to `to`, each read from the cost curve by linear
 * interpolation between its points, and by the line through the last two points beyond them.
 */
function sumCost(curve: ManualFigures["costCurve"], from: number, to: number): number {
  let total = 0;
  for (let port = from; port <= to; port += 1) {
    total += costAt(curve, port);
  }
  return total;
}

function costAt(curve: ManualFigures["costCurve"], port: number): number {
  // The segment that contains `port`: the first one below the curve, the last one beyond it.
  let index = curve.findIndex((point) => point.ports >= port);
  if (index === 0) {
    index = 1;
  } else if (index < 0) {
    index = curve.length - 1;
  }
  const left = curve[index - 1];
  const right = curve[index];
  if (left === undefined || right === undefined) {
    return curve[0]?.milliseconds ?? 0;
  }
  const slope = (right.milliseconds - left.milliseconds) / (right.ports - left.ports);
  return Math.max(0, left.milliseconds + slope * (port - left.ports));
}
