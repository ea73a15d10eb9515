import type { LinkActual, LinuxActual } from "../plan/state.js";
import { run } from "./exec.js";

/** An IPv4 route of the main table. */
export type Route = LinuxActual["routes"][number];

/**
 * Parses `ip -json -details addr show` output into links by name, keeping only IPv4
 * addresses. One command yields both the link details and the addresses of every link.
 */
export function parseLinks(json: string): Record<string, LinkActual> {
  const links: Record<string, LinkActual> = {};
  for (const entry of parseJsonArray(json, "ip -json -details addr show")) {
    const name = stringField(entry, "ifname");
    const mtu = entry.mtu;
    if (name === undefined || typeof mtu !== "number") {
      throw new SyntaxError(
        `invalid entry in ip -json -details addr show: ${JSON.stringify(entry)}`,
      );
    }
    const flags = Array.isArray(entry.flags) ? entry.flags : [];
    const linkinfo = objectField(entry, "linkinfo");
    links[name] = {
      mtu,
      up: flags.includes("UP"),
      kind: linkinfo === undefined ? undefined : stringField(linkinfo, "info_kind"),
      master: stringField(entry, "master"),
      addresses: ipv4Addresses(entry.addr_info),
    };
  }
  return links;
}

function ipv4Addresses(addrInfo: unknown): string[] {
  if (!Array.isArray(addrInfo)) {
    return [];
  }
  const addresses: string[] = [];
  for (const info of addrInfo) {
    if (!isObject(info) || info.family !== "inet") {
      continue;
    }
    const local = stringField(info, "local");
    if (local === undefined || typeof info.prefixlen !== "number") {
      throw new SyntaxError(`invalid IPv4 address in ip -json addr show: ${JSON.stringify(info)}`);
    }
    addresses.push(`${local}/${info.prefixlen}`);
  }
  return addresses;
}

/**
 * Parses `ip -json -4 route show` output. A host route, which ip prints without a prefix
 * length, gets "/32"; a route without a device (unreachable, multipath) gets none.
 */
export function parseRoutes(json: string): Route[] {
  return parseJsonArray(json, "ip -json -4 route show").map((entry) => {
    const destination = stringField(entry, "dst");
    if (destination === undefined) {
      throw new SyntaxError(`invalid entry in ip -json route show: ${JSON.stringify(entry)}`);
    }
    return {
      destination:
        destination === "default" || destination.includes("/") ? destination : `${destination}/32`,
      device: stringField(entry, "dev"),
    };
  });
}

/** Reads every link of the current network namespace with its IPv4 addresses. */
export async function readLinks(): Promise<Record<string, LinkActual>> {
  const { stdout } = await run(["ip", "-json", "-details", "addr", "show"]);
  return parseLinks(stdout);
}

/** Reads the IPv4 routes of the main table in the current network namespace. */
export async function readRoutes(): Promise<Route[]> {
  const { stdout } = await run(["ip", "-json", "-4", "route", "show", "table", "main"]);
  return parseRoutes(stdout);
}

type JsonObject = Record<string, unknown>;

function parseJsonArray(json: string, source: string): JsonObject[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new SyntaxError(`invalid JSON from ${source}`, { cause: error });
  }
  if (!Array.isArray(value) || !value.every(isObject)) {
    throw new SyntaxError(`expected a JSON array of objects from ${source}`);
  }
  return value;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringField(object: JsonObject, key: string): string | undefined {
  const value = object[key];
  return typeof value === "string" ? value : undefined;
}

function objectField(object: JsonObject, key: string): JsonObject | undefined {
  const value = object[key];
  return isObject(value) ? value : undefined;
}
