import type { ClusterSettings, HostSpec } from "./cluster.js";
import { parseIpv4 } from "./ipv4.js";
import type { TunnelPort } from "./state.js";

/** Name of the single tunnel port in flow mode, such as "gre-flow". */
export function flowPortName(settings: Pick<ClusterSettings, "tunnel">): string {
  return `${settings.tunnel}-flow`;
}

/**
 * Name of the port-mode tunnel to a peer: the tunnel type and the peer's underlay IP in hex,
 * such as "gre-c6120003". Derived from the address, not the host name, so that it stays
 * within the 15 bytes of a Linux interface name; the peer's name is kept in external_ids.
 */
export function peerPortName(settings: Pick<ClusterSettings, "tunnel">, peer: HostSpec): string {
  const address = parseIpv4(peer.underlayIp);
  if (address === undefined) {
    throw new RangeError(`invalid underlay IP ${JSON.stringify(peer.underlayIp)} of ${peer.name}`);
  }
  return `${settings.tunnel}-${address.toString(16).padStart(8, "0")}`;
}

/** Tunnel ports of a host: one flow-based port, or one port per peer. */
export function planTunnels(
  settings: ClusterSettings,
  peers: readonly HostSpec[],
  bfd: boolean,
): TunnelPort[] {
  if (settings.mode === "flow") {
    return [
      {
        name: flowPortName(settings),
        type: settings.tunnel,
        options: { remote_ip: "flow" },
        bfd: {},
        peer: undefined,
      },
    ];
  }
  const bfdColumn: Record<string, string> = bfd ? { enable: "true" } : {};
  return peers.map((peer) => ({
    name: peerPortName(settings, peer),
    type: settings.tunnel,
    options: { remote_ip: peer.underlayIp },
    bfd: { ...bfdColumn },
    peer: peer.name,
  }));
}
