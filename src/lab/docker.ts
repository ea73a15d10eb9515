import { createHash } from "node:crypto";
import { constants } from "node:fs";
import {
  access,
  copyFile,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rm,
  rmdir,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { CommandError, run, type RunOptions, type RunResult } from "../host/exec.js";
import { parseIpv4 } from "../plan/ipv4.js";

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
  /** Address and prefix length of docker0, such as "10.240.1.1/24". */
  bip: string;
  /** MTU of docker0's containers. */
  mtu: number;
  /** Milliseconds to wait for each daemon to accept requests; 30 s when absent. */
  startTimeoutMs?: number;
}

/** Image that {@link ensureImage} builds and {@link runContainer} runs. */
export const LAB_IMAGE = "ovs-mesh/busybox";

/** The statically linked busybox of Debian's busybox-static package. */
const BUSYBOX = "/bin/busybox";

const START_TIMEOUT_MS = 30_000;
/** Covers dockerd's default "shutdown-timeout" of 15 s, which it allows its containers. */
const DOCKERD_STOP_TIMEOUT_MS = 45_000;
const CONTAINERD_STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 100;
/** sun_path has room for 108 bytes, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
/** Directory of containerd 1.6's shim sockets; containerd does not let it be changed. */
const SHIM_SOCKET_DIR = "/run/containerd/s";
/** Directory that dockerd 20.10 creates for plugin sockets, whatever its exec-root. */
const PLUGIN_DIR = "/run/docker/plugins";
/**
 * Directories outside every state directory that dockerd and containerd create and that all
 * daemons on the machine share, children first.
 */
export const SHARED_DOCKER_DIRS: readonly string[] = [
  SHIM_SOCKET_DIR,
  dirname(SHIM_SOCKET_DIR),
  PLUGIN_DIR,
  dirname(PLUGIN_DIR),
];
/**
 * Prefix of each daemon's parent cgroup. {@link stopDockerd} kills every process in that
 * cgroup, so the prefix keeps it away from cgroups that ovs-mesh did not create.
 */
export const CGROUP_PREFIX = "ovs-mesh-lab-";
/** containerd namespace that dockerd puts its containers in. */
const CONTAINERD_NAMESPACE = "moby";

/** Files and directories of one daemon, all under its state directory. */
function daemonPaths(dir: string) {
  return {
    config: join(dir, "daemon.json"),
    containerdConfig: join(dir, "containerd.toml"),
    socket: join(dir, "docker.sock"),
    containerdSocket: join(dir, "containerd", "containerd.sock"),
    containerdTtrpcSocket: join(dir, "containerd", "containerd.sock.ttrpc"),
    containerdRoot: join(dir, "containerd", "root"),
    containerdState: join(dir, "containerd", "state"),
    containerdOpt: join(dir, "containerd", "opt"),
    dataRoot: join(dir, "data"),
    execRoot: join(dir, "exec"),
    dockerdPidfile: join(dir, "exec", "dockerd.pid"),
    keyFile: join(dir, "key.json"),
    clientConfig: join(dir, "client"),
    dockerdPid: join(dir, "dockerd.pid"),
    containerdPid: join(dir, "containerd.pid"),
    dockerdLog: join(dir, "dockerd.log"),
    containerdLog: join(dir, "containerd.log"),
  };
}

type DaemonPaths = ReturnType<typeof daemonPaths>;

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
  await writeFile(paths.config, `${JSON.stringify(dockerdConfig(paths, options), null, 2)}\n`);

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

async function checkDockerdOptions(options: DockerdOptions): Promise<void> {
  if (!/^[A-Za-z0-9_.-]+$/.test(options.netns) || options.netns.startsWith(".")) {
    throw new RangeError(`invalid network namespace name ${JSON.stringify(options.netns)}`);
  }
  if (!(await exists(join("/run/netns", options.netns)))) {
    throw new RangeError(
      `network namespace ${options.netns} not found: create it with "ip netns add ${options.netns}"`,
    );
  }
  if (!isAbsolute(options.dir)) {
    throw new RangeError(`state directory ${JSON.stringify(options.dir)} must be an absolute path`);
  }
  const longest = daemonPaths(options.dir).containerdTtrpcSocket;
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
    throw new RangeError(
      `state directory ${options.dir} is too long: the socket ${longest} exceeds ${MAX_SOCKET_PATH} bytes; use a shorter directory`,
    );
  }
  const [address = "", length = ""] = options.bip.split("/");
  const prefixLength = Number(length);
  if (
    parseIpv4(address) === undefined ||
    !/^\d+$/.test(length) ||
    prefixLength < 1 ||
    prefixLength > 30
  ) {
    throw new RangeError(
      `invalid bip ${JSON.stringify(options.bip)}: write the bridge address with its prefix length, such as 10.240.1.1/24`,
    );
  }
  if (!Number.isInteger(options.mtu) || options.mtu < 68 || options.mtu > 65535) {
    throw new RangeError(`invalid MTU ${options.mtu}: expected an integer from 68 to 65535`);
  }
}

