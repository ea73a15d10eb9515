/**
 * The planning driver. It builds a synthetic cluster of the requested size and measures
 * validation (parseCluster), planning (planHost) and the diff (diffHost) in this process
 * alone, so that the process's peak RSS belongs to this size. Run it with --expose-gc; it
 * prints JSON.
 */
import { parseCluster, type Cluster, type TunnelMode } from "../src/plan/cluster.js";
import { diffHost, type ActualHost } from "../src/plan/diff.js";
import { planHost, type HostFacts } from "../src/plan/host.js";
import { FORWARD_CHAIN, NAT_CHAIN, type DesiredHost } from "../src/plan/state.js";
import { syntheticCluster } from "./fixtures.js";
import { median } from "./stats.js";

/** Request that the parent passes as the only argument, in JSON. */
export interface PlanningRequest {
  hosts: number;
  mode: TunnelMode;
  repeats: number;
}

/** Figures of one cluster size. */
export interface PlanningFigures {
  hosts: number;
  mode: TunnelMode;
  flows: number;
  tunnels: number;
  /** Median milliseconds of each step over the repeats. */
  parseMs: number;
  planMs: number;
  /** Diff against a host with nothing configured. */
  diffEmptyMs: number;
  /** Diff against a host that has every peer but the last one. */
  diffOneMs: number;
  /** Heap that the planned state keeps alive, measured after garbage collection. */
  planHeapBytes: number;
  /** Resident set size before planning (Node and the cluster) and the peak of the process. */
  rssBeforeBytes: number;
  peakRssBytes: number;
}

const FACTS: HostFacts = { datapathTypes: ["netdev"], underlayMtu: 1500 };
const SELF = "host0";

function collectGarbage(): void {
  if (typeof globalThis.gc !== "function") {
    throw new Error("run the planning driver with node --expose-gc");
  }
  globalThis.gc();
}

function time<T>(repeats: number, action: () => T): { ms: number; value: T } {
  const samples: number[] = [];
  let value = action();
  for (let i = 0; i < repeats; i += 1) {
    const started = performance.now();
    value = action();
    samples.push(performance.now() - started);
  }
  return { ms: median(samples), value };
}

/** Returns the state that the host drivers would read from a host after `desired` was applied. */
function convergedHost(desired: DesiredHost): ActualHost {
  const { bridge, address, mtu, route, sysctls, forwardRules, natRules } = desired.linux;
  const ovsBridge = desired.ovs.bridge;
  return {
    ovs: {
      datapathTypes: FACTS.datapathTypes.slice(),
      bridge: {
        bridge: ovsBridge,
        datapathType: desired.ovs.datapathType,
        failMode: desired.ovs.failMode,
        internalMtu: desired.ovs.internalMtu,
        managed: true,
      },
      tunnels: desired.ovs.tunnels,
      foreignPorts: [],
    },
    flows: desired.flows,
    linux: {
      links: {
        [bridge]: { mtu, up: true, kind: "bridge", master: undefined, addresses: [address] },
        [ovsBridge]: { mtu, up: true, kind: "tun", master: bridge, addresses: [] },
      },
      routes: [{ destination: route, device: bridge }],
      sysctls: { ...sysctls },
      chains: { filter: { [FORWARD_CHAIN]: forwardRules }, nat: { [NAT_CHAIN]: natRules } },
      jumps: { forward: true, postrouting: true },
      jumpsFirst: { forward: true, postrouting: true },
    },
  };
}

function emptyHost(): ActualHost {
  return {
    ovs: {
      datapathTypes: FACTS.datapathTypes.slice(),
      bridge: undefined,
      tunnels: [],
      foreignPorts: [],
    },
    flows: [],
    linux: {
      links: {},
      routes: [],
      sysctls: {},
      chains: { filter: {}, nat: {} },
      jumps: { forward: false, postrouting: false },
      jumpsFirst: { forward: false, postrouting: false },
    },
  };
}

function measure(request: PlanningRequest): PlanningFigures {
  const cluster = syntheticCluster(request.hosts, request.mode);
  const document = JSON.parse(JSON.stringify(cluster)) as Record<string, unknown>;
  delete document.ovsBridge;
  delete document.linuxBridge;
  const fewer: Cluster = { ...cluster, hosts: cluster.hosts.slice(0, -1) };

  collectGarbage();
  const rssBeforeBytes = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  let desired = planHost(cluster, SELF, FACTS);
  collectGarbage();
  const planHeapBytes = process.memoryUsage().heapUsed - heapBefore;

  const parse = time(request.repeats, () => parseCluster(document, "benchmark"));
  const plan = time(request.repeats, () => planHost(cluster, SELF, FACTS));
  desired = plan.value;
  const empty = emptyHost();
  const almost = convergedHost(planHost(fewer, SELF, FACTS));
  const diffEmpty = time(request.repeats, () => diffHost(desired, empty));
  const diffOne = time(request.repeats, () => diffHost(desired, almost));
  if (parse.value.hosts.length !== request.hosts || diffOne.value.length === 0) {
    throw new Error(`planning ${request.hosts} hosts gave unexpected results`);
  }

  return {
    hosts: request.hosts,
    mode: request.mode,
    flows: desired.flows.length,
    tunnels: desired.ovs.tunnels.length,
    parseMs: parse.ms,
    planMs: plan.ms,
    diffEmptyMs: diffEmpty.ms,
    diffOneMs: diffOne.ms,
    planHeapBytes,
    rssBeforeBytes,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

const argument = process.argv[2];
if (argument === undefined) {
  throw new Error("usage: node --expose-gc planning-child.js REQUEST_JSON");
}
process.stdout.write(`${JSON.stringify(measure(JSON.parse(argument) as PlanningRequest))}\n`);
