import { run, type RunResult } from "../host/exec.js";
import { dockerExecCommand } from "./docker-hosts.js";
import { checkContainerName, checkLabHostName } from "./names.js";
import { inNamespace } from "./namespaces.js";
import { ovsEnvironment } from "./ovs-daemons.js";
import type { Lab, LabContainer, LabHost } from "./lab.js";

/** A place in a lab that commands run in: a host, or a container of a host. */
export interface LabTarget {
  host: LabHost;
  container: LabContainer | undefined;
}

/** A target as written on the command line, `HOST` or `HOST/CONTAINER`. */
export interface TargetName {
  host: string;
  container: string | undefined;
}

/** Parses `HOST` or `HOST/CONTAINER`; returns a problem string for anything else. */
export function parseTargetName(text: string): TargetName | string {
  const parts = text.split("/");
  const [host, container, ...rest] = parts;
  if (host === undefined || rest.length > 0) {
    return `invalid target ${JSON.stringify(text)}: write HOST or HOST/CONTAINER, such as host0 or host0/c0`;
  }
  const hostProblem = checkLabHostName(host);
  if (hostProblem) {
    return hostProblem;
  }
  if (container !== undefined) {
    const containerProblem = checkContainerName(container);
    if (containerProblem) {
      return containerProblem;
    }
  }
  return { host, container };
}

/** Finds a target in a lab; returns a problem string that lists the names that exist. */
export function findTarget(lab: Lab, name: TargetName): LabTarget | string {
  const host = lab.hosts.find((candidate) => candidate.name === name.host);
  if (host === undefined) {
    const names = lab.hosts.map((candidate) => candidate.name).join(", ");
    return `host ${JSON.stringify(name.host)} not found in lab ${lab.name}: its hosts are ${names}`;
  }
  if (name.container === undefined) {
    return { host, container: undefined };
  }
  const container = host.containers.find((candidate) => candidate.name === name.container);
  if (container === undefined) {
    const names = host.containers.map((candidate) => candidate.name).join(", ") || "none";
    return `container ${JSON.stringify(name.container)} not found on ${host.name} in lab ${lab.name}: its containers are ${names}`;
  }
  return { host, container };
}

/** A command ready for `run`: argv and the environment variables to add. */
export interface TargetCommand {
  argv: string[];
  env: Record<string, string>;
}

/**
 * Returns the command that runs `argv` in a target. Host commands run through
 * `ip netns exec` with the host's OVS environment, so `ovs-vsctl`, `ovs-ofctl` and
 * `ovs-appctl` reach the host's own daemons. Commands in a Docker container run through
 * `docker exec`, with the container's own file system and programs, and `tty` asks for a
 * terminal. Commands in other containers run through `nsenter --net=PATH`.
 */
export function targetCommand(
  target: LabTarget,
  argv: readonly string[],
  tty = false,
): TargetCommand {
  if (target.container === undefined) {
    return { argv: inNamespace(target.host.namespace, argv), env: ovsEnvironment(target.host) };
  }
  if (target.container.dockerId !== undefined) {
    return dockerExecCommand(target.host, target.container, argv, tty);
  }
  return { argv: ["nsenter", `--net=${target.container.namespacePath}`, ...argv], env: {} };
}

/** Exit codes 0 to 255, so that run() returns the command's own exit code instead of raising. */
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

/**
 * Runs a command in a target and returns its exit code, whatever the code. With
 * stdio "pipe" the output is collected into the result; with "inherit" the command uses
 * this process's terminal, so interactive programs work.
 */
export function runInTarget(
  target: LabTarget,
  argv: readonly string[],
  timeoutMs: number,
  stdio: "pipe" | "inherit" = "pipe",
): Promise<RunResult> {
  const command = targetCommand(target, argv, stdio === "inherit" && process.stdin.isTTY);
  return run(command.argv, { env: command.env, timeoutMs, okCodes: ANY_EXIT_CODE, stdio });
}