/**
 * dockerd's configuration. "containerd" is always set: without it, dockerd 20.10 uses the
 * system's containerd whenever /run/containerd/containerd.sock exists. "deprecated-key-path"
 * keeps dockerd from writing /etc/docker/key.json. "cgroup-parent" gives the containers
 * cgroups of their own, which {@link stopDockerd} removes.
 */
function dockerdConfig(paths: DaemonPaths, options: DockerdOptions): Record<string, unknown> {
  return {
    bip: options.bip,
    mtu: options.mtu,
    "data-root": paths.dataRoot,
    "exec-root": paths.execRoot,
    pidfile: paths.dockerdPidfile,
    hosts: [`unix://${paths.socket}`],
    containerd: paths.containerdSocket,
    "deprecated-key-path": paths.keyFile,
    "cgroup-parent": `/${CGROUP_PREFIX}${options.netns}`,
    iptables: true,
  };
}

/**
 * containerd's configuration: sockets and directories in the state directory, no debug or
 * metrics listener, and no CRI plugin, which Docker does not use.
 */
function containerdConfig(paths: DaemonPaths): string {
  const quote = (text: string) => JSON.stringify(text);
  return [
    "version = 2",
    `root = ${quote(paths.containerdRoot)}`,
    `state = ${quote(paths.containerdState)}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    "[grpc]",
    `  address = ${quote(paths.containerdSocket)}`,
    "[ttrpc]",
    `  address = ${quote(paths.containerdTtrpcSocket)}`,
    "[debug]",
    '  address = ""',
    "[metrics]",
    '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${quote(paths.containerdOpt)}`,
    "",
  ].join("\n");
}

// --- Processes ---

/**
 * Starts `argv` detached inside the network namespace and returns its process id.
 * `nsenter --net` is used rather than `ip netns exec`, which remounts /sys, after which
 * dockerd fails with "Devices cgroup isn't mounted". nsenter execs the program, so the
 * recorded process id is the daemon's.
 */
async function launch(
  netns: string,
  pidPath: string,
  logPath: string,
  argv: readonly string[],
): Promise<number> {
  await rm(pidPath, { force: true });
  const nsenter = await findProgram("nsenter");
  await run([
    "start-stop-daemon",
    "--start",
    "--background",
    "--make-pidfile",
    "--pidfile",
    pidPath,
    "--output",
    logPath,
    "--startas",
    nsenter,
    "--",
    `--net=/run/netns/${netns}`,
    ...argv,
  ]);
  let pid: number | undefined;
  await waitUntil(async () => {
    pid = await readPid(pidPath);
    return pid !== undefined;
  }, 5_000);
  if (pid === undefined) {
    throw new Error(`start-stop-daemon wrote no process id to ${pidPath} for ${argv.join(" ")}`);
  }
  return pid;
}

/** Raises an Error with the end of the log unless `ready()` returns true. */
async function checkStarted(
  program: string,
  pid: number,
  logPath: string,
  logOffset: number,
  timeoutMs: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  if (await ready()) {
    return;
  }
  const reason = (await isRunning(pid)) ? `did not answer within ${timeoutMs} ms` : "exited";
  throw new Error(
    `${program} (process ${pid}) ${reason}; last lines of ${logPath}:\n${await logTail(logPath, logOffset)}`,
  );
}

