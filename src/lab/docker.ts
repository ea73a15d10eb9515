/**
 * Docker daemons for lab hosts: dockerd 20.10 with its own containerd inside a host's network
 * namespace, the busybox image that the lab builds, and containers of that image.
 */
export {
  attachDockerd,
  startDockerd,
  type DockerDaemon,
  type DockerdOptions,
} from "./docker-daemon.js";
export { missingSharedDockerDirs, removeSharedDockerDirs, stopDockerd } from "./docker-cleanup.js";
export { CGROUP_PREFIX, SHARED_DOCKER_DIRS } from "./docker-paths.js";
export { LAB_IMAGE, buildImageTarball, docker, ensureImage } from "./docker-image.js";
export {
  execInContainer,
  inspectContainer,
  removeContainer,
  runContainer,
  waitForContainer,
  type LabContainer,
  type RunContainerOptions,
} from "./docker-containers.js";
