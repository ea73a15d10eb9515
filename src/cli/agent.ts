import { Agent } from "../agent/agent.js";
import { jsonLogger } from "../agent/log.js";
import { DEFAULT_ENV_FILE } from "../host/docker-config.js";
import { serveMetrics } from "../agent/metrics-server.js";
import { checkHostName } from "../plan/cluster.js";
import { parseCidr, parseIpv4 } from "../plan/ipv4.js";
import { FileStore } from "../store/file.js";
import type { ClusterStore } from "../store/store.js";
import { integerOption, parseOptions, required } from "./args.js";
import { UsageError, type Command } from "./command.js";
import { ETCD_OPTIONS, ETCD_USAGE, openEtcdStore, type EtcdOptionValues } from "./etcd-options.js";
import { HOST_OPTIONS, HOST_OPTIONS_USAGE, checkOvsRunDir, hostPaths } from "./host-options.js";

const OPTIONS = {
  ...ETCD_OPTIONS,
  ...HOST_OPTIONS,
  config: { type: "string" },
  host: { type: "string" },
  "underlay-ip": { type: "string" },
  subnet: { type: "string" },
  "resync-seconds": { type: "string" },
  "heartbeat-seconds": { type: "string" },
  "metrics-address": { type: "string" },
  "probe-seconds": { type: "string" },
  "docker-config": { type: "string" },
  "subnet-file": { type: "string" },
} as const;

const DEFAULT_METRICS_ADDRESS = "127.0.0.1:9464";

const USAGE = `Usage: ovs-mesh agent (--config FILE | --etcd URL --cluster NAME) --host NAME --underlay-ip IP [OPTIONS]

Runs on every host: joins the cluster (claiming a subnet, or keeping the one it owns), then keeps
the host converged on every change of the store or of Open vSwitch. Logs JSON lines to stderr.
SIGTERM or SIGINT stops it and leaves the data plane in place.

Options:
  --config FILE            cluster file (YAML), for clusters without etcd
${ETCD_USAGE}
  --host NAME              this host's name
  --underlay-ip IP         this host's address on the underlay network
  --subnet CIDR            subnet to claim; the first free one when absent
  --resync-seconds N       seconds between full reconciles (default 30)
  --heartbeat-seconds N    seconds between liveness heartbeats (default 5)
  --probe-seconds N        seconds between probes of every peer's gateway through the
                           overlay; 0 turns probes off (default 10)
  --docker-config PATH     Docker's daemon.json: after joining, and whenever they change,
                           set bip (this host's gateway) and mtu (the inner MTU) in it,
                           as 'ovs-mesh docker-config' does, and log when Docker must
                           restart to apply them (default: leave Docker alone)
  --subnet-file PATH       with --docker-config, the environment file that describes this
                           host's subnet (default ${DEFAULT_ENV_FILE})
  --metrics-address H:P    address of the /metrics and /healthz endpoint
                           (default ${DEFAULT_METRICS_ADDRESS}; "off" disables it)
${HOST_OPTIONS_USAGE}`;

/** Opens the store named by --config or --etcd/--cluster. */
export function openStore(values: EtcdOptionValues & { config?: string }): ClusterStore {
  if (values.config !== undefined && values.etcd !== undefined) {
    throw new UsageError("give either --config or --etcd, not both");
  }
  if (values.config !== undefined) {
    return new FileStore(values.config);
  }
  if (values.etcd === undefined) {
    throw new UsageError("missing --config FILE or --etcd URL");
  }
  return openEtcdStore(values);
}

function parseAddress(value: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match?.[1] || port < 1 || port > 65535) {
    throw new UsageError(
      `invalid --metrics-address ${JSON.stringify(value)}: write HOST:PORT, such as ${DEFAULT_METRICS_ADDRESS}`,
    );
  }
  return { host: match[1], port };
}

async function runAgent(args: string[]): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const name = required(values.host, "host");
  const hostProblem = checkHostName(name);
  if (hostProblem) {
    throw new UsageError(`--host: ${hostProblem}`);
  }
  const underlayIp = required(values["underlay-ip"], "underlay-ip");
  if (parseIpv4(underlayIp) === undefined) {
    throw new UsageError(
      `invalid --underlay-ip ${JSON.stringify(underlayIp)}: write it as a.b.c.d`,
    );
  }
  if (values.subnet !== undefined && parseCidr(values.subnet) === undefined) {
    throw new UsageError(
      `invalid --subnet ${JSON.stringify(values.subnet)}: write a network such as 10.240.3.0/24`,
    );
  }
  const resyncMs = 1000 * integerOption(values["resync-seconds"], "resync-seconds", 30, 1, 86_400);
  const heartbeatMs =
    1000 * integerOption(values["heartbeat-seconds"], "heartbeat-seconds", 5, 1, 3600);
  const probeIntervalMs =
    1000 * integerOption(values["probe-seconds"], "probe-seconds", 10, 0, 3600);
  const metricsAddress = values["metrics-address"] ?? DEFAULT_METRICS_ADDRESS;
  const metricsEndpoint = metricsAddress === "off" ? undefined : parseAddress(metricsAddress);

  const paths = hostPaths(values);
  await checkOvsRunDir(paths);

  const store = openStore(values);
  const log = jsonLogger(name);
  const agent = new Agent({
    store,
    join: { name, underlayIp, subnet: values.subnet },
    paths,
    log,
    resyncMs,
    heartbeatMs,
    probeIntervalMs,
    dockerConfig:
      values["docker-config"] === undefined
        ? undefined
        : {
            daemonJsonPath: values["docker-config"],
            envFilePath: values["subnet-file"] ?? DEFAULT_ENV_FILE,
          },
  });
  const server = metricsEndpoint
    ? await serveMetrics(
        metricsEndpoint.host,
        metricsEndpoint.port,
        name,
        agent.metrics,
        () => agent.healthy,
      )
    : undefined;

  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const started = agent.start();
  let first: string | undefined;
  try {
    first = await Promise.race([started.then(() => undefined), stopped]);
  } catch (error) {
    // A start that failed half-way leaves connections open, which would keep the process alive.
    await agent.stop();
    server?.close();
    throw error;
  }
  const signal = first ?? (await stopped);
  log.info({ event: "signal", signal });
  await agent.stop();
  server?.close();
  return 0;
}

export const agentCommand: Command = {
  name: "agent",
  summary: "run the per-host agent: join the cluster and keep this host converged",
  usage: USAGE,
  run: runAgent,
};
