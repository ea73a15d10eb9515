import { checkInterfaceName } from "../plan/cluster.js";
import { parseCidr, parseIpv4 } from "../plan/ipv4.js";
import type { LinkActual, LinuxChange } from "../plan/state.js";
import { run } from "./exec.js";
import { readLinks, readRoutes, type Route } from "./ip-read.js";

/** A change that `ip -batch` applies. */
export type IpChange = Exclude<LinuxChange, { kind: "sysctl" } | { table: string }>;

/** Smallest MTU of an IPv4 link (RFC 791), which is also the min_mtu of Linux bridges and veths. */
const MIN_MTU = 68;
const MAX_MTU = 65535;

/** A MAC address as `ip` takes it: six hex bytes separated by colons. */
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Throws a RangeError for a change with an invalid interface name, address, route or MTU. */
export function checkIpChange(change: IpChange): void {
  const devices =
    change.kind === "create-bridge" || change.kind === "delete-bridge"
      ? [change.name]
      : [change.device];
  if (change.kind === "set-master") {
    devices.push(change.master);
  }
  for (const device of devices) {
    const problem = checkInterfaceName(device);
    if (problem !== undefined) {
      throw new RangeError(`${change.kind}: ${problem}`);
    }
  }

  if (change.kind === "create-bridge" && change.mac !== undefined && !MAC.test(change.mac)) {
    throw new RangeError(
      `create-bridge: invalid MAC address ${JSON.stringify(change.mac)} for ${change.name}: use six hex bytes such as 02:6d:0a:f0:01:01`,
    );
  }
  if (change.kind === "set-mtu" && !isMtu(change.mtu)) {
    throw new RangeError(
      `set-mtu: invalid MTU ${change.mtu} for ${change.device}: use a whole number from ${MIN_MTU} to ${MAX_MTU}`,
    );
  }
  if (change.kind === "add-address" && !isInterfaceAddress(change.address)) {
    throw new RangeError(
      `add-address: invalid address ${JSON.stringify(change.address)} for ${change.device}: use a.b.c.d/n`,
    );
  }
  if (
    (change.kind === "replace-route" || change.kind === "remove-route") &&
    change.destination !== "default" &&
    parseCidr(change.destination) === undefined
  ) {
    throw new RangeError(
      `${change.kind}: invalid destination ${JSON.stringify(change.destination)}: use "default" or a network a.b.c.d/n without host bits`,
    );
  }
}

function isMtu(value: number): boolean {
  return Number.isInteger(value) && value >= MIN_MTU && value <= MAX_MTU;
}

function isInterfaceAddress(text: string): boolean {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  return (
    match !== null &&
    match[1] !== undefined &&
    parseIpv4(match[1]) !== undefined &&
    Number(match[2]) <= 32
  );
}

/** Current links and routes, as far as the batch builder needs them. */
export interface IpSnapshot {
  links: Record<string, Pick<LinkActual, "kind">>;
  routes: Route[];
}

/**
 * Builds `ip -batch` input, one command per line in the order of `changes`. `snapshot` is
 * the current state, and the function updates it as the changes would. It skips
 * create-bridge for an existing bridge, delete-bridge for a missing one and remove-route for
 * a missing route, so the same
 * list can be applied twice. Throws when a link that should become a bridge has another kind.
 */
export function buildIpBatch(changes: readonly IpChange[], snapshot: IpSnapshot): string {
  const lines: string[] = [];
  for (const change of changes) {
    checkIpChange(change);
    const line = batchLine(change, snapshot);
    if (line !== undefined) {
      lines.push(line);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

function batchLine(change: IpChange, snapshot: IpSnapshot): string | undefined {
  switch (change.kind) {
    case "create-bridge": {
      const existing = snapshot.links[change.name];
      if (existing === undefined) {
        snapshot.links[change.name] = { kind: "bridge" };
        const mac = change.mac === undefined ? "" : ` address ${change.mac}`;
        return `link add ${change.name}${mac} type bridge`;
      }
      if (existing.kind !== "bridge") {
        throw new Error(
          `failed to create bridge ${change.name}: a link of kind ${existing.kind ?? "unknown"} already has that name. Remove it or choose another bridge name`,
        );
      }
      return undefined;
    }

    case "delete-bridge": {
      const existing = snapshot.links[change.name];
      if (existing === undefined) {
        return undefined;
      }
      if (existing.kind !== "bridge") {
        throw new Error(
          `refusing to delete ${change.name}: it is a ${existing.kind ?? "plain"} device, not a bridge`,
        );
      }
      delete snapshot.links[change.name];
      return `link del ${change.name}`;
    }

    case "set-mtu":
      return `link set dev ${change.device} mtu ${change.mtu}`;

    case "set-master":
      return `link set dev ${change.device} master ${change.master}`;

    case "set-up":
      return `link set dev ${change.device} up`;

    case "add-address":
      // "replace" leaves an address that is already present as it is, where "add" fails.
      return `address replace ${change.address} dev ${change.device}`;

    case "replace-route":
      snapshot.routes = [
        ...snapshot.routes.filter((route) => route.destination !== change.destination),
        { destination: change.destination, device: change.device },
      ];
      return `route replace ${change.destination} dev ${change.device}`;

    case "remove-route": {
      const matches = (route: Route): boolean =>
        route.destination === change.destination && route.device === change.device;
      if (!snapshot.routes.some(matches)) {
        return undefined;
      }
      snapshot.routes = snapshot.routes.filter((route) => !matches(route));
      return `route del ${change.destination} dev ${change.device}`;
    }
  }
}

/**
 * Applies link, address and route changes to the current network namespace through one
 * `ip -batch` process, in order. ip stops at the first failing command, so the commands
 * before it stay applied. Reads links and routes first only when the list creates a bridge
 * or removes a route.
 */
export async function applyIpChanges(changes: readonly IpChange[]): Promise<void> {
  changes.forEach(checkIpChange);

  const needsSnapshot = changes.some(
    (change) =>
      change.kind === "create-bridge" ||
      change.kind === "delete-bridge" ||
      change.kind === "remove-route",
  );
  const snapshot: IpSnapshot = needsSnapshot
    ? { links: await readLinks(), routes: await readRoutes() }
    : { links: {}, routes: [] };

  const batch = buildIpBatch(changes, snapshot);
  if (batch === "") {
    return;
  }
  await run(["ip", "-batch", "-"], { input: batch });
}
