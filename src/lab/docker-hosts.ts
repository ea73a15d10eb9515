import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeDockerConfig } from "../host/docker-config.js";
import { innerMtu } from "../plan/mtu.js";
import { attachDockerd, startDockerd, type DockerDaemon } from "./docker-daemon.js";
import { configureHost } from "./configure.js";
import { DOCKER_BRIDGE } from "./containers.js";
import { missingSharedDockerDirs, stopDockerd } from "./docker-cleanup.js";
import { inspectContainer, runContainer, waitForContainer } from "./docker-containers.js";
import { buildImageTarball, ensureImage } from "./docker-image.js";
import { LabError } from "./errors.js";
import { daemonPaths } from "./docker-paths.js";
import type { Lab, LabContainer, LabHost } from "./lab.js";
import { LAB_ROOT } from "./names.js";
import { deviceMtu } from "./namespaces.js";
import { loadLab, writeLab } from "./state.js";

/** Name of a host's Docker state directory inside its run directory. */
const DOCKER_DIRECTORY = "docker";

/** Returns the Docker state directory of a lab host. */
export function dockerDirectory(host: Pick<LabHost, "runDirectory">): string {
  return join(host.runDirectory, DOCKER_DIRECTORY);
}

/**
 * Plans Docker for every host of a lab that `planLab` planned with plain namespaces. Each
 * host gets a Docker state directory. Each container loses its named namespace, because
 * Docker creates the container's namespace and assigns its address when it starts.
 */
export function planDocker(lab: Lab): void {
  for (const host of lab.hosts) {
    const dir = dockerDirectory(host);
    host.docker = { dir, socket: daemonPaths(dir).socket };
    for (const container of host.containers) {
      container.namespace = "";
      container.namespacePath = "";
    }
  }
}

/**
 * Returns the options that make a Docker host's agent keep daemon.json and the subnet file
 * in its Docker state directory; none for a host without Docker.
 */
export function dockerAgentOptions(host: LabHost): string[] {
  if (host.docker === undefined) {
    return [];
  }
  const dir = dockerDirectory(host);
  return ["--docker-config", daemonPaths(dir).config, "--subnet-file", join(dir, "subnet.env")];
}

/**
 * Starts a lab host's Docker daemon as an operator would on a real host. First the code of
 * `ovs-mesh docker-config` sets `bip` (the gateway of the host's subnet) and `mtu` (the
 * inner MTU of the lab's tunnels) in daemon.json. Then dockerd starts and creates docker0
 * from them. The subnet environment file goes next to daemon.json.
 */
export async function startHostDocker(lab: Lab, host: LabHost): Promise<DockerDaemon> {
  const dir = dockerDirectory(host);
  await writeDockerConfig({
    subnet: host.subnet,
    range: lab.clusterRange,
    innerMtu: innerMtu(lab.underlayMtu, lab.tunnel),
    daemonJsonPath: daemonPaths(dir).config,
    envFilePath: join(dir, "subnet.env"),
  });
  return startDockerd({ netns: host.namespace, dir });
}

/** State that the Docker hosts of a lab share while `lab up` builds it. */
export interface DockerBuild {
  /** Each host's daemon, by host name, once started. */
  daemons: Map<string, DockerDaemon>;
  /** The lab image's root file system, built once and imported by every daemon. */
  tarball: string;
  removeImageTarball(): Promise<void>;
}

/**
 * Records in `lab` which of Docker's machine-wide directories are missing before the first
 * dockerd starts, so that `lab down` removes only those, and builds the lab image once.
 */
export async function prepareDocker(lab: Lab): Promise<DockerBuild> {
  lab.dockerSharedDirs = await missingSharedDockerDirs();
  const workDirectory = await mkdtemp(join(tmpdir(), "ovs-mesh-image-"));
  const removeImageTarball = () => rm(workDirectory, { recursive: true, force: true });
  try {
    const tarball = await buildImageTarball(workDirectory);
    return { daemons: new Map(), tarball, removeImageTarball };
  } catch (error) {
    await removeImageTarball();
    throw error;
  }
}

/**
 * Starts a host's Docker containers and returns the MTU of docker0, which Docker created
 * from daemon.json.
 */
export async function addDockerContainers(build: DockerBuild, host: LabHost): Promise<number> {
  const daemon = build.daemons.get(host.name);
  if (daemon === undefined) {
    throw new LabError(`the Docker daemon of ${host.name} was not started`);
  }
  await runHostContainers(daemon, host, build.tarball);
  const mtu = await deviceMtu(host.namespace, DOCKER_BRIDGE);
  if (mtu === undefined) {
    throw new LabError(`dockerd on ${host.name} started containers but no ${DOCKER_BRIDGE}`);
  }
  return mtu;
}

