import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, parseCluster, type Cluster } from "../../src/plan/cluster.js";
import { parseClusterText } from "../../src/store/cluster-file.js";
import { fuzz, type Random } from "./fuzz.js";

// Random mutations of a valid cluster file: the parser must return a valid cluster or raise
// a ConfigError, and nothing else, whatever the bytes.

const VALID = `range: 10.240.0.0/16 # cluster range
subnetLength: 24
tunnel: gre
mode: flow
datapath: auto
bridges: { ovs: br0, linux: docker0 }
underlayMtu: 1500
hosts:
  - { name: host0, underlayIp: 192.0.2.10, subnet: 10.240.1.0/24 }
  - name: host1
    underlayIp: 192.0.2.11
    subnet: 10.240.2.0/24
  - name: host2
    underlayIp: "192.0.2.12"
    subnet: '10.240.3.0/24'
`;

const BUDGET_MS = 2_000;

/** Characters that change what YAML means, and some that no field accepts. */
const SPECIAL = [..."{}[]:,-#&*!|>'\"%@`?~ \t\n\\/.0123456789", "\u0000", "\u00e9", "\ud83d\ude00"];

/** Scalars and fragments that parsers get wrong: aliases, tags, numbers, nesting. */
const TOKENS = [
  "",
  "~",
  "null",
  "true",
  "-1",
  "0",
  "1e400",
  "0x18",
  "NaN",
  ".inf",
  "24.5",
  "*a",
  "&a x",
  "*undefined",
  "!!binary aGVsbG8=",
  "!!set {a, b}",
  "!!str",
  "!!int x",
  "!<tag:yaml.org,2002:js/undefined> x",
  "<<: *a",
  "[",
  "{",
  "]]",
  "[[[[[[[[[[]]]]]]]]]]",
  "{a: {b: {c: {d: []}}}}",
  "__proto__",
  "constructor",
  "x".repeat(5000),
  "10.240.0.0/16",
  "10.240.1.0/24",
  "192.0.2.10",
  "255.255.255.255/0",
  "br0;rm -rf /",
  "$(reboot)",
  "../../etc",
  "---",
  "...",
  "%YAML 1.1",
];

/** Expands to 9^5 values through aliases unless the parser limits them. */
const ALIAS_BOMB = `a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]
`;

function mutate(random: Random, text: string): string {
  const rounds = 1 + random.below(4);
  let result = text;
  for (let round = 0; round < rounds; round += 1) {
    const at = random.below(result.length + 1);
    switch (random.below(7)) {
      case 0:
        result = result.slice(0, at) + random.pick(SPECIAL) + result.slice(at);
        break;
      case 1:
        result = result.slice(0, at) + result.slice(at + 1 + random.below(8));
        break;
      case 2:
        result = result.slice(0, at) + random.pick(SPECIAL) + result.slice(at + 1);
        break;
      case 3:
        result = result.slice(0, at) + random.pick(TOKENS) + result.slice(at);
        break;
      case 4:
        result = replaceValue(random, result);
        break;
      case 5:
        result = shuffleLines(random, result);
        break;
      default:
        result = result.slice(0, at) + ALIAS_BOMB + result.slice(at);
        break;
    }
  }
  return result;
}

/** Replaces the value after one "key:" with a token. */
function replaceValue(random: Random, text: string): string {
  const lines = text.split("\n");
  const index = random.below(lines.length);
  const line = lines[index] ?? "";
  const colon = line.indexOf(":");
  if (colon < 0) {
    return text;
  }
  lines[index] = `${line.slice(0, colon + 1)} ${random.pick(TOKENS)}`;
  return lines.join("\n");
}

/** Duplicates, deletes or swaps lines. */
function shuffleLines(random: Random, text: string): string {
  const lines = text.split("\n");
  const a = random.below(lines.length);
  const b = random.below(lines.length);
  const lineA = lines[a] ?? "";
  switch (random.below(3)) {
    case 0:
      lines.splice(b, 0, lineA);
      break;
    case 1:
      lines.splice(a, 1);
      break;
    default:
      lines[a] = lines[b] ?? "";
      lines[b] = lineA;
      break;
  }
  return lines.join("\n");
}

/** Returns the error that parsing raised, or undefined with the cluster. */
function parse(text: string): { cluster: Cluster | undefined; error: unknown } {
  try {
    return { cluster: parseClusterText(text, "fuzz.yaml"), error: undefined };
  } catch (error) {
    return { cluster: undefined, error };
  }
}

test("parseClusterText accepts the unmutated file", () => {
  const cluster = parseClusterText(VALID, "valid.yaml");
  assert.equal(cluster.hosts.length, 3);
});

test("parseClusterText rejects an alias bomb", () => {
  const { error } = parse(`${ALIAS_BOMB}range: 10.240.0.0/16\nhosts: []\n`);
  assert.ok(error instanceof ConfigError, `raised ${String(error)}`);
  assert.match(error.message, /alias/);
});

test("parseClusterText rejects an alias without anchor", () => {
  const { error } = parse("range: *missing\nhosts: []\n");
  assert.ok(error instanceof ConfigError, `raised ${String(error)}`);
  assert.match(error.message, /missing/);
});

test("parseClusterText names an infinite number", () => {
  const { error } = parse("range: 10.240.0.0/16\nsubnetLength: 1e400\nhosts: []\n");
  assert.ok(error instanceof ConfigError, `raised ${String(error)}`);
  assert.match(error.message, /subnetLength: expected an integer from 1 to 30, found Infinity/);
});

test("parseClusterText survives random mutations", () => {
  let accepted = 0;
  let rejected = 0;
  const rounds = fuzz(BUDGET_MS, (random) => {
    const text = mutate(random, VALID);
    const { cluster, error } = parse(text);
    if (cluster !== undefined) {
      // A cluster that comes out must pass validation again, unchanged.
      assert.deepEqual(parseCluster(structuredClone(toDocument(cluster)), "again"), cluster);
      accepted += 1;
      return;
    }
    if (!(error instanceof ConfigError)) {
      const name = error instanceof Error ? error.name : typeof error;
      assert.fail(`seed ${random.seed} raised ${name} (${String(error)}) for:\n${text}`);
    }
    assert.ok(error.problems.length > 0, `seed ${random.seed}: ConfigError without problems`);
    rejected += 1;
  });
  assert.ok(rounds >= 100, `only ${rounds} rounds in ${BUDGET_MS} ms`);
  assert.ok(accepted > 0, "no mutation was accepted, so the mutations are too coarse");
  assert.ok(rejected > 0, "no mutation was rejected");
});

/** The cluster in the cluster file's shape, with bridges nested. */
function toDocument(cluster: Cluster): Record<string, unknown> {
  const { ovsBridge, linuxBridge, underlayMtu, ...rest } = cluster;
  return {
    ...rest,
    ...(underlayMtu === undefined ? {} : { underlayMtu }),
    bridges: { ovs: ovsBridge, linux: linuxBridge },
  };
}
