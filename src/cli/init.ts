import {
  DATAPATHS,
  DEFAULT_SETTINGS,
  TUNNEL_MODES,
  TUNNEL_TYPES,
  parseSettings,
} from "../plan/cluster.js";
import { choiceOption, integerOption, parseOptions, required } from "./args.js";
import type { Command } from "./command.js";
import { ETCD_OPTIONS, ETCD_USAGE, openEtcdStore } from "./etcd-options.js";

const OPTIONS = {
  ...ETCD_OPTIONS,
  range: { type: "string" },
  "subnet-length": { type: "string" },
  tunnel: { type: "string" },
  mode: { type: "string" },
  datapath: { type: "string" },
  "underlay-mtu": { type: "string" },
} as const;

const USAGE = `Usage: ovs-mesh init --etcd URL --cluster NAME --range CIDR [OPTIONS]

Creates a cluster in etcd with the settings that every host shares. Running it again with
the same settings changes nothing; with other settings it fails and lists the differences.

Options:
${ETCD_USAGE}
  --range CIDR         cluster range that host subnets are carved from, such as
                       10.240.0.0/16 (required)
  --subnet-length N    prefix length of each host's subnet (default ${DEFAULT_SETTINGS.subnetLength})
  --tunnel TYPE        ${TUNNEL_TYPES.join(", ")} (default ${DEFAULT_SETTINGS.tunnel})
  --mode MODE          flow: one tunnel port, peers chosen by OpenFlow rules; port: one
                       port per peer (default ${DEFAULT_SETTINGS.mode})
  --datapath TYPE      ${DATAPATHS.join(", ")}; auto picks what ovs-vswitchd supports
                       (default ${DEFAULT_SETTINGS.datapath})
  --underlay-mtu N     MTU of the underlay network in bytes; detected on each host when absent`;

async function runInit(args: string[]): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const document = {
    range: required(values.range, "range"),
    subnetLength: integerOption(
      values["subnet-length"],
      "subnet-length",
      DEFAULT_SETTINGS.subnetLength,
      1,
      30,
    ),
    tunnel: choiceOption(values.tunnel, "tunnel", TUNNEL_TYPES, DEFAULT_SETTINGS.tunnel),
    mode: choiceOption(values.mode, "mode", TUNNEL_MODES, DEFAULT_SETTINGS.mode),
    datapath: choiceOption(values.datapath, "datapath", DATAPATHS, DEFAULT_SETTINGS.datapath),
    underlayMtu:
      values["underlay-mtu"] === undefined
        ? undefined
        : integerOption(values["underlay-mtu"], "underlay-mtu", 0, 576, 65535),
  };
  // The same checks as for a cluster file: a valid range, a subnet length longer than the
  // range's, and an underlay MTU that leaves room for the tunnel header.
  const settings = parseSettings(document, "command line");
  const store = openEtcdStore(values);
  try {
    const result = await store.create(settings);
    const summary = `range ${settings.range}, /${settings.subnetLength} subnets, ${settings.tunnel} tunnels in ${settings.mode} mode`;
    const verb = result === "created" ? "created:" : "already exists with the same settings:";
    process.stdout.write(`cluster ${store.keys.cluster} ${verb} ${summary}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

/** `ovs-mesh init`: creates a cluster in etcd. */
export const initCommand: Command = {
  name: "init",
  summary: "create a cluster in etcd",
  usage: USAGE,
  run: runInit,
};
