import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CommandError } from "../host/exec.js";
import { stopDockerd } from "./docker-cleanup.js";
import {
  checkDockerdOptions,
  containerdConfig,
  mergeDockerdConfig,
} from "./docker-daemon-config.js";
import { exists, fileSize, readOptional, waitUntil } from "./docker-files.js";
import { docker } from "./docker-image.js";
import { daemonPaths, type DaemonPaths } from "./docker-paths.js";
import {
  DOCKERD_STOP_TIMEOUT_MS,
  START_TIMEOUT_MS,
  checkStarted,
  findRunning,
  isRunning,
  launch,
  stopProcess,
} from "./docker-process.js";

/**
 * A Docker daemon (dockerd 20.10 with its own containerd) inside one network namespace.
 * Its files live in its state directory, except where Docker fixes the place: one cgroup
 * per hierarchy, named {@link CGROUP_PREFIX} and the namespace, which {@link stopDockerd}
 * removes, and the
 * {@link SHARED_DOCKER_DIRS}: /run/docker/plugins (empty) and /run/containerd/s (shim
 * sockets, gone when the shims exit).
 */
export interface DockerDaemon {
  readonly netns: string;
  readonly dir: string;
  /** Path of the daemon's API socket. */
  readonly socket: string;
  /** The daemon.json that dockerd reads at each start; `restart()` applies changes to it. */
  readonly configPath: string;
  readonly logPath: string;
  /** dockerd's process id; it changes with `restart()`. */
  readonly pid: number;
  readonly containerdPid: number;
  /** Stops dockerd (which stops its containers first) and containerd; see {@link stopDockerd}. */
  stop(): Promise<void>;
  /** Stops and starts dockerd; containers with the restart policy "always" start again. */
  restart(): Promise<void>;
}

/** Options for {@link startDockerd}. */
export interface DockerdOptions {
  /**
   * Name of an existing network namespace under /run/netns, holding no other Docker daemon.
   * It also names the containers' parent cgroup, after {@link CGROUP_PREFIX}.
   */
  netns: string;
  /** State directory, created when missing; an absolute path. */
  dir: string;
  /**
   * Address and prefix length of docker0, such as "10.240.1.1/24". When absent, the `bip`
   * that the state directory's daemon.json has already (from `ovs-mesh docker-config`) stays.
   */
  bip?: string;
  /** MTU of docker0's containers; when absent, the `mtu` of daemon.json stays. */
  mtu?: number;
  /** Milliseconds to wait for each daemon to accept requests; 30 s when absent. */
  startTimeoutMs?: number;
}

/**
 * Starts containerd and dockerd in a network namespace, both detached so that they outlive
 * this process, and waits until dockerd accepts requests. On failure it stops what it
 * started and raises an Error with the end of the daemon's log.
 */
export async function startDockerd(options: DockerdOptions): Promise<DockerDaemon> {
  await checkDockerdOptions(options);
  const paths = daemonPaths(options.dir);
  const timeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  const running = await findRunning(paths);
  if (running.dockerd !== undefined || running.containerd !== undefined) {
    throw new Error(
      `a Docker daemon of ${options.dir} is already running (dockerd ${running.dockerd ?? "-"}, containerd ${running.containerd ?? "-"}); stop it first`,
    );
  }

  await mkdir(join(options.dir, "containerd"), { recursive: true, mode: 0o700 });
  await writeFile(paths.containerdConfig, containerdConfig(paths));
  await writeFile(
    paths.config,
    mergeDockerdConfig(await readOptional(paths.config), paths, options),
  );

  try {
    const containerdLogOffset = await fileSize(paths.containerdLog);
    const containerdPid = await launch(options.netns, paths.containerdPid, paths.containerdLog, [
      "containerd",
      "--config",
      paths.containerdConfig,
    ]);
    await waitUntil(
      async () => (await exists(paths.containerdSocket)) || !(await isRunning(containerdPid)),
      timeoutMs,
    );
    await checkStarted(
      "containerd",
      containerdPid,
      paths.containerdLog,
      containerdLogOffset,
      timeoutMs,
      () => exists(paths.containerdSocket),
    );

    const daemon = new LabDockerDaemon(options.netns, options.dir, 0, containerdPid, timeoutMs);
    await daemon.startDockerd();
    return daemon;
  } catch (error) {
    try {
      await stopDockerd(options.dir);
    } catch (cleanupError) {
      throw new AggregateError(
        [error, cleanupError],
        `${messageOf(error)}; stopping the daemons of ${options.dir} afterwards failed too: ${messageOf(cleanupError)}`,
      );
    }
    throw error;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Returns a handle on a daemon that {@link startDockerd} started earlier, possibly in
 * another process. Raises an Error when its dockerd or containerd is not running.
 */
export async function attachDockerd(netns: string, dir: string): Promise<DockerDaemon> {
  const paths = daemonPaths(dir);
  const running = await findRunning(paths);
  if (running.dockerd === undefined || running.containerd === undefined) {
    throw new Error(
      `no Docker daemon of ${dir} is running (dockerd ${running.dockerd ?? "-"}, containerd ${running.containerd ?? "-"}); start it with startDockerd`,
    );
  }
  return new LabDockerDaemon(netns, dir, running.dockerd, running.containerd, START_TIMEOUT_MS);
}

class LabDockerDaemon implements DockerDaemon {
  readonly socket: string;
  readonly configPath: string;
  readonly logPath: string;
  private readonly paths: DaemonPaths;

  constructor(
    readonly netns: string,
    readonly dir: string,
    public pid: number,
    readonly containerdPid: number,
    private readonly timeoutMs: number,
  ) {
    this.paths = daemonPaths(dir);
    this.socket = this.paths.socket;
    this.configPath = this.paths.config;
    this.logPath = this.paths.dockerdLog;
  }

  /** Launches dockerd and waits until `docker info` succeeds. */
  async startDockerd(): Promise<void> {
    const logOffset = await fileSize(this.paths.dockerdLog);
    this.pid = await launch(this.netns, this.paths.dockerdPid, this.paths.dockerdLog, [
      "dockerd",
      "--config-file",
      this.paths.config,
    ]);
    const responds = () => dockerResponds(this);
    await waitUntil(async () => (await responds()) || !(await isRunning(this.pid)), this.timeoutMs);
    await checkStarted(
      "dockerd",
      this.pid,
      this.paths.dockerdLog,
      logOffset,
      this.timeoutMs,
      responds,
    );
  }

  stop(): Promise<void> {
    return stopDockerd(this.dir);
  }

  async restart(): Promise<void> {
    await stopProcess(this.pid, this.paths.config, DOCKERD_STOP_TIMEOUT_MS);
    await this.startDockerd();
  }
}

/** Returns whether `docker info` succeeds; false while dockerd starts, hangs or is gone. */
export async function dockerResponds(
  daemon: Pick<DockerDaemon, "socket" | "dir">,
): Promise<boolean> {
  try {
    const result = await docker(daemon, ["info", "--format", "{{.ServerVersion}}"], {
      timeoutMs: 5_000,
      okCodes: [0, 1],
    });
    return result.code === 0;
  } catch (error) {
    // A client killed at its timeout has no exit code.
    if (error instanceof CommandError && error.code === null) {
      return false;
    }
    throw error;
  }
}
