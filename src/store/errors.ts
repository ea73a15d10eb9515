/** Raised by `leave` for a host that the store has no record of. */
export class HostNotFoundError extends Error {
  constructor(
    readonly host: string,
    readonly where: string,
  ) {
    super(
      `host ${JSON.stringify(host)} not found in ${where}: check the name with 'ovs-mesh hosts list'`,
    );
    this.name = "HostNotFoundError";
  }
}

/**
 * Raised by `join` when the request conflicts with what the store holds: a requested subnet
 * owned by another host, or a host that requests another subnet than the one it owns.
 */
export class JoinConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JoinConflictError";
  }
}
