import assert from "node:assert/strict";
import { test } from "node:test";
import { renderSvg, escapeXml } from "../../src/plan/graph-svg.js";
import { buildMeshGraph, renderDot, renderMermaid, HEALTH_COLOURS } from "../../src/plan/graph.js";
import { makeCluster } from "./fixtures.js";
import { parseXml } from "./xml-check.js";

const hosts = makeCluster(4, "flow").hosts;

test("xml checker rejects broken documents", () => {
  const broken = [
    "<svg><g></svg>",
    "<svg a=1></svg>",
    '<svg a="1" a="2"/>',
    "<svg>AT&T</svg>",
    "<svg/><svg/>",
    "text",
  ];
  for (const document of broken) {
    assert.throws(() => parseXml(document), SyntaxError, document);
  }
  assert.deepEqual(parseXml('<?xml version="1.0"?><a x="&amp;"><b/>t &lt; u</a>').elements, [
    "a",
    "b",
  ]);
});

test("buildMeshGraph combines both ends' reports", () => {
  const graph = buildMeshGraph(hosts, [
    {
      host: "host0",
      peers: [
        { name: "host1", health: "up" },
        { name: "host2", health: "down" },
      ],
    },
    {
      host: "host1",
      peers: [
        { name: "host0", health: "up" },
        { name: "host2", health: "unknown" },
      ],
    },
    {
      host: "host2",
      peers: [
        { name: "host0", health: "up" },
        { name: "host3", health: "up" },
      ],
    },
  ]);
  const health = Object.fromEntries(
    graph.tunnels.map((tunnel) => [`${tunnel.a}-${tunnel.b}`, tunnel.health]),
  );
  assert.deepEqual(health, {
    "host0-host1": "up",
    "host0-host2": "down",
    "host0-host3": "unknown",
    "host1-host2": "unknown",
    "host1-host3": "unknown",
    "host2-host3": "up",
  });
});

test("renderSvg is well-formed XML naming every host", () => {
  const graph = buildMeshGraph(hosts, [
    {
      host: "host0",
      peers: [
        { name: "host1", health: "up" },
        { name: "host2", health: "down" },
      ],
    },
  ]);
  const svg = renderSvg(graph, "lab <t-ops> & co");
  const { elements, texts } = parseXml(svg);
  assert.equal(elements[0], "svg");
  for (const host of hosts) {
    assert.ok(texts.includes(host.name), `${host.name} is named`);
    assert.ok(texts.includes(host.subnet), `${host.subnet} is shown`);
  }
  assert.equal(
    elements.filter((element) => element === "line").length,
    6 + 3,
    "6 tunnels and 3 legend lines",
  );
  assert.ok(svg.includes(`stroke="${HEALTH_COLOURS.up}"`));
  assert.ok(svg.includes(`stroke="${HEALTH_COLOURS.down}"`));
  assert.ok(svg.includes(`stroke="${HEALTH_COLOURS.unknown}"`));
  assert.ok(texts.includes("lab &lt;t-ops&gt; &amp; co"));
});

test("renderSvg handles one host and many", () => {
  const one = renderSvg(buildMeshGraph(hosts.slice(0, 1), []));
  assert.ok(parseXml(one).texts.includes("host0"));
  const many = makeCluster(60, "flow").hosts;
  const { texts } = parseXml(renderSvg(buildMeshGraph(many, [])));
  for (const host of many) {
    assert.ok(texts.includes(host.name), `${host.name} is named`);
  }
});

test("escapeXml escapes markup and drops control characters", () => {
  assert.equal(escapeXml(`a<b>&"c'\u0001`), "a&lt;b&gt;&amp;&quot;c&apos;");
});

test("renderDot lists every host and tunnel", () => {
  const dot = renderDot(
    buildMeshGraph(hosts.slice(0, 3), [
      { host: "host0", peers: [{ name: "host1", health: "down" }] },
    ]),
  );
  assert.match(dot, /^graph mesh \{/);
  assert.match(dot, /"host0" \[label="host0\\n10\.240\.1\.0\/24\\n198\.18\.0\.11"\];/);
  assert.match(dot, /"host0" -- "host1" \[color="#c62828", label="down"\];/);
  assert.match(dot, /"host1" -- "host2" \[color="#9e9e9e", label="unknown"\];/);
});

test("renderMermaid colours links by health", () => {
  const mermaid = renderMermaid(
    buildMeshGraph(hosts.slice(0, 2), [
      { host: "host1", peers: [{ name: "host0", health: "up" }] },
    ]),
  );
  assert.equal(
    mermaid,
    [
      "graph LR",
      '  h0["host0<br/>10.240.1.0/24<br/>198.18.0.11"]',
      '  h1["host1<br/>10.240.2.0/24<br/>198.18.0.12"]',
      "  h0 ---|up| h1",
      "  linkStyle 0 stroke:#2e7d32,stroke-width:2px",
      "",
    ].join("\n"),
  );
});
