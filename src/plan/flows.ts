import type { ClusterSettings, HostSpec } from "./cluster.js";
import type { Flow } from "./state.js";
import { flowPortName, peerPortName } from "./tunnels.js";

/** OpenFlow tables of the pipeline. */
export const TABLE_CLASSIFY = 0;
export const TABLE_INGRESS = 10;
export const TABLE_EGRESS = 20;

const PRIORITY_MATCH = 100;
const PRIORITY_DEFAULT = 0;

/**
 * OpenFlow pipeline of one host. Table 0 sends tunnel traffic to table 10 and local traffic
 * to table 20. Table 10 delivers to the host only what a known peer sends from its own
 * subnet. Table 20 sends to a peer only what comes from this host's subnet and is meant
 * for that peer's subnet. Nothing from a tunnel ever goes back into a tunnel, so the mesh
 * cannot loop, and every other packet is dropped.
 *
 * Actions are written as `ovs-ofctl dump-flows` prints them ("LOCAL", not "output:LOCAL")
 * so that the rules read back from the switch compare equal.
 */
export function planFlows(
  settings: ClusterSettings,
  self: HostSpec,
  peers: readonly HostSpec[],
): Flow[] {
  const flows: Flow[] = [];
  const add = (table: number, priority: number, match: string, actions: string) =>
    flows.push({ table, priority, match, actions });

  add(TABLE_CLASSIFY, PRIORITY_MATCH, "in_port=LOCAL", `goto_table:${TABLE_EGRESS}`);
  if (settings.mode === "flow") {
    add(TABLE_CLASSIFY, PRIORITY_MATCH, `in_port=${flowPortName(settings)}`, gotoIngress());
  } else {
    for (const peer of peers) {
      add(TABLE_CLASSIFY, PRIORITY_MATCH, `in_port=${peerPortName(settings, peer)}`, gotoIngress());
    }
  }
  add(TABLE_CLASSIFY, PRIORITY_DEFAULT, "", "drop");

  for (const peer of peers) {
    const from =
      settings.mode === "flow"
        ? `tun_src=${peer.underlayIp}`
        : `in_port=${peerPortName(settings, peer)}`;
    add(TABLE_INGRESS, PRIORITY_MATCH, `ip,${from},nw_src=${peer.subnet}`, "LOCAL");
    add(TABLE_INGRESS, PRIORITY_MATCH, `arp,${from},arp_spa=${peer.subnet}`, "LOCAL");
  }
  add(TABLE_INGRESS, PRIORITY_DEFAULT, "", "drop");

  for (const peer of peers) {
    const send =
      settings.mode === "flow"
        ? `set_field:${peer.underlayIp}->tun_dst,output:${flowPortName(settings)}`
        : `output:${peerPortName(settings, peer)}`;
    add(TABLE_EGRESS, PRIORITY_MATCH, `ip,nw_src=${self.subnet},nw_dst=${peer.subnet}`, send);
    add(TABLE_EGRESS, PRIORITY_MATCH, `arp,arp_spa=${self.subnet},arp_tpa=${peer.subnet}`, send);
  }
  add(TABLE_EGRESS, PRIORITY_DEFAULT, "", "drop");

  return flows;
}

function gotoIngress(): string {
  return `goto_table:${TABLE_INGRESS}`;
}

/**
 * Key that identifies a rule within a bridge in OpenFlow terms (table, priority, match),
 * with match fields sorted so that the order in which they were written does not matter.
 */
export function flowKey(flow: Flow): string {
  const fields = flow.match === "" ? [] : flow.match.split(",").sort();
  return `table=${flow.table},priority=${flow.priority},${fields.join(",")}`;
}