/** Returns whether `docker info` succeeds; false while dockerd starts, hangs or is gone. */
async function dockerResponds(daemon: Pick<DockerDaemon, "socket" | "dir">): Promise<boolean> {
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

/** Process ids of the daemons of a state directory that are still running. */
async function findRunning(
  paths: DaemonPaths,
): Promise<{ dockerd: number | undefined; containerd: number | undefined }> {
  const dockerd = await readPid(paths.dockerdPid);
  const containerd = await readPid(paths.containerdPid);
  return {
    dockerd: dockerd !== undefined && (await isOurs(dockerd, paths.config)) ? dockerd : undefined,
    containerd:
      containerd !== undefined && (await isOurs(containerd, paths.containerdConfig))
        ? containerd
        : undefined,
  };
}

/**
 * Returns whether `pid` is running with `marker` (a path in the state directory) among its
 * arguments, so that a process id reused by an unrelated program is never signalled.
 */
async function isOurs(pid: number, marker: string): Promise<boolean> {
  if (!(await isRunning(pid))) {
    return false;
  }
  const cmdline = await readOptional(`/proc/${pid}/cmdline`);
  return cmdline !== undefined && cmdline.split("\0").includes(marker);
}

/**
 * Returns whether a process exists and is not a zombie. Detached daemons are children of
 * PID 1, and a PID 1 that is slow to reap (as in some VMs and containers) leaves them as
 * zombies for a while after they exit.
 */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await readOptional(`/proc/${pid}/stat`);
  if (stat === undefined) {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** Sends SIGTERM, waits up to `timeoutMs`, then sends SIGKILL and waits again. */
async function stopProcess(pid: number, marker: string, timeoutMs: number): Promise<void> {
  if (!(await isOurs(pid, marker))) {
    return;
  }
  signal(pid, "SIGTERM");
  await waitUntil(async () => !(await isRunning(pid)), timeoutMs);
  if (await isRunning(pid)) {
    signal(pid, "SIGKILL");
    await waitUntil(async () => !(await isRunning(pid)), 10_000);
  }
  if (await isRunning(pid)) {
    throw new Error(`process ${pid} (${marker}) still runs after SIGKILL`);
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // The process exited between the check and the signal.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") {
      throw error;
    }
  }
}

// --- Stopping and cleaning up ---

/**
 * Stops the daemons of a state directory and removes what they leave outside it. Works from
 * the files alone, so it also cleans up after a crash of this process or of the daemons,
 * and running it again changes nothing. It stops dockerd, which stops its containers, and
 * then containerd. It kills any shim or container process that still runs, found by
 * containerd socket and by cgroup. Then it removes the cgroups, the shim sockets and the
 * mounts under the directory. {@link removeSharedDockerDirs} handles the shared directories.
 */
export async function stopDockerd(dir: string): Promise<void> {
  const paths = daemonPaths(dir);
  const dockerd = await readPid(paths.dockerdPid);
  if (dockerd !== undefined) {
    await stopProcess(dockerd, paths.config, DOCKERD_STOP_TIMEOUT_MS);
  }
  const containerd = await readPid(paths.containerdPid);
  if (containerd !== undefined) {
    await stopProcess(containerd, paths.containerdConfig, CONTAINERD_STOP_TIMEOUT_MS);
  }

  await killShims(paths.containerdSocket);
  const cgroupParent = await readCgroupParent(paths.config);
  if (cgroupParent !== undefined) {
    await removeCgroups(cgroupParent);
  }
  await removeShimSockets(paths);
  await unmountUnder(dir);
  await rm(paths.dockerdPid, { force: true });
  await rm(paths.containerdPid, { force: true });
}

/** Kills the containerd shims that serve this daemon's containerd; none after a clean stop. */
async function killShims(containerdSocket: string): Promise<void> {
  const shims: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const argv = (await readOptional(`/proc/${entry}/cmdline`))?.split("\0") ?? [];
    const address = argv.indexOf("-address");
    if (
      argv[0]?.endsWith("containerd-shim-runc-v2") === true &&
      address >= 0 &&
      argv[address + 1] === containerdSocket
    ) {
      shims.push(Number(entry));
    }
  }
  for (const pid of shims) {
    signal(pid, "SIGKILL");
  }
  await waitUntil(async () => !(await anyRunning(shims)), 10_000);
}

async function anyRunning(pids: readonly number[]): Promise<boolean> {
  for (const pid of pids) {
    if (await isRunning(pid)) {
      return true;
    }
  }
  return false;
}

async function readCgroupParent(configPath: string): Promise<string | undefined> {
  const text = await readOptional(configPath);
  if (text === undefined) {
    return undefined;
  }
  const config: unknown = JSON.parse(text);
  const parent = field(config, "cgroup-parent");
  // Accepts only a cgroup that startDockerd names, so that an edited file cannot point the
  // kill at another cgroup.
  const pattern = new RegExp(`^/${CGROUP_PREFIX}[A-Za-z0-9_.-]+$`);
  if (typeof parent !== "string" || !pattern.test(parent)) {
    return undefined;
  }
  return parent;
}

