import type { Command } from "./command.js";

/** Every subcommand, in the order `ovs-mesh --help` lists them. */
export const commands: Command[] = [];
