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
import { fitLine, sumLinearCost } from "./stats.js";

/** Settings of {@link measureControlPlane}. */
export interface ControlPlaneOptions {
  peerCounts: number[];
  incrementalAt: number;
  /** Ports that the manual method really adds. Larger counts are extrapolated. */
  manualPorts: number;
  /** Port counts to report for the manual method, measured or extrapolated. */
  manualTargets: number[];
  onProgress: (message: string) => void;
}

/** The manual method's time for one port count. */
export interface ManualEstimate {
  ports: number;
  milliseconds: number;
  /** True when fewer ports were added and the time comes from the fitted cost per port. */
  extrapolated: boolean;
}

/** Figures of the manual method. */
export interface ManualFigures {
  measuredPorts: number;
  /** Time of the k-th call, fitted as a + b k, in ms. */
  fit: { a: number; b: number };
  estimates: ManualEstimate[];
}

/** Figures of the whole control-plane section. */
export interface ControlPlaneFigures {
  modes: { mode: TunnelMode; counts: PeerCountFigures[] }[];
  manual: ManualFigures;
}

/** Ports added between two time stamps of the manual method. */
const MANUAL_BATCH = 25;
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
 * The manual method of the original design: one `ovs-vsctl add-port ... -- set interface
 * ... type=gre options:remote_ip=...` per peer on a netdev bridge. Each call waits, as
 * ovs-vsctl does by default, until ovs-vswitchd has applied it.
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
  const points: { x: number; y: number }[] = [];
  const started = performance.now();
  let batchStarted = started;
  for (let port = 1; port <= options.manualPorts; port += 1) {
    const name = `gre${port}`;
    const remote = syntheticHost(port).underlayIp;
    await instance.vsctl([
      "add-port",
      bridge,
      name,
      "--",
      "set",
      "interface",
      name,
      "type=gre",
      `options:remote_ip=${remote}`,
    ]);
    const now = performance.now();
    elapsed.push(now - started);
    if (port % MANUAL_BATCH === 0) {
      points.push({ x: port - (MANUAL_BATCH - 1) / 2, y: (now - batchStarted) / MANUAL_BATCH });
      batchStarted = now;
    }
  }
  await instance.vsctl(["del-br", bridge]);

  const fit = fitLine(points);
  const estimates = options.manualTargets.map((ports): ManualEstimate => {
    const measured = elapsed[ports];
    if (measured !== undefined) {
      return { ports, milliseconds: measured, extrapolated: false };
    }
    return { ports, milliseconds: sumLinearCost(fit, ports), extrapolated: true };
  });
  return { measuredPorts: options.manualPorts, fit, estimates };
}
