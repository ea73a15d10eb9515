import { setTimeout as sleep } from "node:timers/promises";
import { readStatusFile, statusFilePath } from "../agent/status-file.js";
import { run } from "../host/exec.js";
import { formatIpv4, gatewayAddress, parseCidr } from "../plan/ipv4.js";
import { agentLogTail, findAgent } from "./agents.js";
import { hostStateDirectory } from "./ovs-daemons.js";
import { readStoreHosts } from "./cluster-store.js";
import { DOCKER_BRIDGE } from "./containers.js";
import { LabError } from "./errors.js";
import { runIn } from "./namespaces.js";
import type { Lab, LabHost } from "./lab.js";
import { containerAddress } from "./topology.js";

/** Time that agents get to join, and then to converge, before the lab gives up. */
export const DEFAULT_AGENT_TIMEOUT_MS = 180_000;

const POLL_MS = 250;

/**
 * Waits until the store lists every host in `hosts`, and sets each host's subnet, gateway and
 * container addresses from the subnet that its agent claimed. Fails early when an agent has
 * exited, with the end of its log.
 */
export async function waitForClaims(
  lab: Lab,
  hosts: readonly LabHost[],
  timeoutMs = DEFAULT_AGENT_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const claimed = new Map((await readStoreHosts(lab)).map((spec) => [spec.name, spec]));
    const missing = hosts.filter((host) => !claimed.has(host.name));
    if (missing.length === 0) {
      for (const host of hosts) {
        const spec = claimed.get(host.name);
        if (spec !== undefined) {
          assignSubnet(lab, host, spec.subnet);
        }
      }
      return;
    }
    for (const host of missing) {
      await failIfStopped(host, "joining the cluster");
    }
    if (Date.now() > deadline) {
      const names = missing.map((host) => host.name).join(", ");
      throw new LabError(
        `${names} did not join the cluster within ${timeoutMs / 1000} s; see their agents' logs, such as ${missing[0]?.agent?.logFile ?? "agent.log"}`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Sets a host's subnet, the gateway of docker0, and its containers' addresses. */
export function assignSubnet(lab: Lab, host: LabHost, subnet: string): void {
  const network = parseCidr(subnet);
  if (network === undefined || network.length !== lab.subnetLength) {
    throw new LabError(
      `the store gives ${host.name} subnet ${JSON.stringify(subnet)}, expected a /${lab.subnetLength} network`,
    );
  }
  host.subnet = subnet;
  host.gateway = formatIpv4(gatewayAddress(network));
  host.containers.forEach((container, index) => {
    container.ip = containerAddress(subnet, index);
  });
}

/**
 * Waits until the host's agent has created docker0 with the gateway address of the host's
 * subnet, so that containers can be attached to it.
 */
export async function waitForBridge(
  lab: Lab,
  host: LabHost,
  timeoutMs = DEFAULT_AGENT_TIMEOUT_MS,
  pollMs = POLL_MS,
): Promise<void> {
  const expected = `${host.gateway}/${lab.subnetLength}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout, code } = await run(
      ["ip", "-n", host.namespace, "-j", "address", "show", "dev", DOCKER_BRIDGE],
      { okCodes: [0, 1] },
    );
    if (code === 0 && bridgeAddresses(stdout).includes(expected)) {
      return;
    }
    await failIfStopped(host, `creating ${DOCKER_BRIDGE}`);
    if (Date.now() > deadline) {
      throw new LabError(
        `the agent of ${host.name} did not give ${DOCKER_BRIDGE} the address ${expected} within ${timeoutMs / 1000} s; see ${host.agent?.logFile ?? "its log"}`,
      );
    }
    await sleep(pollMs);
  }
}

/** Returns the addresses of `ip -j address show` output as ADDRESS/LENGTH. */
function bridgeAddresses(json: string): string[] {
  const links: unknown = JSON.parse(json);
  if (!Array.isArray(links)) {
    return [];
  }
  return links.flatMap((link: unknown) => {
    const info = typeof link === "object" && link !== null ? (link as { addr_info?: unknown }) : {};
    return Array.isArray(info.addr_info)
      ? info.addr_info.map((entry: { local?: unknown; prefixlen?: unknown }) =>
          typeof entry.local === "string" ? `${entry.local}/${String(entry.prefixlen)}` : "",
        )
      : [];
  });
}

/**
 * Waits until every agent of the lab has converged: its last reconcile succeeded (/healthz)
 * and its status file lists exactly the lab's other hosts as peers, with its own subnet.
 */
export async function waitForConvergence(
  lab: Lab,
  timeoutMs = DEFAULT_AGENT_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending: string[] = [];
    for (const host of lab.hosts) {
      const problem = await convergenceProblem(lab, host);
      if (problem !== undefined) {
        pending.push(`${host.name}: ${problem}`);
      }
    }
    if (pending.length === 0) {
      return;
    }
    if (Date.now() > deadline) {
      throw new LabError(
        `the agents did not converge within ${timeoutMs / 1000} s: ${pending.join("; ")}`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Returns why a host's agent has not converged, or undefined when it has. */
export async function convergenceProblem(lab: Lab, host: LabHost): Promise<string | undefined> {
  if ((await findAgent(host)) === undefined) {
    return `its agent is not running; last lines of its log:\n${await agentLogTail(host)}`;
  }
  const status = await readStatusFile(statusFilePath(hostStateDirectory(host)));
  if (status === undefined) {
    return "its agent has not reconciled yet";
  }
  if (status.subnet !== host.subnet) {
    return `its agent reports subnet ${status.subnet}, the lab expects ${host.subnet}`;
  }
  const expected = lab.hosts.filter((peer) => peer !== host).map((peer) => peer.name);
  const actual = status.peers.map((peer) => peer.name);
  if (expected.sort().join(",") !== actual.sort().join(",")) {
    return `its agent has peers [${actual.join(", ")}], expected [${expected.join(", ")}]`;
  }
  const address = host.agent?.metricsAddress;
  if (address !== undefined) {
    // busybox wget exits with 1 on the 503 that /healthz returns after a failed reconcile.
    // Its own timeout option (-T) crashes busybox 1.35 on Debian 12, so run() times it out.
    const { code } = await runIn(
      host.namespace,
      ["busybox", "wget", "-q", "-O", "/dev/null", `http://${address}/healthz`],
      { okCodes: [0, 1], timeoutMs: 5000 },
    );
    if (code !== 0) {
      return `its agent's last reconcile failed (${address}/healthz); see ${host.agent?.logFile ?? "its log"}`;
    }
  }
  return undefined;
}

async function failIfStopped(host: LabHost, during: string): Promise<void> {
  if ((await findAgent(host)) === undefined) {
    throw new LabError(
      `the agent of ${host.name} exited while ${during}; last lines of its log:\n${await agentLogTail(host)}`,
    );
  }
}
