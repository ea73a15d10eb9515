import { copyFile, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { run, type RunOptions, type RunResult } from "../host/exec.js";
import type { DockerDaemon } from "./docker-daemon.js";
import { readOptionalBuffer } from "./docker-files.js";
import { daemonPaths } from "./docker-paths.js";

/** Image that {@link ensureImage} builds and {@link runContainer} runs. */
export const LAB_IMAGE = "ovs-mesh/busybox";

/** The statically linked busybox of Debian's busybox-static package. */
const BUSYBOX = "/bin/busybox";

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
 * to pull from. `tarball` is a root file system from {@link buildImageTarball}, so that
 * several daemons import one build; without it, the image is built for this call. Returns
 * whether it imported the image.
 */
export async function ensureImage(daemon: DockerDaemon, tarball?: string): Promise<boolean> {
  const { stdout } = await docker(daemon, ["image", "ls", "--quiet", LAB_IMAGE]);
  if (stdout.trim() !== "") {
    return false;
  }
  if (tarball !== undefined) {
    await importImage(daemon, tarball);
    return true;
  }
  const workDir = await mkdtemp(join(tmpdir(), "ovs-mesh-image-"));
  try {
    await importImage(daemon, await buildImageTarball(workDir));
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return true;
}

async function importImage(daemon: DockerDaemon, tarball: string): Promise<void> {
  await docker(daemon, ["import", "--change", 'CMD ["sleep", "infinity"]', tarball, LAB_IMAGE], {
    timeoutMs: 120_000,
  });
}

/** Builds the root file system of {@link LAB_IMAGE} in `workDir` and returns its tar file. */
export async function buildImageTarball(workDir: string): Promise<string> {
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
