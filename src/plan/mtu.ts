import type { TunnelType } from "./cluster.js";

/** The smallest datagram every IPv4 host must accept (RFC 791); no inner MTU may be lower. */
export const MIN_INNER_MTU = 576;

/**
 * Bytes that encapsulation adds in front of an inner Ethernet payload, over an IPv4 underlay:
 * outer IPv4 header (20) + tunnel header + inner Ethernet header (14).
 * GRE: 4-byte base header; ovs-mesh sets no GRE key, checksum or sequence number, so the
 * optional 4-byte fields are absent. VXLAN and Geneve: UDP (8) + 8; ovs-mesh sends no
 * Geneve options.
 */
export const TUNNEL_OVERHEAD: Readonly<Record<TunnelType, number>> = {
  gre: 20 + 4 + 14,
  vxlan: 20 + 8 + 8 + 14,
  geneve: 20 + 8 + 8 + 14,
};

/** MTU left for containers when the underlay has `underlayMtu` and `tunnel` encapsulates. */
export function innerMtu(underlayMtu: number, tunnel: TunnelType): number {
  return underlayMtu - TUNNEL_OVERHEAD[tunnel];
}
