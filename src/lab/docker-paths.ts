/** Files of a lab Docker daemon, and the places outside its state directory that Docker fixes. */
import { dirname, join } from "node:path";

/** sun_path has room for 108 bytes, including the terminating NUL. */
export const MAX_SOCKET_PATH = 107;
/** Directory of containerd 1.6's shim sockets; containerd does not let it be changed. */
export const SHIM_SOCKET_DIR = "/run/containerd/s";
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
export const CONTAINERD_NAMESPACE = "moby";

/** Files and directories of one daemon, all under its state directory. */
export function daemonPaths(dir: string) {
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

export type DaemonPaths = ReturnType<typeof daemonPaths>;
