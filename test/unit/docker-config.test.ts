import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  checkDockerNetwork,
  mergeDaemonJson,
  writeDockerConfig,
} from "../../src/host/docker-config.js";
import { run } from "../../src/host/exec.js";
import { parseCidr, type Ipv4Network } from "../../src/plan/ipv4.js";

const SUBNET = "10.240.1.0/24";
const RANGE = "10.240.0.0/16";
const EXPECTED_ENV = [
  "OVS_MESH_SUBNET=10.240.1.0/24",
  "OVS_MESH_GATEWAY=10.240.1.1",
  "OVS_MESH_MTU=1450",
  "OVS_MESH_RANGE=10.240.0.0/16",
  "",
].join("\n");

function network(cidr: string): Ipv4Network {
  const parsed = parseCidr(cidr);
  assert.ok(parsed, `test network ${cidr} must parse`);
  return parsed;
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "ovs-mesh-docker-config-"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("mergeDaemonJson keeps other keys in order", () => {
  const existing = JSON.stringify({ "log-driver": "local", mtu: 1500, "storage-driver": "vfs" });
  const merge = mergeDaemonJson(existing, network(SUBNET), 1450, "/x/daemon.json");
  assert.equal(
    merge.text,
    `${JSON.stringify({ "log-driver": "local", mtu: 1450, "storage-driver": "vfs", bip: "10.240.1.1/24" }, null, 2)}\n`,
  );
  assert.deepEqual(merge.previous, { bip: undefined, mtu: 1500 });
});

test("mergeDaemonJson creates a missing file", () => {
  const merge = mergeDaemonJson(undefined, network("10.240.8.0/22"), 1400, "/x/daemon.json");
  assert.equal(merge.text, `${JSON.stringify({ bip: "10.240.8.1/22", mtu: 1400 }, null, 2)}\n`);
});

test("mergeDaemonJson returns no text when unchanged", () => {
  const existing = '{"bip":"10.240.1.1/24","mtu":1450,"debug":true}';
  const merge = mergeDaemonJson(existing, network(SUBNET), 1450, "/x/daemon.json");
  assert.equal(merge.text, undefined);
  assert.deepEqual(merge.previous, { bip: "10.240.1.1/24", mtu: 1450 });
});

const rejected: [string, string, RegExp][] = [
  ["invalid JSON", '{"mtu": 1500,', /^\/x\/daemon\.json is not valid JSON \(.+\); fix the file/],
  ["an array", "[1]", /^\/x\/daemon\.json must contain a JSON object, found an array/],
  ["null", "null", /^\/x\/daemon\.json must contain a JSON object, found null/],
  ["a bridge name", '{"bridge":"br-x"}', /sets "bridge": "br-x", which dockerd rejects/],
  ["docker0 as bridge", '{"bridge":"docker0"}', /sets "bridge": "docker0"/],
  [
    "fixed-cidr outside",
    '{"fixed-cidr":"10.9.0.0/24"}',
    /"fixed-cidr": "10\.9\.0\.0\/24", .+10\.240\.1\.0\/24/,
  ],
  ["fixed-cidr not a CIDR", '{"fixed-cidr":7}', /"fixed-cidr": 7/],
];

for (const [name, text, message] of rejected) {
  test(`mergeDaemonJson rejects ${name}`, () => {
    assert.throws(() => mergeDaemonJson(text, network(SUBNET), 1450, "/x/daemon.json"), {
      name: "Error",
      message,
    });
  });
}

test("mergeDaemonJson accepts fixed-cidr inside the subnet", () => {
  const merge = mergeDaemonJson(
    '{"fixed-cidr":"10.240.1.128/25"}',
    network(SUBNET),
    1450,
    "/x/daemon.json",
  );
  assert.match(merge.text ?? "", /"fixed-cidr": "10\.240\.1\.128\/25"/);
});

const networks: [
  string,
  { subnet: string; range: string; innerMtu: number },
  string | undefined,
][] = [
  ["valid", { subnet: SUBNET, range: RANGE, innerMtu: 1450 }, undefined],
  [
    "bad subnet",
    { subnet: "10.240.1.1/24", range: RANGE, innerMtu: 1450 },
    'invalid subnet "10.240.1.1/24"',
  ],
  [
    "/31 subnet",
    { subnet: "10.240.1.0/31", range: RANGE, innerMtu: 1450 },
    "subnet 10.240.1.0/31 is too small",
  ],
  [
    "bad range",
    { subnet: SUBNET, range: "10.240/16", innerMtu: 1450 },
    'invalid range "10.240/16"',
  ],
  [
    "subnet outside",
    { subnet: "10.9.1.0/24", range: RANGE, innerMtu: 1450 },
    "subnet 10.9.1.0/24 is outside",
  ],
  ["MTU too small", { subnet: SUBNET, range: RANGE, innerMtu: 500 }, "invalid MTU 500"],
  ["MTU too large", { subnet: SUBNET, range: RANGE, innerMtu: 70000 }, "invalid MTU 70000"],
  ["MTU not integer", { subnet: SUBNET, range: RANGE, innerMtu: 1400.5 }, "invalid MTU 1400.5"],
];

for (const [name, input, expected] of networks) {
  test(`checkDockerNetwork with ${name}`, () => {
    const problem = checkDockerNetwork(input);
    if (expected === undefined) {
      assert.equal(problem, undefined);
    } else {
      assert.ok(problem?.startsWith(expected), `got ${String(problem)}`);
    }
  });
}

test("writeDockerConfig creates missing files", async () => {
  await withTempDir(async (dir) => {
    const daemonJsonPath = join(dir, "etc", "docker", "daemon.json");
    const envFilePath = join(dir, "run", "subnet.env");
    const result = await writeDockerConfig({
      daemonJsonPath,
      envFilePath,
      subnet: SUBNET,
      range: RANGE,
      innerMtu: 1450,
    });

    assert.equal(result.daemonJsonChanged, true);
    assert.equal(result.envFileChanged, true);
    assert.equal(result.backupPath, undefined);
    assert.equal(result.bip, "10.240.1.1/24");
    assert.deepEqual(JSON.parse(await readFile(daemonJsonPath, "utf8")), {
      bip: "10.240.1.1/24",
      mtu: 1450,
    });
    assert.equal(await readFile(envFilePath, "utf8"), EXPECTED_ENV);
    assert.deepEqual(await readdir(dirname(daemonJsonPath)), ["daemon.json"]);
  });
});

test("writeDockerConfig keeps other keys and backs up", async () => {
  await withTempDir(async (dir) => {
    const daemonJsonPath = join(dir, "daemon.json");
    const before = '{\n  "log-driver": "local",\n  "bip": "172.17.0.1/16"\n}\n';
    await writeFile(daemonJsonPath, before);
    await chmod(daemonJsonPath, 0o600);

    const result = await writeDockerConfig({
      daemonJsonPath,
      envFilePath: join(dir, "subnet.env"),
      subnet: SUBNET,
      range: RANGE,
      innerMtu: 1450,
    });

    assert.equal(result.daemonJsonChanged, true);
    assert.deepEqual(result.previous, { bip: "172.17.0.1/16", mtu: undefined });
    assert.equal(result.backupPath, `${daemonJsonPath}.ovs-mesh.bak`);
    assert.equal(await readFile(`${daemonJsonPath}.ovs-mesh.bak`, "utf8"), before);
    assert.deepEqual(JSON.parse(await readFile(daemonJsonPath, "utf8")), {
      "log-driver": "local",
      bip: "10.240.1.1/24",
      mtu: 1450,
    });
    assert.equal((await stat(daemonJsonPath)).mode & 0o777, 0o600);
    assert.deepEqual((await readdir(dir)).sort(), [
      "daemon.json",
      "daemon.json.ovs-mesh.bak",
      "subnet.env",
    ]);
  });
});

test("writeDockerConfig rejects invalid JSON and writes nothing", async () => {
  await withTempDir(async (dir) => {
    const daemonJsonPath = join(dir, "daemon.json");
    const broken = '{"log-driver": "local",,}';
    await writeFile(daemonJsonPath, broken);

    await assert.rejects(
      writeDockerConfig({
        daemonJsonPath,
        envFilePath: join(dir, "subnet.env"),
        subnet: SUBNET,
        range: RANGE,
        innerMtu: 1450,
      }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, new RegExp(`^${daemonJsonPath} is not valid JSON`));
        assert.match(error.message, /fix the file or move it away/);
        return true;
      },
    );
    assert.equal(await readFile(daemonJsonPath, "utf8"), broken);
    assert.deepEqual(await readdir(dir), ["daemon.json"]);
  });
});

