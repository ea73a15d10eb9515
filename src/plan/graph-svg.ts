import { HEALTH_COLOURS, type MeshGraph, type TunnelHealth } from "./graph.js";

const NODE_RADIUS = 34;
/** A white outline drawn under label text, so that tunnel lines do not cross the letters. */
const HALO = ' stroke="#ffffff" stroke-width="4" stroke-linejoin="round" paint-order="stroke"';
const MARGIN = 110;

/** Distance from the centre to each host, growing with the host count so that nodes do not touch. */
function layoutRadius(count: number): number {
  if (count <= 1) {
    return 0;
  }
  const spacing = 3 * NODE_RADIUS;
  return Math.max(160, Math.ceil((count * spacing) / (2 * Math.PI)));
}

/**
 * Renders the mesh as a standalone SVG document: hosts on a circle, each labelled with its
 * name, subnet and underlay IP, and one line per tunnel, coloured by health (green up, red
 * down, grey unknown). Every text is XML-escaped, so the output is well-formed XML.
 */
export function renderSvg(graph: MeshGraph, title = "ovs-mesh"): string {
  const radius = layoutRadius(graph.hosts.length);
  const size = 2 * (radius + MARGIN);
  const centre = size / 2;
  const positions = new Map<string, { x: number; y: number }>();
  graph.hosts.forEach((host, index) => {
    const angle = (2 * Math.PI * index) / graph.hosts.length - Math.PI / 2;
    positions.set(host.name, {
      x: round(centre + radius * Math.cos(angle)),
      y: round(centre + radius * Math.sin(angle)),
    });
  });

  const parts = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size + 40}" viewBox="0 0 ${size} ${size + 40}" font-family="sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${size}" height="${size + 40}" fill="#ffffff"/>`,
    `<text x="20" y="28" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    '<g id="tunnels">',
  ];
  for (const tunnel of graph.tunnels) {
    const a = positions.get(tunnel.a);
    const b = positions.get(tunnel.b);
    if (a === undefined || b === undefined) {
      continue;
    }
    parts.push(
      `<line x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}" stroke="${HEALTH_COLOURS[tunnel.health]}" stroke-width="3"${tunnel.health === "down" ? ' stroke-dasharray="8 5"' : ""}><title>${escapeXml(`${tunnel.a} - ${tunnel.b}: ${tunnel.health}`)}</title></line>`,
    );
  }
  parts.push("</g>", '<g id="hosts">');
  for (const host of graph.hosts) {
    const position = positions.get(host.name);
    if (position === undefined) {
      continue;
    }
    const { x, y } = position;
    parts.push(
      `<g class="host"><circle cx="${x}" cy="${y}" r="${NODE_RADIUS}" fill="#e3f2fd" stroke="#1565c0" stroke-width="2"/>`,
      `<text x="${x}" y="${y + 5}" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(host.name)}</text>`,
      `<text x="${x}" y="${y + NODE_RADIUS + 16}" text-anchor="middle" font-size="12"${HALO}>${escapeXml(host.subnet)}</text>`,
      `<text x="${x}" y="${y + NODE_RADIUS + 30}" text-anchor="middle" font-size="11" fill="#555555"${HALO}>${escapeXml(host.underlayIp)}</text></g>`,
    );
  }
  parts.push("</g>", legend(size));
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

function legend(size: number): string {
  const entries: TunnelHealth[] = ["up", "down", "unknown"];
  const items = entries.map((health, index) => {
    const x = 20 + index * 110;
    const y = size + 20;
    return `<line x1="${x}" y1="${y}" x2="${x + 30}" y2="${y}" stroke="${HEALTH_COLOURS[health]}" stroke-width="3"/><text x="${x + 38}" y="${y + 4}" font-size="12">${health}</text>`;
  });
  return `<g id="legend">${items.join("")}</g>`;
}

/** Escapes the five characters that XML reserves, and drops characters XML 1.0 forbids. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
