import { existsSync } from "node:fs";
import type { LinkActual } from "../../plan/state.js";
import { run } from "../exec.js";
import { readLinks, readRoutes, type Route } from "../ip-read.js";
import { LOCK_WAIT_SECONDS } from "../iptables.js";
import { OvsdbClient, fromOvsdbSet } from "../ovsdb.js";
import { readSysctl } from "../sysctl.js";
import { parseChainWithPolicy, type ChainListing } from "./firewall.js";
import type { OvsFacts } from "./ovs.js";

/** Facts that doctor reads from the host once, before it runs the checks. */
export interface HostFacts {
  ovs: OvsFacts;
  moduleLoaded: boolean;
  links: Record<string, LinkActual>;
  routes: Route[];
  /** sysctl values by dotted key; undefined where the key does not exist. */
  sysctls: Record<string, string | undefined>;
  /** Built-in chains of the filter table, or the error that reading them raised. */
  chains: Record<"FORWARD" | "INPUT" | "OUTPUT", ChainListing | Error>;
}

/** sysctl keys that the checks read, for a Linux bridge of this name. */
export function doctorSysctlKeys(linuxBridge: string): string[] {
  return [
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.rp_filter",
    `net.ipv4.conf.${linuxBridge}.rp_filter`,
    "net.ipv4.conf.all.send_redirects",
    `net.ipv4.conf.${linuxBridge}.send_redirects`,
  ];
}

/** Reads everything the checks need from the current network namespace and its OVS. */
export async function readHostFacts(ovsdbSocket: string, linuxBridge: string): Promise<HostFacts> {
  const keys = doctorSysctlKeys(linuxBridge);
  const [ovs, links, routes, values, forward, input, output] = await Promise.all([
    readOvsFacts(ovsdbSocket),
    readLinks(),
    readRoutes(),
    Promise.all(keys.map(readSysctl)),
    readFilterChain("FORWARD"),
    readFilterChain("INPUT"),
    readFilterChain("OUTPUT"),
  ]);
  return {
    ovs,
    moduleLoaded: existsSync("/sys/module/openvswitch"),
    links,
    routes,
    sysctls: Object.fromEntries(keys.map((key, index) => [key, values[index]])),
    chains: { FORWARD: forward, INPUT: input, OUTPUT: output },
  };
}

async function readOvsFacts(socket: string): Promise<OvsFacts> {
  let client: OvsdbClient;
  try {
    client = await OvsdbClient.connect(socket, { timeoutMs: 3000 });
  } catch (error) {
    // The ovsdb check reports this as its finding.
    return { reachable: false, error: errorMessage(error) };
  }
  try {
    const [system, interfaces] = await client.transact("Open_vSwitch", [
      { op: "select", table: "Open_vSwitch", where: [], columns: ["datapath_types"] },
      { op: "select", table: "Interface", where: [["type", "==", "internal"]], columns: ["name"] },
    ]);
    const types = system?.rows?.[0]?.datapath_types;
    return {
      reachable: true,
      datapathTypes: types === undefined ? [] : fromOvsdbSet(types, "datapath_types").map(String),
      internalInterfaces: (interfaces?.rows ?? []).map((row) => String(row.name)),
    };
  } catch (error) {
    return { reachable: false, error: errorMessage(error) };
  } finally {
    client.close();
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function readFilterChain(
  chain: "FORWARD" | "INPUT" | "OUTPUT",
): Promise<ChainListing | Error> {
  try {
    const { stdout } = await run([
      "iptables",
      "-w",
      LOCK_WAIT_SECONDS,
      "-t",
      "filter",
      "-S",
      chain,
    ]);
    return parseChainWithPolicy(stdout, chain);
  } catch (error) {
    // The firewall checks report a chain that cannot be read as not checked.
    return error instanceof Error ? error : new Error(String(error));
  }
}
