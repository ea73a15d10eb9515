import { test } from "node:test";
import assert from "node:assert/strict";

import { buildRestoreText, formatRuleArgument } from "../../src/host/iptables-restore.js";
import { splitRuleLine, type IptablesChange } from "../../src/host/iptables.js";
import type { RuleSpec } from "../../src/plan/state.js";

test("formatRuleArgument quotes only when needed", () => {
  const cases: { argument: string; expected: string }[] = [
    { argument: "ACCEPT", expected: "ACCEPT" },
    { argument: "10.240.0.0/16", expected: "10.240.0.0/16" },
    { argument: "!", expected: "!" },
    { argument: "eth0.5", expected: "eth0.5" },
    { argument: "", expected: '""' },
    { argument: "two words", expected: '"two words"' },
    { argument: 'say "hi"', expected: String.raw`"say \"hi\""` },
    { argument: String.raw`back\slash`, expected: String.raw`"back\\slash"` },
    { argument: "#hash", expected: '"#hash"' },
  ];
  for (const { argument, expected } of cases) {
    assert.equal(formatRuleArgument(argument), expected, argument);
  }
});

test("formatRuleArgument round-trips through splitRuleLine", () => {
  const rule = ["-m", "comment", "--comment", `it's "a" \\ test`, "", "tab\there", "-j", "ACCEPT"];
  assert.deepEqual(splitRuleLine(rule.map(formatRuleArgument).join(" ")), rule);
});

test("formatRuleArgument rejects line breaks", () => {
  assert.throws(() => formatRuleArgument("a\n-A FORWARD -j DROP"), RangeError);
  assert.throws(() => formatRuleArgument("a\rb"), RangeError);
  assert.throws(() => formatRuleArgument("a\0b"), RangeError);
});

test("buildRestoreText creates chains and jumps", () => {
  const changes: IptablesChange[] = [
    {
      kind: "set-chain",
      table: "filter",
      chain: "OVS-MESH-FORWARD",
      rules: [
        ["-s", "10.240.0.0/16", "-j", "ACCEPT"],
        ["-m", "comment", "--comment", "ovs-mesh overlay", "-j", "ACCEPT"],
      ],
    },
    { kind: "add-jump", table: "filter", from: "FORWARD", chain: "OVS-MESH-FORWARD" },
  ];
  const sources = new Map<string, RuleSpec[]>([["FORWARD", [["-j", "DOCKER-USER"]]]]);

  assert.equal(
    buildRestoreText("filter", changes, sources),
    [
      "*filter",
      ":OVS-MESH-FORWARD - [0:0]",
      "-A OVS-MESH-FORWARD -s 10.240.0.0/16 -j ACCEPT",
      '-A OVS-MESH-FORWARD -m comment --comment "ovs-mesh overlay" -j ACCEPT',
      "-I FORWARD 1 -j OVS-MESH-FORWARD",
      "COMMIT",
      "",
    ].join("\n"),
  );
  assert.deepEqual(sources.get("FORWARD"), [
    ["-j", "OVS-MESH-FORWARD"],
    ["-j", "DOCKER-USER"],
  ]);
});

test("buildRestoreText skips a jump that exists", () => {
  const sources = new Map<string, RuleSpec[]>([
    [
      "POSTROUTING",
      [
        ["-s", "172.17.0.0/16", "-j", "MASQUERADE"],
        ["-j", "OVS-MESH-POSTROUTING"],
      ],
    ],
  ]);
  const changes: IptablesChange[] = [
    { kind: "add-jump", table: "nat", from: "POSTROUTING", chain: "OVS-MESH-POSTROUTING" },
  ];
  assert.equal(buildRestoreText("nat", changes, sources), undefined);
});

test("buildRestoreText adds one jump for repeated add-jump", () => {
  const sources = new Map<string, RuleSpec[]>([["FORWARD", []]]);
  const jump: IptablesChange = {
    kind: "add-jump",
    table: "filter",
    from: "FORWARD",
    chain: "OVS-MESH-FORWARD",
  };
  assert.equal(
    buildRestoreText("filter", [jump, jump], sources),
    "*filter\n-I FORWARD 1 -j OVS-MESH-FORWARD\nCOMMIT\n",
  );
});

