import { createHash } from "node:crypto";
import { readFile, readdir, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../host/exec.js";
import { exists, field, readOptional, readPid, waitUntil } from "./docker-files.js";
import {
  CGROUP_PREFIX,
  CONTAINERD_NAMESPACE,
  SHARED_DOCKER_DIRS,
  SHIM_SOCKET_DIR,
  daemonPaths,
  type DaemonPaths,
} from "./docker-paths.js";
import {
  CONTAINERD_STOP_TIMEOUT_MS,
  DOCKERD_STOP_TIMEOUT_MS,
  anyRunning,
  signal,
  stopProcess,
} from "./docker-process.js";

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
