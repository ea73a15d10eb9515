import { dumpFlowStats, type FlowStats } from "../host/flow-stats.js";
import { managementTarget } from "../host/openflow.js";
import { OvsdbClient } from "../host/ovsdb.js";
import { readInterfaceStats, type InterfaceStats } from "../host/ovs.js";
import { TABLE_EGRESS, TABLE_INGRESS } from "../plan/flows.js";
import { peerPortName } from "../plan/tunnels.js";
import { errorMessage } from "./log.js";
import type { HostPaths } from "./paths.js";
import {
  readStatusFile,
  statusFilePath,
  type Health,
  type PeerStatus,
  type StatusFile,
} from "./status-file.js";

/** Packets and bytes exchanged with one peer; null where OVS gave no counter. */
export interface PeerCounters {
  rxPackets: number | null;
  rxBytes: number | null;
  txPackets: number | null;
  txBytes: number | null;
}

/** One peer in `ovs-mesh status`. */
export interface PeerReport extends PeerStatus {
  /** Source of `health`: BFD on the peer's port (port mode) or the agent's probes. */
  healthSource: "bfd" | "probe";
  /** The port-mode tunnel port of the peer; null in flow mode. */
  port: string | null;
  counters: PeerCounters;
}

/** Everything `ovs-mesh status` shows. */
export interface StatusReport {
  host: string;
  subnet: string;
  gateway: string;
  innerMtu: number;
  datapath: StatusFile["datapath"];
  tunnel: StatusFile["tunnel"];
  mode: StatusFile["mode"];
  ovsBridge: string;
  statusFile: string;
  statusUpdatedAt: string;
  /** Seconds since the agent last wrote the status file. */
  statusAgeSeconds: number;
  /** Whether the status file is too old for its probe results to count. */
  stale: boolean;
  probeIntervalSeconds: number;
  /** Whether OVS could be read; null error when it could. */
  ovs: { reachable: boolean; error: string | null };
  peers: PeerReport[];
}

/** Counters and BFD state that OVS reports now; undefined parts could not be read. */
export interface LiveData {
  /** Tunnel interface statistics and BFD state by port name (port mode). */
  ports: Record<string, InterfaceStats> | undefined;
  /** ovs-mesh's rules with counters (flow mode). */
  flows: FlowStats[] | undefined;
  error: string | undefined;
}

/** A status file older than this many probe intervals no longer shows the peers' health. */
const STALE_INTERVALS = 3;
/** Slack on top of the intervals, for a slow round or a reconcile in progress. */
const STALE_SLACK_SECONDS = 30;

/** Returns whether a status file of this age has outlived its probe results. */
export function isStale(ageSeconds: number, probeIntervalSeconds: number): boolean {
  if (probeIntervalSeconds <= 0) {
    return false;
  }
  return ageSeconds > STALE_INTERVALS * probeIntervalSeconds + STALE_SLACK_SECONDS;
}

/**
 * Combines the agent's status file with live OVS data. In port mode, health is the BFD state
 * of the peer's tunnel port, and the counters are the port's. In flow mode, health is the
 * agent's last probe, and the counters are those of the peer's rules. Received traffic is
 * counted by the table 10 rules that match its underlay IP, and sent traffic by the table 20
 * rules for its subnet.
 */
export function buildStatusReport(
  status: StatusFile,
  live: LiveData,
  now: number,
  statusFile: string,
): StatusReport {
  const ageSeconds = Math.max(0, Math.round((now - Date.parse(status.updatedAt)) / 1000));
  const stale = isStale(ageSeconds, status.probeIntervalSeconds);
  const peers = status.peers.map((peer): PeerReport => {
    if (status.mode === "port") {
      const port = peerPortName(status, peer);
      const stats = live.ports?.[port];
      return {
        ...peer,
        health: bfdHealth(stats),
        healthSource: "bfd",
        port,
        counters: portCounters(stats),
      };
    }
    return {
      ...peer,
      health: stale ? "unknown" : peer.health,
      healthSource: "probe",
      port: null,
      counters: live.flows === undefined ? NO_COUNTERS : flowCounters(peer, live.flows),
    };
  });
  return {
    host: status.host,
    subnet: status.subnet,
    gateway: status.gateway,
    innerMtu: status.innerMtu,
    datapath: status.datapath,
    tunnel: status.tunnel,
    mode: status.mode,
    ovsBridge: status.ovsBridge,
    statusFile,
    statusUpdatedAt: status.updatedAt,
    statusAgeSeconds: ageSeconds,
    stale,
    probeIntervalSeconds: status.probeIntervalSeconds,
    ovs: { reachable: live.error === undefined, error: live.error ?? null },
    peers,
  };
}

const NO_COUNTERS: PeerCounters = {
  rxPackets: null,
  rxBytes: null,
  txPackets: null,
  txBytes: null,
};

/** Health from a port's bfd_status: "up" is up, any other state down, no state unknown. */
export function bfdHealth(stats: InterfaceStats | undefined): Health {
  const state = stats?.bfdStatus.state;
  if (state === undefined) {
    return "unknown";
  }
  return state === "up" ? "up" : "down";
}

function portCounters(stats: InterfaceStats | undefined): PeerCounters {
  return {
    rxPackets: stats?.rxPackets ?? null,
    rxBytes: stats?.rxBytes ?? null,
    txPackets: stats?.txPackets ?? null,
    txBytes: stats?.txBytes ?? null,
  };
}

/** Sums the counters of the rules that carry traffic from and to one peer (flow mode). */
export function flowCounters(
  peer: Pick<PeerStatus, "underlayIp" | "subnet">,
  flows: readonly FlowStats[],
): PeerCounters {
  const counters = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 };
  for (const { flow, packets, bytes } of flows) {
    const fields = flow.match.split(",");
    if (flow.table === TABLE_INGRESS && fields.includes(`tun_src=${peer.underlayIp}`)) {
      counters.rxPackets += packets;
      counters.rxBytes += bytes;
    } else if (
      flow.table === TABLE_EGRESS &&
      (fields.includes(`nw_dst=${peer.subnet}`) || fields.includes(`arp_tpa=${peer.subnet}`))
    ) {
      counters.txPackets += packets;
      counters.txBytes += bytes;
    }
  }
  return counters;
}

/** Raised when there is no status file to report on. */
export class NoStatusError extends Error {
  constructor(readonly path: string) {
    super(
      `no status file at ${path}: start the agent (ovs-mesh agent) with the same --state-dir, or pass the --state-dir that the agent uses`,
    );
    this.name = "NoStatusError";
  }
}

/** Reads the agent's status file and the live OVS data that goes with it. */
export async function collectStatus(paths: HostPaths, now = Date.now()): Promise<StatusReport> {
  const path = statusFilePath(paths.stateDir);
  const status = await readStatusFile(path);
  if (status === undefined) {
    throw new NoStatusError(path);
  }
  return buildStatusReport(status, await readLiveData(status, paths), now, path);
}

async function readLiveData(status: StatusFile, paths: HostPaths): Promise<LiveData> {
  try {
    if (status.mode === "flow") {
      const target = managementTarget(paths.ovsRunDir, status.ovsBridge);
      return { ports: undefined, flows: await dumpFlowStats(target), error: undefined };
    }
    const client = await OvsdbClient.connect(paths.ovsdbSocket, { timeoutMs: 5000 });
    try {
      const names = status.peers.map((peer) => peerPortName(status, peer));
      return { ports: await readInterfaceStats(client, names), flows: undefined, error: undefined };
    } finally {
      client.close();
    }
  } catch (error) {
    return { ports: undefined, flows: undefined, error: errorMessage(error) };
  }
}