test("buildRestoreText moves a jump above Docker's rules", () => {
  const sources = new Map<string, RuleSpec[]>([
    [
      "POSTROUTING",
      [
        ["-s", "10.240.1.0/24", "!", "-o", "docker0", "-j", "MASQUERADE"],
        ["-j", "OVS-MESH-POSTROUTING"],
        ["-j", "OVS-MESH-POSTROUTING"],
      ],
    ],
  ]);
  const move: IptablesChange = {
    kind: "move-jump",
    table: "nat",
    from: "POSTROUTING",
    chain: "OVS-MESH-POSTROUTING",
  };

  assert.equal(
    buildRestoreText("nat", [move], sources),
    [
      "*nat",
      "-D POSTROUTING -j OVS-MESH-POSTROUTING",
      "-D POSTROUTING -j OVS-MESH-POSTROUTING",
      "-I POSTROUTING 1 -j OVS-MESH-POSTROUTING",
      "COMMIT",
      "",
    ].join("\n"),
  );
  assert.deepEqual(sources.get("POSTROUTING"), [
    ["-j", "OVS-MESH-POSTROUTING"],
    ["-s", "10.240.1.0/24", "!", "-o", "docker0", "-j", "MASQUERADE"],
  ]);
  assert.equal(
    buildRestoreText("nat", [move], sources),
    undefined,
    "a second move changes nothing",
  );
});

test("buildRestoreText keeps a jump with matches when moving", () => {
  const sources = new Map<string, RuleSpec[]>([
    [
      "FORWARD",
      [
        ["-j", "DOCKER-USER"],
        ["-i", "br0", "-j", "OVS-MESH-FORWARD"],
      ],
    ],
  ]);
  const move: IptablesChange = {
    kind: "move-jump",
    table: "filter",
    from: "FORWARD",
    chain: "OVS-MESH-FORWARD",
  };
  assert.equal(
    buildRestoreText("filter", [move], sources),
    "*filter\n-I FORWARD 1 -j OVS-MESH-FORWARD\nCOMMIT\n",
  );
  assert.deepEqual(sources.get("FORWARD"), [
    ["-j", "OVS-MESH-FORWARD"],
    ["-j", "DOCKER-USER"],
    ["-i", "br0", "-j", "OVS-MESH-FORWARD"],
  ]);
});

test("buildRestoreText removes every jump, then the chain", () => {
  const sources = new Map<string, RuleSpec[]>([
    [
      "FORWARD",
      [
        ["-j", "OVS-MESH-FORWARD"],
        ["-s", "192.0.2.0/24", "-j", "ACCEPT"],
        ["-i", "br0", "-j", "OVS-MESH-FORWARD"],
      ],
    ],
  ]);
  const changes: IptablesChange[] = [
    { kind: "remove-jump", table: "filter", from: "FORWARD", chain: "OVS-MESH-FORWARD" },
    { kind: "remove-chain", table: "filter", chain: "OVS-MESH-FORWARD" },
  ];

  assert.equal(
    buildRestoreText("filter", changes, sources),
    [
      "*filter",
      "-D FORWARD -j OVS-MESH-FORWARD",
      "-D FORWARD -i br0 -j OVS-MESH-FORWARD",
      ":OVS-MESH-FORWARD - [0:0]",
      "-X OVS-MESH-FORWARD",
      "COMMIT",
      "",
    ].join("\n"),
  );
  assert.deepEqual(sources.get("FORWARD"), [["-s", "192.0.2.0/24", "-j", "ACCEPT"]]);
});

test("buildRestoreText rejects unsafe changes", () => {
  const sources = new Map<string, RuleSpec[]>([["FORWARD", []]]);
  const cases: { change: IptablesChange; message: RegExp }[] = [
    {
      change: { kind: "set-chain", table: "filter", chain: "FORWARD", rules: [] },
      message: /FORWARD is a built-in chain of table filter/,
    },
    {
      change: { kind: "remove-chain", table: "nat", chain: "POSTROUTING" },
      message: /POSTROUTING is a built-in chain of table nat/,
    },
    {
      change: { kind: "set-chain", table: "filter", chain: "X\n-F FORWARD", rules: [] },
      message: /invalid chain name/,
    },
    {
      change: { kind: "add-jump", table: "filter", from: "FORWARD -F", chain: "X" },
      message: /invalid chain name "FORWARD -F"/,
    },
    {
      change: { kind: "set-chain", table: "filter", chain: "X", rules: [["-j", "ACCEPT\nCOMMIT"]] },
      message: /line breaks and NUL cannot be passed/,
    },
  ];
  for (const { change, message } of cases) {
    assert.throws(() => buildRestoreText(change.table, [change], sources), {
      name: "RangeError",
      message,
    });
  }
});

test("buildRestoreText rejects a change for another table", () => {
  const change: IptablesChange = { kind: "remove-chain", table: "nat", chain: "X" };
  assert.throws(() => buildRestoreText("filter", [change], new Map()), {
    name: "RangeError",
    message: "remove-chain for table nat in the input for filter",
  });
});
