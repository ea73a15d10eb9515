import { writeDockerConfig } from "../host/docker-config.js";
import type { DesiredHost } from "../plan/state.js";
import type { Logger } from "./log.js";

/** Files in which the agent keeps Docker's settings for this host's subnet. */
export interface DockerConfigPaths {
  /** Docker's daemon.json; the agent sets `bip` and `mtu` in it and keeps every other key. */
  daemonJsonPath: string;
  /** Environment file with OVS_MESH_SUBNET, OVS_MESH_GATEWAY, OVS_MESH_MTU, OVS_MESH_RANGE. */
  envFilePath: string;
}

/**
 * Sets `bip` (the gateway of the host's subnet) and `mtu` (the inner MTU) in daemon.json and
 * writes the subnet environment file, as `ovs-mesh docker-config` does. Each file is written
 * only when its content changes. Docker reads daemon.json only when it starts, so a change
 * is logged as a warning that names what to restart. Returns whether daemon.json changed.
 */
export async function syncDockerConfig(
  paths: DockerConfigPaths,
  desired: Pick<DesiredHost, "subnet" | "innerMtu">,
  range: string,
  log: Logger,
): Promise<boolean> {
  const result = await writeDockerConfig({
    subnet: desired.subnet,
    range,
    innerMtu: desired.innerMtu,
    daemonJsonPath: paths.daemonJsonPath,
    envFilePath: paths.envFilePath,
  });
  if (result.envFileChanged) {
    log.info({ event: "subnet-file", path: result.envFilePath, subnet: desired.subnet });
  }
  if (result.daemonJsonChanged) {
    log.warn({
      event: "docker-config",
      path: result.daemonJsonPath,
      bip: result.bip,
      mtu: result.mtu,
      previousBip: result.previous.bip ?? null,
      previousMtu: result.previous.mtu ?? null,
      backup: result.backupPath ?? null,
      note: "Docker applies bip and mtu when it starts: restart Docker unless it has yet to start",
    });
  }
  return result.daemonJsonChanged;
}
