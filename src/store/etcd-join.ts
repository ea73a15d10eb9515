import { parseHost, type HostSpec } from "../plan/cluster.js";
import { SubnetError, allocateSubnet, checkSubnet } from "../plan/ipam.js";
import type { Compare, Operation } from "./etcd-client.js";
import { formatHostRecord, type Snapshot } from "./etcd-snapshot.js";
import type { ClusterKeys } from "./etcd-keys.js";
import { JoinConflictError } from "./errors.js";
import type { JoinRequest } from "./store.js";

/** A transaction that joins a host, valid only while the compares hold. */
export interface JoinPlan {
  host: HostSpec;
  compares: Compare[];
  operations: Operation[];
}

/** Keys and values that a join writes besides the host record and the subnet claim. */
export interface JoinContext {
  keys: ClusterKeys;
  now: number;
  /** Lease for seen/<name> when reservations expire; undefined to keep it forever. */
  reservationLease: string | undefined;
}

/**
 * Plans the transaction that joins `request`, given the store as `snapshot` shows it. A host
 * with a valid record keeps its subnet. Otherwise the subnet is the first of these that
 * exists: the requested subnet, a subnet whose subnets/ key already names this host, the
 * lowest free subnet, and the subnet of the earliest-joined host whose reservation expired. The compares make the transaction fail if
 * another writer changed any key that the choice depends on.
 */
export function planJoin(snapshot: Snapshot, request: JoinRequest, context: JoinContext): JoinPlan {
  const { keys } = context;
  const hostRevision = snapshot.hostRevisions.get(request.name);
  const compares: Compare[] = [revisionIs(keys.host(request.name), hostRevision)];
  const seenOperation: Operation = {
    put: {
      key: keys.seen(request.name),
      value: String(context.now),
      ...(context.reservationLease === undefined ? {} : { lease: context.reservationLease }),
    },
  };

  const clash = [...snapshot.hosts.values()].find(
    (entry) => entry.spec.name !== request.name && entry.spec.underlayIp === request.underlayIp,
  );
  if (clash !== undefined) {
    // NOTE: this check reads a snapshot, so two hosts that join with one address at the
    // same moment both succeed. load() then reports the later one as a problem.
    throw new JoinConflictError(
      `cannot join host ${request.name}: underlay IP ${request.underlayIp} is used by host ${clash.spec.name}; give each host its own address`,
    );
  }

  const current = snapshot.hosts.get(request.name);
  if (current !== undefined) {
    if (request.subnet !== undefined && request.subnet !== current.spec.subnet) {
      throw new JoinConflictError(
        `host ${request.name} already owns subnet ${current.spec.subnet}, not ${request.subnet}: remove the host first to change its subnet`,
      );
    }
    const host = parseHost(
      { ...current.spec, underlayIp: request.underlayIp },
      snapshot.settings,
      "join request",
    );
    compares.push({
      key: keys.subnet(host.subnet),
      target: "VALUE",
      result: "EQUAL",
      value: host.name,
    });
    const operations: Operation[] = [seenOperation];
    if (host.underlayIp !== current.spec.underlayIp) {
      operations.push({
        put: { key: keys.host(host.name), value: formatHostRecord(host, current.joinedAt) },
      });
    }
    return { host, compares, operations };
  }

  const claim = chooseSubnet(snapshot, request, keys);
  const host = parseHost(
    { name: request.name, underlayIp: request.underlayIp, subnet: claim.subnet },
    snapshot.settings,
    "join request",
  );
  return {
    host,
    compares: [...compares, ...claim.compares],
    operations: [
      ...claim.operations,
      { put: { key: keys.subnet(host.subnet), value: host.name } },
      { put: { key: keys.host(host.name), value: formatHostRecord(host, context.now) } },
      seenOperation,
    ],
  };
}

interface Claim {
  subnet: string;
  compares: Compare[];
  /** Writes that release the subnet from a previous owner whose reservation expired. */
  operations: Operation[];
}

function chooseSubnet(snapshot: Snapshot, request: JoinRequest, keys: ClusterKeys): Claim {
  const { range, subnetLength } = snapshot.settings;
  const taken = [...snapshot.subnets.keys()];

  if (request.subnet !== undefined) {
    const entry = snapshot.subnets.get(request.subnet);
    if (entry !== undefined && entry.owner !== request.name) {
      const owner = entry.owner === undefined ? "an invalid owner" : `host ${entry.owner}`;
      throw new JoinConflictError(
        `cannot join host ${request.name}: subnet ${request.subnet} is owned by ${owner}; pick another subnet or let ovs-mesh choose one`,
      );
    }
    if (entry !== undefined) {
      return {
        subnet: request.subnet,
        compares: [revisionIs(keys.subnet(request.subnet), entry.modRevision)],
        operations: [],
      };
    }
    const problem = checkSubnet(range, subnetLength, request.subnet, taken);
    if (problem !== undefined) {
      throw new JoinConflictError(`cannot join host ${request.name}: ${problem}`);
    }
    return {
      subnet: request.subnet,
      compares: [revisionIs(keys.subnet(request.subnet), undefined)],
      operations: [],
    };
  }

  for (const [subnet, entry] of snapshot.subnets) {
    if (entry.owner === request.name) {
      return {
        subnet,
        compares: [revisionIs(keys.subnet(subnet), entry.modRevision)],
        operations: [],
      };
    }
  }

  try {
    const subnet = allocateSubnet(range, subnetLength, taken);
    return { subnet, compares: [revisionIs(keys.subnet(subnet), undefined)], operations: [] };
  } catch (error) {
    if (!(error instanceof SubnetError)) {
      throw error;
    }
    const reclaim = reclaimExpired(snapshot, keys);
    if (reclaim === undefined) {
      throw error;
    }
    return reclaim;
  }
}

/** Takes over the subnet of the earliest-joined host whose reservation has expired, if any. */
function reclaimExpired(snapshot: Snapshot, keys: ClusterKeys): Claim | undefined {
  const expired = [...snapshot.hosts.values()]
    .filter((entry) => !snapshot.seen.has(entry.spec.name))
    .sort((a, b) => a.createRevision - b.createRevision);
  const previous = expired[0];
  if (previous === undefined) {
    return undefined;
  }
  const { name, subnet } = previous.spec;
  return {
    subnet,
    compares: [
      revisionIs(keys.subnet(subnet), snapshot.subnets.get(subnet)?.modRevision),
      revisionIs(keys.host(name), snapshot.hostRevisions.get(name)),
      // The reservation must still be expired: a heartbeat in between renews it.
      revisionIs(keys.seen(name), undefined),
    ],
    operations: [{ delete: { key: keys.host(name) } }, { delete: { key: keys.alive(name) } }],
  };
}

/** Compares a key's mod revision with what was read; undefined means the key must not exist. */
export function revisionIs(key: string, modRevision: number | undefined): Compare {
  if (modRevision === undefined) {
    return { key, target: "CREATE", result: "EQUAL", revision: 0 };
  }
  return { key, target: "MOD", result: "EQUAL", revision: modRevision };
}
