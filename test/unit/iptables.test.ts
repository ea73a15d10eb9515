import { test } from "node:test";
import assert from "node:assert/strict";

import {
  checkChainName,
  isMissingChainError,
  parseChainListing,
  referencesChain,
  splitRuleLine,
} from "../../src/host/iptables.js";

test("splitRuleLine handles iptables quoting", () => {
  const cases: { line: string; expected: string[] }[] = [
    {
      line: "-A FWD -s 10.0.0.0/8 -j ACCEPT",
      expected: ["-A", "FWD", "-s", "10.0.0.0/8", "-j", "ACCEPT"],
    },
    { line: "  -j \t ACCEPT  ", expected: ["-j", "ACCEPT"] },
    {
      line: String.raw`--comment "x \"q\" back\\slash it\'s" -j ACCEPT`,
      expected: ["--comment", `x "q" back\\slash it's`, "-j", "ACCEPT"],
    },
    { line: '--comment "" -j ACCEPT', expected: ["--comment", "", "-j", "ACCEPT"] },
    { line: '--comment a"b c" -j RETURN', expected: ["--comment", "ab c", "-j", "RETURN"] },
    { line: '"x"y', expected: ["x", "y"] },
    { line: String.raw`a\b`, expected: [String.raw`a\b`] },
    { line: "", expected: [] },
  ];
  for (const { line, expected } of cases) {
    assert.deepEqual(splitRuleLine(line), expected, line);
  }
});

test("splitRuleLine rejects an unterminated quote", () => {
  assert.throws(() => splitRuleLine('--comment "open'), {
    name: "SyntaxError",
    message: 'unterminated quote in iptables rule: --comment "open',
  });
});

test("parseChainListing returns rules after -A CHAIN", () => {
  const output = [
    "-N OVS-MESH-FORWARD",
    "-A OVS-MESH-FORWARD -s 10.240.0.0/16 -j ACCEPT",
    String.raw`-A OVS-MESH-FORWARD -m comment --comment "ovs-mesh \"overlay\"" -j ACCEPT`,
    "",
  ].join("\n");
  assert.deepEqual(parseChainListing(output, "OVS-MESH-FORWARD"), [
    ["-s", "10.240.0.0/16", "-j", "ACCEPT"],
    ["-m", "comment", "--comment", 'ovs-mesh "overlay"', "-j", "ACCEPT"],
  ]);
});

test("parseChainListing skips a built-in chain's policy", () => {
  const output = "-P FORWARD DROP\n-A FORWARD -j OVS-MESH-FORWARD\n";
  assert.deepEqual(parseChainListing(output, "FORWARD"), [["-j", "OVS-MESH-FORWARD"]]);
  assert.deepEqual(parseChainListing("-P FORWARD ACCEPT\n", "FORWARD"), []);
});

test("parseChainListing rejects a rule of another chain", () => {
  assert.throws(() => parseChainListing("-A OTHER -j ACCEPT\n", "FORWARD"), SyntaxError);
});

test("isMissingChainError classifies stderr", () => {
  const cases: { stderr: string; expected: boolean }[] = [
    { stderr: "iptables: No chain/target/match by that name.\n", expected: true },
    {
      stderr:
        "iptables v1.8.9 (nf_tables): chain `OVS-MESH-FORWARD' in table `filter' is incompatible, use 'nft' tool.\n",
      expected: true,
    },
    {
      stderr:
        "iptables v1.8.9 (nf_tables): chain `OVS-MESH-FORWARD' in table `nat' is incompatible, use 'nft' tool.\n",
      expected: false,
    },
    {
      stderr:
        "iptables v1.8.9 (nf_tables): chain `FORWARD' in table `filter' is incompatible, use 'nft' tool.\n",
      expected: false,
    },
    {
      stderr:
        "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied\n",
      expected: false,
    },
  ];
  for (const { stderr, expected } of cases) {
    assert.equal(isMissingChainError(stderr, "filter", "OVS-MESH-FORWARD"), expected, stderr);
  }
});

test("checkChainName accepts chains and rejects options", () => {
  assert.equal(checkChainName("OVS-MESH-POSTROUTING"), undefined);
  assert.equal(checkChainName("A".repeat(28)), undefined);
  assert.match(checkChainName("A".repeat(29)) ?? "", /invalid chain name/);
  assert.match(checkChainName("-j") ?? "", /invalid chain name "-j"/);
  assert.match(checkChainName("A B") ?? "", /invalid chain name/);
  assert.match(checkChainName("") ?? "", /invalid chain name/);
});

test("referencesChain finds jumps and gotos", () => {
  assert.equal(referencesChain(["-j", "X"], "X"), true);
  assert.equal(referencesChain(["-i", "br0", "-g", "X"], "X"), true);
  assert.equal(referencesChain(["-j", "XY"], "X"), false);
  assert.equal(referencesChain(["-s", "X"], "X"), false);
});
