import { agentCommand } from "./agent.js";
import { applyCommand, planCommand } from "./apply.js";
import type { Command } from "./command.js";
import { resetCommand } from "./reset.js";
import { dockerConfigCommand } from "./docker-config.js";
import { doctorCommand } from "./doctor.js";
import { graphCommand } from "./graph.js";
import { hostsCommand } from "./hosts.js";
import { initCommand } from "./init.js";
import { labCommand } from "./lab.js";
import { leaveCommand } from "./leave.js";
import { statusCommand } from "./status.js";

/** Every subcommand, in the order `ovs-mesh --help` lists them. */
export const commands: Command[] = [
  initCommand,
  hostsCommand,
  planCommand,
  applyCommand,
  resetCommand,
  agentCommand,
  leaveCommand,
  dockerConfigCommand,
  statusCommand,
  doctorCommand,
  graphCommand,
  labCommand,
];
