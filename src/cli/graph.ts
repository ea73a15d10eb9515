import { writeFile } from "node:fs/promises";
import { DEFAULT_PATHS } from "../agent/paths.js";
import { readStatusFile, statusFilePath, type StatusFile } from "../agent/status-file.js";
import { readCachedCluster } from "../agent/view-cache.js";
import { buildMeshGraph, renderDot, renderMermaid } from "../plan/graph.js";
import { renderSvg } from "../plan/graph-svg.js";
import type { HostSpec } from "../plan/cluster.js";
import { readClusterFile } from "../store/cluster-file.js";
import { choiceOption, parseOptions } from "./args.js";
import { UsageError, type Command } from "./command.js";
import { ETCD_OPTIONS, ETCD_USAGE, openEtcdStore } from "./etcd-options.js";

const FORMATS = ["svg", "dot", "mermaid"] as const;

const OPTIONS = {
  ...ETCD_OPTIONS,
  config: { type: "string" },
  status: { type: "string", multiple: true },
  "state-dir": { type: "string" },
  format: { type: "string" },
  output: { type: "string" },
} as const;

const USAGE = `Usage: ovs-mesh graph [--config FILE | --etcd URL --cluster NAME] [OPTIONS]

Draws the mesh: every host with its subnet and underlay IP, and every tunnel coloured by
health (green up, red down, grey unknown). Health comes from agents' status files: a
tunnel is down when either end reports the other down, up when an end reports it up.
Without --config or --etcd the hosts come from the agent's cached view in --state-dir.

Options:
  --config FILE        cluster file (YAML)
${ETCD_USAGE}
  --status FILE        an agent's status.json; repeat for several hosts (default: the
                       one in --state-dir, if it exists)
  --state-dir DIR      the local agent's state directory (default ${DEFAULT_PATHS.stateDir})
  --format FORMAT      ${FORMATS.join(", ")} (default svg)
  --output FILE        write to FILE instead of standard output`;

async function loadHosts(
  values: {
    config?: string;
    etcd?: string;
    stateDir: string;
  },
  etcdValues: Parameters<typeof openEtcdStore>[0],
): Promise<{ hosts: HostSpec[]; title: string }> {
  if (values.config !== undefined && values.etcd !== undefined) {
    throw new UsageError("give either --config or --etcd, not both");
  }
  if (values.config !== undefined) {
    const cluster = await readClusterFile(values.config);
    return { hosts: cluster.hosts, title: `ovs-mesh ${cluster.range}` };
  }
  if (values.etcd !== undefined) {
    const store = openEtcdStore(etcdValues);
    try {
      const view = await store.load();
      return { hosts: view.hosts, title: `ovs-mesh cluster ${store.keys.cluster}` };
    } finally {
      await store.close();
    }
  }
  const cluster = await readCachedCluster(values.stateDir);
  if (cluster === undefined) {
    throw new UsageError(
      `no cluster: pass --config or --etcd, or --state-dir of an agent (nothing cached in ${values.stateDir})`,
    );
  }
  return { hosts: cluster.hosts, title: `ovs-mesh ${cluster.range}` };
}

async function loadStatuses(
  paths: readonly string[] | undefined,
  stateDir: string,
): Promise<StatusFile[]> {
  if (paths === undefined || paths.length === 0) {
    const local = await readStatusFile(statusFilePath(stateDir));
    return local === undefined ? [] : [local];
  }
  const statuses: StatusFile[] = [];
  for (const path of paths) {
    const status = await readStatusFile(path);
    if (status === undefined) {
      throw new UsageError(`--status ${path}: file not found`);
    }
    statuses.push(status);
  }
  return statuses;
}

async function runGraph(args: string[]): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const format = choiceOption(values.format, "format", FORMATS, "svg");
  const stateDir = values["state-dir"] ?? DEFAULT_PATHS.stateDir;
  const { hosts, title } = await loadHosts(
    { config: values.config, etcd: values.etcd, stateDir },
    values,
  );
  const statuses = await loadStatuses(values.status, stateDir);
  const graph = buildMeshGraph(hosts, statuses);

  const text =
    format === "svg"
      ? renderSvg(graph, title)
      : format === "dot"
        ? renderDot(graph)
        : renderMermaid(graph);
  if (values.output === undefined) {
    process.stdout.write(text);
  } else {
    await writeFile(values.output, text);
    process.stderr.write(
      `wrote ${values.output}: ${graph.hosts.length} hosts, ${graph.tunnels.length} tunnels\n`,
    );
  }
  return 0;
}

/** `ovs-mesh graph`: draws the hosts and tunnels of the mesh. */
export const graphCommand: Command = {
  name: "graph",
  summary: "draw the mesh as SVG, Graphviz DOT or Mermaid, tunnels coloured by health",
  usage: USAGE,
  run: runGraph,
};