/**
 * Kills the processes left in the daemon's cgroups (containers whose shim died) and removes
 * the cgroups, deepest first, in every mounted cgroup hierarchy.
 */
async function removeCgroups(parent: string): Promise<void> {
  const roots = (await mountPoints())
    .filter((mount) => mount.type === "cgroup" || mount.type === "cgroup2")
    .map((mount) => join(mount.path, parent));
  const directories: string[] = [];
  for (const root of roots) {
    directories.push(...(await directoriesUnder(root)));
  }

  const pids = new Set<number>();
  for (const directory of directories) {
    const procs = (await readOptional(join(directory, "cgroup.procs"))) ?? "";
    for (const line of procs.split("\n")) {
      if (/^\d+$/.test(line)) {
        pids.add(Number(line));
      }
    }
  }
  for (const pid of pids) {
    signal(pid, "SIGKILL");
  }
  await waitUntil(async () => !(await anyRunning([...pids])), 10_000);

  // Deepest first: a cgroup with children cannot be removed.
  directories.sort((a, b) => b.length - a.length);
  for (const directory of directories) {
    await removeDirectoryIfPresent(directory);
  }
}

/** Lists a directory and every directory below it; none when it does not exist. */
async function directoriesUnder(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return [];
    }
    throw error;
  }
  const result = [root];
  for (const entry of entries) {
    if (entry.isDirectory()) {
      result.push(...(await directoriesUnder(join(root, entry.name))));
    }
  }
  return result;
}

async function removeDirectoryIfPresent(path: string): Promise<void> {
  try {
    await rmdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw error;
    }
  }
}

/**
 * Removes the shim sockets of this daemon's containers. A shim removes its socket when it
 * exits cleanly; a killed one leaves it. containerd 1.6 names the socket after
 * sha256(containerd address + "/" + namespace + "/" + container id).
 */
async function removeShimSockets(paths: DaemonPaths): Promise<void> {
  let ids: string[];
  try {
    ids = await readdir(join(paths.dataRoot, "containers"));
  } catch (error) {
    // ENOTDIR: the data root is not a directory, so dockerd never ran a container there.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      return;
    }
    throw error;
  }
  for (const id of ids) {
    const key = join(paths.containerdSocket, CONTAINERD_NAMESPACE, id);
    const name = createHash("sha256").update(key).digest("hex");
    await rm(join(SHIM_SOCKET_DIR, name), { force: true });
  }
}

/**
 * Unmounts what the daemons left mounted under the state directory after a crash: container
 * root file systems and network namespace files. Deepest first.
 */
async function unmountUnder(dir: string): Promise<void> {
  const prefix = `${dir}/`;
  const targets = (await mountPoints())
    .map((mount) => mount.path)
    .filter((path) => path.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const target of targets) {
    // --no-mtab: without it, util-linux creates /run/mount to record the change in utab.
    await run(["umount", "--no-mtab", target]);
  }
}

interface MountPoint {
  path: string;
  type: string;
}

/** Lists the mount points of this process's mount namespace from /proc/self/mountinfo. */
async function mountPoints(): Promise<MountPoint[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  const mounts: MountPoint[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-");
    const path = fields[4];
    const type = fields[separator + 1];
    if (separator < 0 || path === undefined || type === undefined) {
      continue;
    }
    // mountinfo writes space, tab, newline and backslash as octal escapes.
    const decoded = path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(parseInt(octal, 8)),
    );
    mounts.push({ path: decoded, type });
  }
  return mounts;
}

/**
 * Returns the directories of {@link SHARED_DOCKER_DIRS} that do not exist. Call it before
 * the first {@link startDockerd} and pass the result to {@link removeSharedDockerDirs} after
 * the last {@link stopDockerd}, so that only directories the daemons created are removed.
 */
export async function missingSharedDockerDirs(): Promise<string[]> {
  const missing: string[] = [];
  for (const directory of SHARED_DOCKER_DIRS) {
    if (!(await exists(directory))) {
      missing.push(directory);
    }
  }
  return missing;
}

/** Removes those of `directories` that are empty, children first; others stay. */
export async function removeSharedDockerDirs(directories: readonly string[]): Promise<void> {
  for (const directory of SHARED_DOCKER_DIRS) {
    if (!directories.includes(directory)) {
      continue;
    }
    try {
      await rmdir(directory);
    } catch (error) {
      // ENOTEMPTY: a daemon that still runs has sockets in it.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTEMPTY") {
        throw error;
      }
    }
  }
}

// --- The docker client, the image and containers ---

