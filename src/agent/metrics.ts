import { TABLE_INGRESS } from "../plan/flows.js";
import type { DesiredHost } from "../plan/state.js";

/** The last probe of one peer through the overlay. */
export interface PeerProbe {
  /** Whether the peer's gateway replied to the last probe. */
  healthy: boolean;
  /** Round-trip time of the last probe; undefined when the peer did not reply. */
  rttSeconds: number | undefined;
  /** When `healthy` last changed (or was first set), in milliseconds since the epoch. */
  lastChange: number;
}

/** Counters and gauges of one agent, rendered in the Prometheus text format. */
export class AgentMetrics {
  reconciles = 0;
  reconcileErrors = 0;
  reconcileSecondsSum = 0;
  lastReconcileSeconds = 0;
  peers = 0;
  flows = 0;
  storeConnected = false;
  /** Probe results by peer name, from the last probe of each peer through the overlay. */
  readonly probes = new Map<string, PeerProbe>();

  recordReconcile(durationMs: number, error: unknown, desired: DesiredHost | undefined): void {
    this.reconciles += 1;
    this.reconcileSecondsSum += durationMs / 1000;
    this.lastReconcileSeconds = durationMs / 1000;
    if (error !== undefined) {
      this.reconcileErrors += 1;
    }
    if (desired !== undefined) {
      this.flows = desired.flows.length;
      // Both modes have one IP ingress rule per peer. Flow mode has one tunnel port for all
      // peers, so the ports do not count them.
      this.peers = desired.flows.filter(
        (flow) => flow.table === TABLE_INGRESS && flow.match.startsWith("ip,"),
      ).length;
    }
  }

  /** The metrics in the Prometheus text exposition format (version 0.0.4). */
  render(host: string): string {
    const label = `host="${escapeLabel(host)}"`;
    const lines = [
      "# HELP ovs_mesh_peers Peer hosts in the cluster view.",
      "# TYPE ovs_mesh_peers gauge",
      `ovs_mesh_peers{${label}} ${this.peers}`,
      "# HELP ovs_mesh_flows OpenFlow rules that ovs-mesh installed.",
      "# TYPE ovs_mesh_flows gauge",
      `ovs_mesh_flows{${label}} ${this.flows}`,
      "# HELP ovs_mesh_reconciles_total Reconciles run.",
      "# TYPE ovs_mesh_reconciles_total counter",
      `ovs_mesh_reconciles_total{${label}} ${this.reconciles}`,
      "# HELP ovs_mesh_reconcile_errors_total Reconciles that failed.",
      "# TYPE ovs_mesh_reconcile_errors_total counter",
      `ovs_mesh_reconcile_errors_total{${label}} ${this.reconcileErrors}`,
      "# HELP ovs_mesh_reconcile_duration_seconds Time spent reconciling.",
      "# TYPE ovs_mesh_reconcile_duration_seconds summary",
      `ovs_mesh_reconcile_duration_seconds_sum{${label}} ${this.reconcileSecondsSum}`,
      `ovs_mesh_reconcile_duration_seconds_count{${label}} ${this.reconciles}`,
      "# HELP ovs_mesh_store_connected Whether the last request to the store succeeded.",
      "# TYPE ovs_mesh_store_connected gauge",
      `ovs_mesh_store_connected{${label}} ${this.storeConnected ? 1 : 0}`,
      "# HELP ovs_mesh_tunnel_healthy Whether the peer answered the last probe through the overlay.",
      "# TYPE ovs_mesh_tunnel_healthy gauge",
    ];
    for (const [peer, probe] of this.probes) {
      lines.push(
        `ovs_mesh_tunnel_healthy{${label},peer="${escapeLabel(peer)}"} ${probe.healthy ? 1 : 0}`,
      );
    }
    lines.push(
      "# HELP ovs_mesh_probe_rtt_seconds Round-trip time of the last probe through the overlay.",
      "# TYPE ovs_mesh_probe_rtt_seconds gauge",
    );
    for (const [peer, probe] of this.probes) {
      if (probe.rttSeconds !== undefined) {
        lines.push(
          `ovs_mesh_probe_rtt_seconds{${label},peer="${escapeLabel(peer)}"} ${probe.rttSeconds}`,
        );
      }
    }
    lines.push(
      "# HELP ovs_mesh_probe_last_change_seconds When the peer's probe result last changed, as Unix time.",
      "# TYPE ovs_mesh_probe_last_change_seconds gauge",
    );
    for (const [peer, probe] of this.probes) {
      lines.push(
        `ovs_mesh_probe_last_change_seconds{${label},peer="${escapeLabel(peer)}"} ${probe.lastChange / 1000}`,
      );
    }
    return `${lines.join("\n")}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
