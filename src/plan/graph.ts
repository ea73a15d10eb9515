import type { HostSpec } from "./cluster.js";

/** Health of a tunnel between two hosts. */
export type TunnelHealth = "up" | "down" | "unknown";

/** A host of the mesh as the graph draws it. */
export interface GraphHost {
  name: string;
  subnet: string;
  underlayIp: string;
}

/** The tunnel between hosts `a` and `b`, with `a` before `b` in host order. */
export interface GraphTunnel {
  a: string;
  b: string;
  health: TunnelHealth;
}

/** Hosts and the full mesh of tunnels between them. */
export interface MeshGraph {
  hosts: GraphHost[];
  tunnels: GraphTunnel[];
}

/** One host's report of its peers, as its agent's status file gives it. */
export interface HealthReport {
  host: string;
  peers: readonly { name: string; health: TunnelHealth }[];
}

/** Colours of tunnels by health. */
export const HEALTH_COLOURS: Readonly<Record<TunnelHealth, string>> = {
  up: "#2e7d32",
  down: "#c62828",
  unknown: "#9e9e9e",
};

/**
 * Builds the mesh of a cluster: every pair of hosts has one tunnel. A tunnel is down when
 * either end reports the other as down, up when an end reports it up and none down, and
 * unknown when no report covers it.
 */
export function buildMeshGraph(
  hosts: readonly HostSpec[],
  reports: readonly HealthReport[],
): MeshGraph {
  const sorted = [...hosts].sort((x, y) => x.name.localeCompare(y.name));
  const seen = new Map<string, TunnelHealth[]>();
  for (const report of reports) {
    for (const peer of report.peers) {
      const key = pairKey(report.host, peer.name);
      seen.set(key, [...(seen.get(key) ?? []), peer.health]);
    }
  }
  const tunnels: GraphTunnel[] = [];
  for (const [index, a] of sorted.entries()) {
    for (const b of sorted.slice(index + 1)) {
      const views = seen.get(pairKey(a.name, b.name)) ?? [];
      const health: TunnelHealth = views.includes("down")
        ? "down"
        : views.includes("up")
          ? "up"
          : "unknown";
      tunnels.push({ a: a.name, b: b.name, health });
    }
  }
  return {
    hosts: sorted.map(({ name, subnet, underlayIp }) => ({ name, subnet, underlayIp })),
    tunnels,
  };
}

function pairKey(first: string, second: string): string {
  return first < second ? `${first}\u0000${second}` : `${second}\u0000${first}`;
}

/** Renders the graph in Graphviz DOT: one node per host, one undirected edge per tunnel. */
export function renderDot(graph: MeshGraph): string {
  const lines = [
    "graph mesh {",
    '  node [shape=box, style=rounded, fontname="sans-serif"];',
    '  edge [penwidth=2, fontname="sans-serif", fontsize=10];',
  ];
  for (const host of graph.hosts) {
    lines.push(
      `  ${dotString(host.name)} [label=${dotString(`${host.name}\n${host.subnet}\n${host.underlayIp}`)}];`,
    );
  }
  for (const tunnel of graph.tunnels) {
    const colour = HEALTH_COLOURS[tunnel.health];
    lines.push(
      `  ${dotString(tunnel.a)} -- ${dotString(tunnel.b)} [color=${dotString(colour)}, label=${dotString(tunnel.health)}];`,
    );
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Renders the graph as a Mermaid flowchart, with link colours by health. */
export function renderMermaid(graph: MeshGraph): string {
  const ids = new Map(graph.hosts.map((host, index) => [host.name, `h${index}`]));
  const lines = ["graph LR"];
  for (const host of graph.hosts) {
    lines.push(
      `  ${ids.get(host.name) ?? ""}["${mermaidText(host.name)}<br/>${mermaidText(host.subnet)}<br/>${mermaidText(host.underlayIp)}"]`,
    );
  }
  const styles: string[] = [];
  graph.tunnels.forEach((tunnel, index) => {
    lines.push(`  ${ids.get(tunnel.a) ?? ""} ---|${tunnel.health}| ${ids.get(tunnel.b) ?? ""}`);
    styles.push(`  linkStyle ${index} stroke:${HEALTH_COLOURS[tunnel.health]},stroke-width:2px`);
  });
  return `${[...lines, ...styles].join("\n")}\n`;
}

/** Escapes text for a quoted Mermaid label, where HTML entities and #name; codes apply. */
function mermaidText(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/"/g, "#quot;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}
