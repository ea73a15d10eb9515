/** An IPv4 network: base address as a 32-bit unsigned number and prefix length. */
export interface Ipv4Network {
  base: number;
  length: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses a dotted-quad IPv4 address into a 32-bit unsigned number, or undefined. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => OCTET.test(part))) {
    return undefined;
  }
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** Formats a 32-bit unsigned number as a dotted-quad IPv4 address. */
export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/**
 * Parses "a.b.c.d/n". Returns undefined for anything else, including host bits set
 * below the prefix (10.0.0.1/8), which usually means a typo in the prefix.
 */
export function parseCidr(text: string): Ipv4Network | undefined {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!match || match[1] === undefined || match[2] === undefined) {
    return undefined;
  }
  const base = parseIpv4(match[1]);
  const length = Number(match[2]);
  if (base === undefined || length > 32) {
    return undefined;
  }
  if (base % networkSize(length) !== 0) {
    return undefined;
  }
  return { base, length };
}

/** Formats a network as "a.b.c.d/n". */
export function formatCidr(network: Ipv4Network): string {
  return `${formatIpv4(network.base)}/${network.length}`;
}

/** Number of addresses in a network of this prefix length. */
export function networkSize(length: number): number {
  return 2 ** (32 - length);
}

/** Returns whether an address lies inside a network. */
export function containsAddress(network: Ipv4Network, address: number): boolean {
  return address >= network.base && address < network.base + networkSize(network.length);
}

/** Returns whether `inner` lies wholly inside `outer`. */
export function containsNetwork(outer: Ipv4Network, inner: Ipv4Network): boolean {
  return inner.length >= outer.length && containsAddress(outer, inner.base);
}

/** Returns whether two networks share any address. */
export function overlaps(a: Ipv4Network, b: Ipv4Network): boolean {
  return containsNetwork(a, b) || containsNetwork(b, a);
}

/** Returns the gateway of a host subnet, its first usable address (".1" in a /24). */
export function gatewayAddress(network: Ipv4Network): number {
  return network.base + 1;
}

/** Returns the n-th subnet of the given length inside a range, counting from 0. */
export function nthSubnet(range: Ipv4Network, length: number, index: number): Ipv4Network {
  return { base: range.base + index * networkSize(length), length };
}

/** Returns how many subnets of the given length fit in a range. */
export function subnetCount(range: Ipv4Network, length: number): number {
  return networkSize(range.length) / networkSize(length);
}
