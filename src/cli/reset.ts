import { resetHost } from "../agent/reset.js";
import { parseOptions } from "./args.js";
import type { Command } from "./command.js";
import { HOST_OPTIONS, HOST_OPTIONS_USAGE, hostPaths } from "./host-options.js";

export const resetCommand: Command = {
  name: "reset",
  summary: "remove everything ovs-mesh created on this host, and nothing else",
  usage: `Usage: ovs-mesh reset [OPTIONS]

Removes OVS bridges and ports marked as ovs-mesh's, its OpenFlow rules and iptables chains, the
cluster route, the Linux bridge if ovs-mesh created it, and restores the sysctls it changed.
Containers lose connectivity to other hosts.

Options:
${HOST_OPTIONS_USAGE}`,
  async run(args) {
    const { values } = parseOptions(args, HOST_OPTIONS);
    const { removed } = await resetHost(hostPaths(values));
    if (removed.length === 0) {
      process.stdout.write("nothing to remove\n");
      return 0;
    }
    process.stdout.write(`removed ${removed.length}:\n`);
    for (const line of removed) {
      process.stdout.write(`  ${line}\n`);
    }
    return 0;
  },
};