/**
 * Runs the docker client against the daemon. DOCKER_CONFIG points into the state directory,
 * so the client neither reads nor writes ~/.docker.
 */
export function docker(
  daemon: Pick<DockerDaemon, "socket" | "dir">,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return run(["docker", "-H", `unix://${daemon.socket}`, ...args], {
    ...options,
    env: { ...options.env, DOCKER_CONFIG: daemonPaths(daemon.dir).clientConfig },
  });
}

/**
 * Imports {@link LAB_IMAGE} into the daemon unless it is there already: a root file system
 * with the static busybox and a symbolic link per applet, because no registry is reachable
 * to pull from. Returns whether it imported the image.
 */
export async function ensureImage(daemon: DockerDaemon): Promise<boolean> {
  const { stdout } = await docker(daemon, ["image", "ls", "--quiet", LAB_IMAGE]);
  if (stdout.trim() !== "") {
    return false;
  }
  const workDir = await mkdtemp(join(tmpdir(), "ovs-mesh-image-"));
  try {
    const tarball = await buildImageTarball(workDir);
    await docker(daemon, ["import", "--change", 'CMD ["sleep", "infinity"]', tarball, LAB_IMAGE], {
      timeoutMs: 120_000,
    });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return true;
}

async function buildImageTarball(workDir: string): Promise<string> {
  const binary = await readOptionalBuffer(BUSYBOX);
  if (binary === undefined || !isStaticElf(binary)) {
    throw new Error(
      `${BUSYBOX} is missing or dynamically linked, so it cannot run alone in an image; install Debian's busybox-static`,
    );
  }
  const rootfs = join(workDir, "rootfs");
  await mkdir(join(rootfs, "bin"), { recursive: true });
  await mkdir(join(rootfs, "tmp"), { mode: 0o1777 });
  await copyFile(BUSYBOX, join(rootfs, "bin", "busybox"));

  const { stdout } = await run([BUSYBOX, "--list-full"]);
  for (const applet of stdout.split("\n")) {
    if (applet === "" || applet === "bin/busybox" || applet.includes("..")) {
      continue;
    }
    await mkdir(join(rootfs, dirname(applet)), { recursive: true });
    await symlink("/bin/busybox", join(rootfs, applet));
  }

  const tarball = join(workDir, "rootfs.tar");
  await run([
    "tar",
    "--create",
    "--file",
    tarball,
    "--directory",
    rootfs,
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    ".",
  ]);
  return tarball;
}

/** Returns whether an ELF executable is static, that is, has no interpreter (PT_INTERP). */
function isStaticElf(binary: Buffer): boolean {
  const is64Bit = binary[4] === 2;
  const isLittleEndian = binary[5] === 1;
  if (binary.subarray(0, 4).toString("latin1") !== "\x7fELF" || !is64Bit || !isLittleEndian) {
    return false;
  }
  const programHeaders = Number(binary.readBigUInt64LE(0x20));
  const entrySize = binary.readUInt16LE(0x36);
  const count = binary.readUInt16LE(0x38);
  const PT_INTERP = 3;
  for (let index = 0; index < count; index += 1) {
    if (binary.readUInt32LE(programHeaders + index * entrySize) === PT_INTERP) {
      return false;
    }
  }
  return true;
}

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

// --- Small helpers ---

function field(value: unknown, key: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return undefined;
  }
  return (value as Record<string, unknown>)[key];
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() >= deadline) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function readPid(path: string): Promise<number | undefined> {
  const text = (await readOptional(path))?.trim();
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

async function readOptional(path: string): Promise<string | undefined> {
  const buffer = await readOptionalBuffer(path);
  return buffer?.toString("utf8");
}

async function readOptionalBuffer(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    // ESRCH: a /proc entry of a process that exited while it was read.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH") {
      return undefined;
    }
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return false;
    }
    throw error;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return 0;
    }
    throw error;
  }
}

/** Returns the last 20 lines written to a log file after `offset`. */
async function logTail(path: string, offset: number): Promise<string> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const length = Math.max(0, size - offset);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer.toString("utf8").trimEnd().split("\n").slice(-20).join("\n");
  } finally {
    await handle.close();
  }
}

/** Finds a program in PATH, because start-stop-daemon needs an absolute path. */
async function findProgram(name: string): Promise<string> {
  for (const directory of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(directory, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "EACCES" && code !== "ENOTDIR") {
        throw error;
      }
    }
  }
  throw new Error(`${name} not found in PATH`);
}
