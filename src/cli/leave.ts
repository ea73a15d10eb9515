import { resetHost } from "../agent/reset.js";
import { parseOptions, required } from "./args.js";
import type { Command } from "./command.js";
import { openStore } from "./agent.js";
import { ETCD_OPTIONS, ETCD_USAGE } from "./etcd-options.js";
import { HOST_OPTIONS, HOST_OPTIONS_USAGE, hostPaths } from "./host-options.js";

const OPTIONS = {
  ...ETCD_OPTIONS,
  ...HOST_OPTIONS,
  config: { type: "string" },
  host: { type: "string" },
  "keep-dataplane": { type: "boolean" },
} as const;

export const leaveCommand: Command = {
  name: "leave",
  summary: "leave the cluster: free this host's subnet and remove its tunnels",
  usage: `Usage: ovs-mesh leave (--config FILE | --etcd URL --cluster NAME) --host NAME [OPTIONS]

Removes this host from the store, which frees its subnet and makes every peer drop its tunnels
to it, then removes what ovs-mesh created on this host (as reset does). Stop the agent first.

Options:
  --config FILE        cluster file (YAML)
${ETCD_USAGE}
  --host NAME          this host's name
  --keep-dataplane     leave the store but keep this host's bridges, rules and routes
${HOST_OPTIONS_USAGE}`,
  async run(args) {
    const { values } = parseOptions(args, OPTIONS);
    const name = required(values.host, "host");
    const store = openStore(values);
    try {
      await store.leave(name);
    } finally {
      await store.close();
    }
    process.stdout.write(`${name} left the cluster\n`);
    if (values["keep-dataplane"] !== true) {
      const { removed } = await resetHost(hostPaths(values));
      process.stdout.write(`removed ${removed.length} objects from this host\n`);
    }
    return 0;
  },
};
