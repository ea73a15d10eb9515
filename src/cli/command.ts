/** A subcommand of the `ovs-mesh` program. */
export interface Command {
  name: string;
  /** One line for the command list in `ovs-mesh --help`. */
  summary: string;
  /** Full help text for `ovs-mesh NAME --help`. */
  usage: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/** Raised for a wrong command line; printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