test("writeDockerConfig rejects an invalid MTU", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      writeDockerConfig({
        daemonJsonPath: join(dir, "daemon.json"),
        envFilePath: join(dir, "subnet.env"),
        subnet: SUBNET,
        range: RANGE,
        innerMtu: 100,
      }),
      { name: "RangeError", message: /^invalid MTU 100/ },
    );
    assert.deepEqual(await readdir(dir), []);
  });
});

test("writeDockerConfig is idempotent", async () => {
  await withTempDir(async (dir) => {
    const options = {
      daemonJsonPath: join(dir, "daemon.json"),
      envFilePath: join(dir, "subnet.env"),
      subnet: SUBNET,
      range: RANGE,
      innerMtu: 1450,
    };
    await writeFile(options.daemonJsonPath, '{"debug":true}');
    await writeDockerConfig(options);
    const firstText = await readFile(options.daemonJsonPath, "utf8");
    const firstBackup = await readFile(`${options.daemonJsonPath}.ovs-mesh.bak`, "utf8");
    const firstMtime = (await stat(options.daemonJsonPath)).mtimeMs;

    const second = await writeDockerConfig(options);

    assert.equal(second.daemonJsonChanged, false);
    assert.equal(second.envFileChanged, false);
    assert.equal(second.backupPath, undefined);
    assert.equal(await readFile(options.daemonJsonPath, "utf8"), firstText);
    assert.equal((await stat(options.daemonJsonPath)).mtimeMs, firstMtime);
    assert.equal(await readFile(`${options.daemonJsonPath}.ovs-mesh.bak`, "utf8"), firstBackup);
  });
});

