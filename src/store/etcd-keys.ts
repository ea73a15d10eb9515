/**
 * Layout of a cluster in etcd, under `/ovs-mesh/<cluster>/`:
 *
 *   config            JSON of the cluster settings
 *   hosts/<name>      JSON host record: name, underlayIp, subnet, joinedAt, version
 *   subnets/<cidr>    owner host name; "/" in the CIDR is written as "_"
 *   alive/<name>      last heartbeat (ms since the epoch), attached to a short lease
 *   seen/<name>       last heartbeat (ms since the epoch), kept after the agent stops; it is
 *                     attached to the reservation lease when reservations expire, so its
 *                     absence marks a host whose reservation expired
 */

/** Root of every key that ovs-mesh writes. */
export const KEY_ROOT = "/ovs-mesh/";

/** Format version of host records; a record with a higher version is from a newer release. */
export const HOST_RECORD_VERSION = 1;

const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Returns a problem when `name` cannot be a cluster name, which becomes part of every key. */
export function checkClusterName(name: string): string | undefined {
  if (!CLUSTER_NAME.test(name)) {
    return `invalid cluster name ${JSON.stringify(name)}: use 1 to 63 lower-case letters, digits and "-", starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Keys of one cluster. */
export class ClusterKeys {
  readonly prefix: string;

  constructor(readonly cluster: string) {
    const problem = checkClusterName(cluster);
    if (problem !== undefined) {
      throw new TypeError(problem);
    }
    this.prefix = `${KEY_ROOT}${cluster}/`;
  }

  get config(): string {
    return `${this.prefix}config`;
  }

  host(name: string): string {
    return `${this.prefix}hosts/${name}`;
  }

  subnet(cidr: string): string {
    return `${this.prefix}subnets/${cidr.replace("/", "_")}`;
  }

  alive(name: string): string {
    return `${this.prefix}alive/${name}`;
  }

  seen(name: string): string {
    return `${this.prefix}seen/${name}`;
  }

  /** Splits a key of this cluster into its kind and the name after it. */
  classify(
    key: string,
  ):
    | { kind: "config" }
    | { kind: "hosts" | "subnets" | "alive" | "seen"; name: string }
    | { kind: "unknown" } {
    const rest = key.slice(this.prefix.length);
    if (rest === "config") {
      return { kind: "config" };
    }
    const slash = rest.indexOf("/");
    const kind = rest.slice(0, slash);
    const name = rest.slice(slash + 1);
    if (
      slash > 0 &&
      (kind === "hosts" || kind === "subnets" || kind === "alive" || kind === "seen")
    ) {
      return { kind, name: kind === "subnets" ? name.replace("_", "/") : name };
    }
    return { kind: "unknown" };
  }

  /** Returns whether a change of this key only reports liveness and leaves membership as it was. */
  isLiveness(key: string): boolean {
    const kind = this.classify(key).kind;
    return kind === "alive" || kind === "seen";
  }
}
