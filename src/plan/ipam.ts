import { containsNetwork, formatCidr, networkSize, parseCidr, type Ipv4Network } from "./ipv4.js";

/** Raised when no host subnet can be handed out: the range is full or a request is invalid. */
export class SubnetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SubnetError";
  }
}

/**
 * Returns the lowest subnet of `subnetLength` inside `range` that overlaps none of `taken`.
 * Entries of `taken` that are not valid CIDRs are ignored; entries of another length still
 * block every subnet they overlap. Raises {@link SubnetError} naming the range when it is full.
 */
export function allocateSubnet(
  range: string,
  subnetLength: number,
  taken: Iterable<string>,
): string {
  const network = parseRange(range, subnetLength);
  const step = networkSize(subnetLength);
  const end = network.base + networkSize(network.length);
  const blocked = intervals(taken);

  let candidate = network.base;
  for (const [start, stop] of blocked) {
    if (stop <= candidate) {
      continue;
    }
    if (start >= candidate + step) {
      break;
    }
    // The interval overlaps the candidate: move to the first aligned subnet after it.
    candidate = Math.ceil(stop / step) * step;
  }

  if (candidate + step > end) {
    const count = networkSize(network.length) / step;
    throw new SubnetError(
      `cluster range ${range} is full: all ${count} subnets of length /${subnetLength} are taken; remove hosts that have left or use a larger range`,
    );
  }
  return formatCidr({ base: candidate, length: subnetLength });
}

/**
 * Checks a requested host subnet: a valid CIDR inside `range`, of length `subnetLength`,
 * overlapping none of `taken`. Returns the problem, or undefined when the subnet is usable.
 */
export function checkSubnet(
  range: string,
  subnetLength: number,
  subnet: string,
  taken: Iterable<string>,
): string | undefined {
  const network = parseRange(range, subnetLength);
  const requested = parseCidr(subnet);
  if (requested === undefined) {
    return `invalid subnet ${JSON.stringify(subnet)}: write an IPv4 network such as 10.240.1.0/24, with no bits set after the prefix`;
  }
  if (!containsNetwork(network, requested)) {
    return `subnet ${subnet} is outside the cluster range ${range}: pick a subnet inside it`;
  }
  if (requested.length !== subnetLength) {
    return `subnet ${subnet} has length /${requested.length}, but the cluster uses /${subnetLength}: use a /${subnetLength}`;
  }

  const start = requested.base;
  const stop = start + networkSize(requested.length);
  for (const [takenStart, takenStop] of intervals(taken)) {
    if (takenStart < stop && takenStop > start) {
      return `subnet ${subnet} is already taken: pick a free subnet or let ovs-mesh choose one`;
    }
  }
  return undefined;
}

function parseRange(range: string, subnetLength: number): Ipv4Network {
  const network = parseCidr(range);
  if (network === undefined) {
    throw new SubnetError(`invalid cluster range ${JSON.stringify(range)}: expected a.b.c.d/n`);
  }
  if (!Number.isInteger(subnetLength) || subnetLength <= network.length || subnetLength > 32) {
    throw new SubnetError(
      `invalid subnet length ${subnetLength} for cluster range ${range}: expected an integer from ${network.length + 1} to 32`,
    );
  }
  return network;
}

/** Converts CIDRs to [first address, one past the last address) intervals, sorted by start. */
function intervals(cidrs: Iterable<string>): [number, number][] {
  const result: [number, number][] = [];
  for (const cidr of cidrs) {
    const network = parseCidr(cidr);
    if (network !== undefined) {
      result.push([network.base, network.base + networkSize(network.length)]);
    }
  }
  return result.sort((a, b) => a[0] - b[0]);
}