test("writeDockerConfig backs up only on change", async () => {
  await withTempDir(async (dir) => {
    const daemonJsonPath = join(dir, "daemon.json");
    const current = '{"bip": "10.240.1.1/24", "mtu": 1450}';
    await writeFile(daemonJsonPath, current);

    const unchanged = await writeDockerConfig({
      daemonJsonPath,
      envFilePath: join(dir, "subnet.env"),
      subnet: SUBNET,
      range: RANGE,
      innerMtu: 1450,
    });
    assert.equal(unchanged.daemonJsonChanged, false);
    assert.equal(await readFile(daemonJsonPath, "utf8"), current);
    assert.deepEqual((await readdir(dir)).sort(), ["daemon.json", "subnet.env"]);

    const changed = await writeDockerConfig({
      daemonJsonPath,
      envFilePath: join(dir, "subnet.env"),
      subnet: SUBNET,
      range: RANGE,
      innerMtu: 1400,
    });
    assert.equal(changed.daemonJsonChanged, true);
    assert.equal(changed.envFileChanged, true);
    assert.equal(await readFile(`${daemonJsonPath}.ovs-mesh.bak`, "utf8"), current);
    assert.match(await readFile(join(dir, "subnet.env"), "utf8"), /^OVS_MESH_MTU=1400$/m);
  });
});

// Black-box tests of the command: the built program, its output and its exit code.
const PROGRAM = resolve(dirname(fileURLToPath(import.meta.url)), "../../../bin/ovs-mesh");

test("docker-config command reports changes", async () => {
  await withTempDir(async (dir) => {
    const daemonJson = join(dir, "daemon.json");
    const envFile = join(dir, "subnet.env");
    await writeFile(daemonJson, '{"mtu": 1500}');
    const args = [
      PROGRAM,
      "docker-config",
      "--subnet",
      SUBNET,
      "--mtu",
      "1450",
      "--range",
      RANGE,
      "--daemon-json",
      daemonJson,
      "--subnet-file",
      envFile,
    ];

    const first = await run(["node", ...args]);
    assert.equal(
      first.stdout,
      [
        `${daemonJson}: set bip 10.240.1.1/24 (was unset), mtu 1450 (was 1500)`,
        `${daemonJson}: previous content saved in ${daemonJson}.ovs-mesh.bak`,
        `${envFile}: written`,
        "Restart Docker to apply bip and mtu, for example: systemctl restart docker",
        "",
      ].join("\n"),
    );

    const second = await run(["node", ...args]);
    assert.equal(
      second.stdout,
      [
        `${daemonJson}: up to date (bip 10.240.1.1/24, mtu 1450), nothing to change`,
        `${envFile}: up to date, nothing to change`,
        "",
      ].join("\n"),
    );
  });
});

const usageErrors: [string, string[], string][] = [
  [
    "bad subnet",
    ["--subnet", "10.240.1.5/24", "--mtu", "1450", "--range", RANGE],
    '"10.240.1.5/24"',
  ],
  ["bad MTU", ["--subnet", SUBNET, "--mtu", "15x", "--range", RANGE], 'invalid --mtu "15x"'],
  ["MTU too small", ["--subnet", SUBNET, "--mtu", "100", "--range", RANGE], 'invalid --mtu "100"'],
  ["missing range", ["--subnet", SUBNET, "--mtu", "1450"], "missing --range"],
  [
    "subnet outside",
    ["--subnet", "10.9.0.0/24", "--mtu", "1450", "--range", RANGE],
    "10.9.0.0/24 is outside",
  ],
];

for (const [name, options, expected] of usageErrors) {
  test(`docker-config command rejects ${name}`, async () => {
    await withTempDir(async (dir) => {
      const result = await run(
        [
          "node",
          PROGRAM,
          "docker-config",
          ...options,
          "--daemon-json",
          join(dir, "daemon.json"),
          "--subnet-file",
          join(dir, "subnet.env"),
        ],
        { okCodes: [2] },
      );
      assert.equal(result.code, 2);
      assert.ok(result.stderr.includes(expected), result.stderr);
      assert.deepEqual(await readdir(dir), []);
    });
  });
}