/**
 * Imports the lab image from `tarball` and starts the host's containers with `docker run`,
 * one after the other so that Docker gives c0 the first free address, c1 the next and so on.
 * Records each container's id, address and network namespace file in `host`.
 */
export async function runHostContainers(
  daemon: DockerDaemon,
  host: LabHost,
  tarball: string,
): Promise<void> {
  await ensureImage(daemon, tarball);
  for (const container of host.containers) {
    const started = await runContainer(daemon, container.name);
    recordContainer(container, started);
  }
}

function recordContainer(
  container: LabContainer,
  started: { id: string; ip: string; netnsPath: string },
): boolean {
  const changed =
    container.dockerId !== started.id ||
    container.ip !== started.ip ||
    container.namespacePath !== started.netnsPath;
  container.dockerId = started.id;
  container.ip = started.ip;
  container.namespacePath = started.netnsPath;
  return changed;
}

/**
 * Reads every Docker container of the lab again and updates its address and network
 * namespace file, which change when dockerd or the container restarts. A container that does
 * not run keeps its record, so that checks of it fail rather than vanish. Returns whether a
 * record changed.
 */
export async function refreshDockerContainers(lab: Lab): Promise<boolean> {
  let changed = false;
  for (const host of lab.hosts) {
    if (host.docker === undefined || !host.containers.some((c) => c.dockerId !== undefined)) {
      continue;
    }
    const daemon = await attachDockerd(host.namespace, dockerDirectory(host));
    for (const container of host.containers) {
      const current = await inspectContainer(daemon, container.name);
      if (current.running && current.ip !== "") {
        changed = recordContainer(container, current) || changed;
      }
    }
  }
  return changed;
}

/**
 * Reads a lab that must exist, with the current address and network namespace file of each
 * Docker container, and records them in `lab.json` when they changed.
 */
export async function loadCurrentLab(name: string, root: string = LAB_ROOT): Promise<Lab> {
  const lab = await loadLab(name, root);
  if (await refreshDockerContainers(lab)) {
    await writeLab(root, lab);
  }
  return lab;
}

/**
 * Restarts a lab host's dockerd and waits until its containers run again. dockerd stops its
 * containers and starts them with new processes, and possibly with each other's addresses,
 * so their records are refreshed. With `apply`, `ovs-mesh apply` runs on the host afterwards,
 * as a host without an agent needs when dockerd has re-created docker0: br0 then is no
 * longer a port of it, and the cluster route is gone.
 */
export async function restartHostDocker(
  lab: Lab,
  host: LabHost,
  options: { apply: boolean },
): Promise<void> {
  const daemon = await attachDockerd(host.namespace, dockerDirectory(host));
  await daemon.restart();
  for (const container of host.containers) {
    recordContainer(container, await waitForContainer(daemon, container.name));
  }
  if (options.apply) {
    await configureHost(lab, host);
  }
}

/**
 * Stops the Docker daemon of a host's run directory, if it has one, and removes what it left
 * outside the directory. Works from the files alone, so `lab down` also cleans up a host
 * whose daemon was started but never recorded. Returns whether the host had a Docker
 * directory.
 */
export async function stopHostDocker(host: Pick<LabHost, "runDirectory">): Promise<boolean> {
  const dir = dockerDirectory(host);
  try {
    if (!(await stat(dir)).isDirectory()) {
      return false;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return false;
    }
    throw error;
  }
  await stopDockerd(dir);
  return true;
}

/**
 * Returns the argv and environment of `docker exec` in a container of a lab host. The socket
 * is derived from the host's run directory rather than read from `lab.json`, so a damaged
 * file cannot point the client at another daemon. DOCKER_CONFIG points into the daemon's
 * state directory, so the client neither reads nor writes ~/.docker.
 */
export function dockerExecCommand(
  host: Pick<LabHost, "runDirectory">,
  container: Pick<LabContainer, "name">,
  argv: readonly string[],
  tty: boolean,
): { argv: string[]; env: Record<string, string> } {
  const paths = daemonPaths(dockerDirectory(host));
  const flags = tty ? ["--interactive", "--tty"] : ["--interactive"];
  return {
    argv: ["docker", "-H", `unix://${paths.socket}`, "exec", ...flags, container.name, ...argv],
    env: { DOCKER_CONFIG: paths.clientConfig },
  };
}
