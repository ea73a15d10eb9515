import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { run } from "../../src/host/exec.js";
import { EtcdStore } from "../../src/store/etcd.js";
import { startFixture, type EtcdFixture } from "./etcd-fixture.js";

const BIN = fileURLToPath(new URL("../../../bin/ovs-mesh", import.meta.url));

let fixture: EtcdFixture | undefined;

before(async () => {
  fixture = await startFixture({ tls: true });
});

after(async () => {
  await fixture?.teardown();
});

/** Options that point a command at the test etcd with its certificates. */
function etcdArgs(cluster: string): string[] {
  assert.ok(fixture, "etcd did not start");
  const tls = fixture.cluster.tls;
  assert.ok(tls);
  return [
    ...["--etcd", fixture.cluster.endpoints.join(","), "--cluster", cluster],
    ...["--etcd-ca", tls.ca, "--etcd-cert", tls.cert, "--etcd-key", tls.key],
  ];
}

async function ovsMesh(...args: string[]) {
  return run(["node", BIN, ...args], { okCodes: [0, 1, 2] });
}

test("init is idempotent", async () => {
  const created = await ovsMesh(
    "init",
    ...etcdArgs("cli"),
    "--range",
    "10.240.0.0/16",
    "--tunnel",
    "vxlan",
  );
  assert.equal(created.code, 0, created.stderr);
  assert.equal(
    created.stdout,
    "cluster cli created: range 10.240.0.0/16, /24 subnets, vxlan tunnels in flow mode\n",
  );

  const again = await ovsMesh(
    "init",
    ...etcdArgs("cli"),
    "--range",
    "10.240.0.0/16",
    "--tunnel",
    "vxlan",
  );
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^cluster cli already exists with the same settings: /);

  const other = await ovsMesh("init", ...etcdArgs("cli"), "--range", "10.240.0.0/16");
  assert.equal(other.code, 2);
  assert.match(other.stderr, /tunnel: cluster cli already exists with tunnel "vxlan", not "gre"/);
});

test("init rejects bad values", async () => {
  const cases: { args: string[]; message: RegExp }[] = [
    { args: ["--range", "10.240.0.1/16"], message: /range: invalid CIDR "10.240.0.1\/16"/ },
    {
      args: ["--range", "10.240.0.0/16", "--subnet-length", "16"],
      message: /subnet length \/16 must be longer/,
    },
    {
      args: ["--range", "10.240.0.0/16", "--tunnel", "ipip"],
      message: /invalid --tunnel "ipip": expected one of gre, vxlan, geneve/,
    },
    {
      args: ["--range", "10.240.0.0/16", "--underlay-mtu", "100"],
      message: /invalid --underlay-mtu "100"/,
    },
    { args: [], message: /missing --range/ },
  ];
  for (const { args, message } of cases) {
    const result = await ovsMesh("init", ...etcdArgs("bad"), ...args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

test("etcd options are checked", async () => {
  assert.ok(fixture);
  // Every case fails before a connection is made; the URL is the test etcd all the same.
  const endpoint = fixture.cluster.endpoints[0] ?? "";
  const range = ["--range", "10.240.0.0/16"];
  const cases: { args: string[]; message: RegExp }[] = [
    { args: ["--cluster", "x", ...range], message: /missing --etcd/ },
    { args: ["--etcd", endpoint, ...range], message: /missing --cluster/ },
    {
      args: ["--etcd", endpoint.replace(/^https:\/\//, ""), "--cluster", "x", ...range],
      message: /--etcd: invalid etcd endpoint "127.0.0.1:\d+"/,
    },
    {
      args: ["--etcd", `${endpoint}/v3`, "--cluster", "x", ...range],
      message: /give only scheme, host and port/,
    },
    {
      args: ["--etcd", endpoint, "--cluster", "Bad/Name", ...range],
      message: /--cluster: invalid cluster name "Bad\/Name"/,
    },
    {
      args: ["--etcd", endpoint, "--cluster", "x", "--etcd-cert", "c.pem", ...range],
      message: /--etcd-cert and --etcd-key go together/,
    },
  ];
  for (const { args, message } of cases) {
    const result = await ovsMesh("init", ...args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

test("hosts list and remove", async () => {
  assert.ok(fixture);
  const init = await ovsMesh("init", ...etcdArgs("hosts"), "--range", "10.241.0.0/16");
  assert.equal(init.code, 0, init.stderr);
  const store = new EtcdStore({
    endpoints: fixture.cluster.endpoints,
    cluster: "hosts",
    tls: fixture.cluster.tls,
  });
  try {
    await store.join({ name: "host0", underlayIp: "198.18.0.1", subnet: undefined });
    await store.join({ name: "host1", underlayIp: "198.18.0.2", subnet: undefined });
    await store.heartbeat("host0");
  } finally {
    await store.close();
  }

  const list = await ovsMesh("hosts", "list", ...etcdArgs("hosts"));
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trimEnd().split("\n");
  assert.match(lines[0] ?? "", /^NAME +UNDERLAY IP +SUBNET +STATUS +LAST SEEN$/);
  assert.match(
    lines[1] ?? "",
    /^host0 +198\.18\.0\.1 +10\.241\.0\.0\/24 +alive +\d{4}-\d\d-\d\dT.*Z \(\d+ s ago\)$/,
  );
  assert.match(lines[2] ?? "", /^host1 +198\.18\.0\.2 +10\.241\.1\.0\/24 +down +/);
  assert.equal(lines.length, 3);

  const json = await ovsMesh("hosts", "list", "--json", ...etcdArgs("hosts"));
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as {
    cluster: string;
    hosts: { name: string; alive: boolean }[];
  };
  assert.equal(parsed.cluster, "hosts");
  assert.deepEqual(
    parsed.hosts.map((host) => [host.name, host.alive]),
    [
      ["host0", true],
      ["host1", false],
    ],
  );

  const removed = await ovsMesh("hosts", "remove", "host1", ...etcdArgs("hosts"));
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, "removed host host1 from cluster hosts and freed its subnet\n");
  const after = await ovsMesh("hosts", "list", "--json", ...etcdArgs("hosts"));
  assert.deepEqual(
    (JSON.parse(after.stdout) as { hosts: { name: string }[] }).hosts.map((host) => host.name),
    ["host0"],
  );

  const missing = await ovsMesh("hosts", "remove", "host1", ...etcdArgs("hosts"));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /host "host1" not found in cluster hosts/);

  const wrong = await ovsMesh("hosts", "rename", ...etcdArgs("hosts"));
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /unknown action "rename": use list or remove/);
});

test("hosts list warns about skipped records", async () => {
  assert.ok(fixture);
  const init = await ovsMesh("init", ...etcdArgs("warn"), "--range", "10.242.0.0/16");
  assert.equal(init.code, 0, init.stderr);
  const tls = fixture.cluster.tls;
  assert.ok(tls);
  await run([
    ...["etcdctl", `--endpoints=${fixture.cluster.endpoints.join(",")}`],
    ...[`--cacert=${tls.ca}`, `--cert=${tls.cert}`, `--key=${tls.key}`],
    ...["put", "/ovs-mesh/warn/hosts/junk", "[]"],
  ]);
  const list = await ovsMesh("hosts", "list", ...etcdArgs("warn"));
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout, "NAME  UNDERLAY IP  SUBNET  STATUS  LAST SEEN\n");
  assert.equal(
    list.stderr,
    "warning: skipped /ovs-mesh/warn/hosts/junk: (value): expected a JSON object\n",
  );
});
