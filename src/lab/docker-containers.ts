import type { RunOptions, RunResult } from "../host/exec.js";
import type { DockerDaemon } from "./docker-daemon.js";
import { field, waitUntil } from "./docker-files.js";
import { LAB_IMAGE, docker } from "./docker-image.js";
import { START_TIMEOUT_MS } from "./docker-process.js";

/** A running container of the lab image, attached to docker0. */
export interface LabContainer {
  name: string;
  id: string;
  running: boolean;
  /** Address on docker0; empty while the container is stopped. */
  ip: string;
  prefixLength: number;
  /** Host process id of the container's init; 0 while the container is stopped. */
  pid: number;
  /** The container's network namespace, for nsenter or `ip netns attach`. */
  netnsPath: string;
}

/** Options for {@link runContainer}. */
export interface RunContainerOptions {
  /** Docker restart policy; "always" (the default) brings the container back with dockerd. */
  restart?: "no" | "always";
}

/**
 * Starts a container of {@link LAB_IMAGE} on docker0 that sleeps until stopped. docker0 is
 * Docker's default bridge network, which assigns addresses itself: dockerd 20.10 accepts
 * `--ip` only on user-defined networks.
 */
export async function runContainer(
  daemon: DockerDaemon,
  name: string,
  options: RunContainerOptions = {},
): Promise<LabContainer> {
  // --init runs docker-init (tini) as PID 1, which forwards SIGTERM; a plain sleep as PID 1
  // ignores it, and every stop would wait the full 10 s before SIGKILL.
  await docker(daemon, [
    "run",
    "--detach",
    "--init",
    "--restart",
    options.restart ?? "always",
    "--name",
    name,
    "--hostname",
    name,
    "--network",
    "bridge",
    LAB_IMAGE,
    "sleep",
    "infinity",
  ]);
  return inspectContainer(daemon, name);
}

/** Reads a container's state, address and process id. */
export async function inspectContainer(daemon: DockerDaemon, name: string): Promise<LabContainer> {
  const { stdout } = await docker(daemon, ["container", "inspect", name]);
  const list: unknown = JSON.parse(stdout);
  const entry: unknown = Array.isArray(list) ? list[0] : undefined;
  const id = field(entry, "Id");
  const state = field(entry, "State");
  const running = field(state, "Running");
  const pid = field(state, "Pid");
  const bridge = field(field(field(entry, "NetworkSettings"), "Networks"), "bridge");
  const ip = field(bridge, "IPAddress") ?? "";
  const prefixLength = field(bridge, "IPPrefixLen") ?? 0;
  if (
    typeof id !== "string" ||
    typeof running !== "boolean" ||
    typeof pid !== "number" ||
    typeof ip !== "string" ||
    typeof prefixLength !== "number"
  ) {
    throw new Error(
      `docker container inspect ${name} printed an unexpected document: ${stdout.slice(0, 200)}`,
    );
  }
  return { name, id, running, ip, prefixLength, pid, netnsPath: `/proc/${pid}/ns/net` };
}

/** Waits until a container runs with an address, after `restart()` for example. */
export async function waitForContainer(
  daemon: DockerDaemon,
  name: string,
  timeoutMs = START_TIMEOUT_MS,
): Promise<LabContainer> {
  let container = await inspectContainer(daemon, name);
  await waitUntil(async () => {
    container = await inspectContainer(daemon, name);
    return container.running && container.ip !== "";
  }, timeoutMs);
  if (!container.running || container.ip === "") {
    throw new Error(`container ${name} of ${daemon.dir} is not running after ${timeoutMs} ms`);
  }
  return container;
}

/** Runs a program in a container; `options.input` is passed to its standard input. */
export function execInContainer(
  daemon: DockerDaemon,
  name: string,
  argv: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const interactive = options.input === undefined ? [] : ["--interactive"];
  return docker(daemon, ["exec", ...interactive, name, ...argv], options);
}

/** Removes a container, running or not. Returns false when there was none of that name. */
export async function removeContainer(daemon: DockerDaemon, name: string): Promise<boolean> {
  const { stdout } = await docker(daemon, [
    "container",
    "ls",
    "--all",
    "--quiet",
    "--filter",
    `name=^/${name}$`,
  ]);
  if (stdout.trim() === "") {
    return false;
  }
  await docker(daemon, ["container", "rm", "--force", name]);
  return true;
}
