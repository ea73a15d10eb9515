import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { checkIpChange } from "../../src/host/ip-batch.js";
import { checkChainName } from "../../src/host/iptables.js";
import { checkIptablesChange } from "../../src/host/iptables-restore.js";
import { sysctlPath } from "../../src/host/sysctl.js";
import { checkContainerName, checkLabHostName, checkLabName } from "../../src/lab/names.js";
import { parseTargetName } from "../../src/lab/targets.js";
import { checkHostName, checkInterfaceName } from "../../src/plan/cluster.js";
import { checkClusterName } from "../../src/store/etcd-keys.js";

// Names reach `ip`, `ovs-ofctl`, iptables-restore, /proc/sys paths and etcd keys. Every
// validator must reject names that a shell, an option parser or a path would read as more
// than a name, and the source must start no program through a shell.

/** Names that would be dangerous as a program argument, a path or a shell word. */
const HOSTILE_NAMES = [
  "br0;rm",
  "$(x)",
  "`x`",
  "a b",
  "a\tb",
  "a\nb",
  "../x",
  "x/y",
  ".",
  "..",
  "-x",
  "--help",
  "",
  "a\u0000b",
  "br0|x",
  "br0&",
  "br0>x",
  "'x'",
  '"x"',
  "x*",
  "\u00e9th0",
];

/**
 * Validators that return a problem string, each with a name it accepts and its maximum
 * length: an interface name fits IFNAMSIZ (16 bytes with the NUL), and the others are limited
 * by where they end up (lab names in socket paths, host names in DNS labels).
 */
const VALIDATORS: [string, (name: string) => string | undefined, string, number][] = [
  ["checkInterfaceName", checkInterfaceName, "br0", 15],
  ["checkHostName", checkHostName, "host0", 63],
  ["checkLabName", checkLabName, "lab", 20],
  ["checkLabHostName", checkLabHostName, "host0", 15],
  ["checkContainerName", checkContainerName, "c0", 10],
  ["checkChainName", checkChainName, "OVS-MESH-FORWARD", 28],
  ["checkClusterName", checkClusterName, "prod", 63],
];

for (const [label, validate, valid, maxLength] of VALIDATORS) {
  test(`${label} rejects hostile names`, () => {
    assert.equal(validate(valid), undefined, `${label} rejected the valid name ${valid}`);
    assert.equal(
      validate("b".repeat(maxLength)),
      undefined,
      `${label} rejected ${maxLength} bytes`,
    );
    for (const name of [...HOSTILE_NAMES, "b".repeat(maxLength + 1)]) {
      const problem = validate(name);
      assert.ok(problem !== undefined, `${label} accepted ${JSON.stringify(name)}`);
      assert.ok(problem.includes(JSON.stringify(name)), `${label}: ${problem} names no value`);
    }
  });
}

test("checkIpChange rejects hostile devices", () => {
  for (const name of [...HOSTILE_NAMES, "b".repeat(16)]) {
    assert.throws(() => checkIpChange({ kind: "set-up", device: name }), RangeError, name);
    assert.throws(() => checkIpChange({ kind: "create-bridge", name }), RangeError, name);
    assert.throws(
      () => checkIpChange({ kind: "set-master", device: "br0", master: name }),
      RangeError,
      name,
    );
  }
});

test("checkIptablesChange rejects hostile chains", () => {
  for (const name of [...HOSTILE_NAMES, "b".repeat(29)]) {
    assert.throws(
      () => checkIptablesChange({ kind: "set-chain", table: "filter", chain: name, rules: [] }),
      RangeError,
      name,
    );
    assert.throws(
      () => checkIptablesChange({ kind: "add-jump", table: "filter", from: name, chain: "X" }),
      RangeError,
      name,
    );
  }
});

test("checkIptablesChange rejects a rule with a line break", () => {
  const rules = [["-s", "10.0.0.0/8\n-A INPUT -j DROP", "-j", "ACCEPT"]];
  assert.throws(
    () => checkIptablesChange({ kind: "set-chain", table: "filter", chain: "X", rules }),
    /line breaks and NUL cannot be passed/,
  );
});

