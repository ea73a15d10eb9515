import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { storeOptions } from "./cluster-store.js";
import { ovsMeshBinary } from "./configure.js";
import { dockerAgentOptions } from "./docker-hosts.js";
import { LabError } from "./errors.js";
import { runIn } from "./namespaces.js";
import { ovsEnvironment, hostStateDirectory } from "./ovs-daemons.js";
import {
  findDaemon,
  readPidfile,
  stopProcess,
  type ProcessInfo,
  type StopResult,
} from "./processes.js";
import type { Lab, LabAgent, LabHost } from "./lab.js";

/** Port of each lab agent's /metrics and /healthz endpoint, on the host's underlay address. */
export const AGENT_METRICS_PORT = 9464;

/** Time that `ovs-mesh leave` may take on a lab host. */
const LEAVE_TIMEOUT_MS = 120_000;

/** Plans the agent of a lab host: its metrics address, pidfile and log in the run directory. */
export function planAgent(host: LabHost): LabAgent {
  return {
    pid: null,
    metricsAddress: `${host.underlayIp}:${AGENT_METRICS_PORT}`,
    pidFile: join(host.runDirectory, "agent.pid"),
    logFile: join(host.runDirectory, "agent.log"),
  };
}

/** Options that point ovs-mesh at a lab host's own OVS daemons and state directory. */
function hostPathOptions(host: LabHost): string[] {
  return [
    ...["--ovsdb", host.dbSocket, "--ovs-rundir", host.runDirectory],
    ...["--state-dir", hostStateDirectory(host)],
  ];
}

/** Returns the `ovs-mesh agent` command of a lab host, as an operator would run it there. */
export function agentCommand(lab: Lab, host: LabHost, agent: LabAgent): string[] {
  return [
    ...[process.execPath, ovsMeshBinary(), "agent", ...storeOptions(lab)],
    ...["--host", host.name, "--underlay-ip", host.underlayIp, ...hostPathOptions(host)],
    ...["--metrics-address", agent.metricsAddress],
    ...dockerAgentOptions(host),
  ];
}

/**
 * Starts the agent of a lab host in the background inside the host's namespace, with its
 * output appended to its log file, and returns its process id.
 */
export async function startAgent(lab: Lab, host: LabHost, agent: LabAgent): Promise<number> {
  const [program, ...args] = agentCommand(lab, host, agent);
  if (program === undefined) {
    throw new RangeError("agentCommand returned an empty command");
  }
  // start-stop-daemon writes the pidfile before it starts the program, and refuses to start
  // a second agent while the pidfile names one that runs.
  await runIn(
    host.namespace,
    [
      ...["start-stop-daemon", "--start", "--background", "--make-pidfile"],
      ...["--pidfile", agent.pidFile, "--output", agent.logFile, "--exec", program, "--"],
      ...args,
    ],
    { env: ovsEnvironment(host) },
  );
  const pid = await readPidfile(agent.pidFile);
  if (pid === undefined) {
    throw new LabError(`the agent of ${host.name} started but wrote no pid to ${agent.pidFile}`);
  }
  return pid;
}

/**
 * Finds the running agent of a lab host from its recorded pid or its pidfile. Only a node
 * process whose arguments name the host's run directory counts.
 */
export async function findAgent(host: LabHost): Promise<ProcessInfo | undefined> {
  const agent = host.agent ?? planAgent(host);
  const program = basename(process.execPath);
  for (const pid of [agent.pid, await readPidfile(agent.pidFile)]) {
    if (pid !== null && pid !== undefined) {
      // The trailing slash keeps host1's run directory from matching host10's.
      const info = await findDaemon(pid, program, `${host.runDirectory}/`);
      if (info !== undefined) {
        return info;
      }
    }
  }
  return undefined;
}

/** An agent that {@link stopAgent} stopped. */
export interface StoppedAgent {
  host: string;
  pid: number;
  how: StopResult;
}

/**
 * Stops a lab host's agent with SIGTERM (SIGKILL after 5 s), which leaves the host's data
 * plane in place. Returns undefined when no agent runs.
 */
export async function stopAgent(host: LabHost): Promise<StoppedAgent | undefined> {
  const info = await findAgent(host);
  const how = info === undefined ? undefined : await stopProcess(info);
  if (info === undefined || how === undefined) {
    return undefined;
  }
  return { host: host.name, pid: info.pid, how };
}

/**
 * Runs `ovs-mesh leave` in a lab host's namespace: removes the host from the store, which
 * makes every peer drop its tunnels to it, and removes what ovs-mesh created on the host.
 */
export async function leaveStore(lab: Lab, host: LabHost): Promise<void> {
  await runIn(
    host.namespace,
    [
      ...[process.execPath, ovsMeshBinary(), "leave", ...storeOptions(lab)],
      ...["--host", host.name, ...hostPathOptions(host)],
    ],
    { env: ovsEnvironment(host), timeoutMs: LEAVE_TIMEOUT_MS },
  );
}

/** Returns the last lines of an agent's log, for error messages; a note when there is none. */
export async function agentLogTail(host: LabHost, lines = 5): Promise<string> {
  const path = (host.agent ?? planAgent(host)).logFile;
  try {
    const text = await readFile(path, "utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return `(no log at ${path})`;
    }
    throw error;
  }
}
