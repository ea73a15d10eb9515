import { LabError } from "./errors.js";
import { runIp } from "./namespaces.js";
import { LAB_ROOT } from "./names.js";
import { loadLab } from "./state.js";

/** State of a host's underlay link. */
export type LinkState = "up" | "down";

export const LINK_STATES: readonly LinkState[] = ["up", "down"];

/**
 * Sets a lab host's underlay link up or down, as plugging or pulling its cable would. The
 * switch side of the host's veth changes state, so the host loses its carrier as well, and
 * nothing inside the host is touched.
 */
export async function setHostLink(
  name: string,
  hostName: string,
  state: LinkState,
  root: string = LAB_ROOT,
): Promise<void> {
  const lab = await loadLab(name, root);
  const host = lab.hosts.find((candidate) => candidate.name === hostName);
  if (host === undefined) {
    const names = lab.hosts.map((candidate) => candidate.name).join(", ");
    throw new LabError(
      `host ${JSON.stringify(hostName)} not found in lab ${lab.name}: its hosts are ${names}`,
    );
  }
  // The switch side of each host's underlay veth has the host's name (see createHost).
  await runIp(lab.switchNamespace, ["link", "set", host.name, state]);
}