test("sysctlPath rejects hostile keys", () => {
  const keys = [
    "net.ipv4.conf.br0;rm.send_redirects",
    "net.ipv4.conf.../../../etc.send_redirects",
    "net.ipv4.conf.$(x).rp_filter",
    "net/../../etc/passwd",
    "net.ipv4..ip_forward",
    "net.ipv4.ip forward",
    "",
  ];
  for (const key of keys) {
    assert.throws(() => sysctlPath(key), RangeError, key);
  }
  assert.equal(
    sysctlPath("net.ipv4.conf.eth0.5.rp_filter"),
    "/proc/sys/net/ipv4/conf/eth0.5/rp_filter",
  );
});

test("parseTargetName rejects hostile targets", () => {
  for (const name of HOSTILE_NAMES) {
    // "x/y" is the target HOST/CONTAINER, so names with "/" are checked as containers only.
    if (!name.includes("/")) {
      assert.equal(typeof parseTargetName(name), "string", `accepted host ${JSON.stringify(name)}`);
    }
    assert.equal(
      typeof parseTargetName(`host0/${name}`),
      "string",
      `accepted container ${JSON.stringify(name)}`,
    );
  }
  assert.deepEqual(parseTargetName("host0/c0"), { host: "host0", container: "c0" });
});

const SOURCE = fileURLToPath(new URL("../../../src", import.meta.url));

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      files.push(...(await sourceFiles(path)));
    } else if (entry.name.endsWith(".ts")) {
      files.push(path);
    }
  }
  return files;
}

/** Patterns that start a program through a shell, with what each catches. */
const SHELL_PATTERNS: [RegExp, string][] = [
  [/\bshell\s*:/, "a spawn option shell"],
  [/\bexecSync\b/, "execSync"],
  [/\bexecFileSync\b/, "execFileSync"],
  [/\bspawnSync\b/, "spawnSync"],
  [
    /\bimport\s*\{[^}]*\bexec\b[^}]*\}\s*from\s*["'](node:)?child_process["']/,
    "exec from child_process",
  ],
  [/\bchild_process\b[^\n]*\.exec\(/, "child_process.exec("],
  [
    /["'`](\/bin\/|\/usr\/bin\/)?(ba|da|z)?sh["'`]\s*,\s*["'`]-c["'`]/,
    "a shell with -c in an argv",
  ],
  [/\b(ba|da|z)?sh -c\b/, "sh -c in a string"],
];

test("source starts no program through a shell", async () => {
  const files = await sourceFiles(SOURCE);
  assert.ok(files.length > 50, `found only ${files.length} source files under ${SOURCE}`);
  const findings: string[] = [];
  for (const file of files) {
    const text = await readFile(file, "utf8");
    for (const [pattern, what] of SHELL_PATTERNS) {
      const match = pattern.exec(text);
      if (match !== null) {
        const line = text.slice(0, match.index).split("\n").length;
        findings.push(`${relative(SOURCE, file)}:${line}: ${what}: ${match[0]}`);
      }
    }
  }
  assert.deepEqual(findings, []);
});

test("only host/exec.ts imports child_process", async () => {
  const importers: string[] = [];
  for (const file of await sourceFiles(SOURCE)) {
    if (/from\s*["'](node:)?child_process["']/.test(await readFile(file, "utf8"))) {
      importers.push(relative(SOURCE, file));
    }
  }
  assert.deepEqual(importers, [join("host", "exec.ts")]);
});

test("shell patterns catch what they name", () => {
  const samples = [
    'spawn("ls", [], { shell: true })',
    "execSync(command)",
    'import { exec } from "node:child_process";',
    'run(["sh", "-c", command])',
    'run(["/bin/bash", "-c", command])',
    "`sh -c ${command}`",
  ];
  for (const sample of samples) {
    assert.ok(
      SHELL_PATTERNS.some(([pattern]) => pattern.test(sample)),
      `no pattern catches ${sample}`,
    );
  }
  assert.equal(
    SHELL_PATTERNS.some(([pattern]) => pattern.test('run(["ping", "-c", "1", address])')),
    false,
  );
});
