import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { run } from "../../src/host/exec.js";
import { ConfigError } from "../../src/plan/cluster.js";
import { SubnetError } from "../../src/plan/ipam.js";
import { HostNotFoundError, JoinConflictError } from "../../src/store/errors.js";
import { FileStore } from "../../src/store/file.js";

const CLUSTER = `# cluster of the test
range: 10.240.0.0/16
subnetLength: 24
tunnel: vxlan
hosts:
  # the first host
  - name: host0
    underlayIp: 198.18.0.10
    subnet: 10.240.0.0/24
`;

let dir = "";
let path = "";

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "omt-file-store-"));
  path = join(dir, "cluster.yaml");
  await writeFile(path, CLUSTER);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function request(name: string, underlayIp: string, subnet?: string) {
  return { name, underlayIp, subnet };
}

test("FileStore.load reads settings and hosts", async () => {
  const view = await new FileStore(path).load();
  assert.equal(view.settings.range, "10.240.0.0/16");
  assert.equal(view.settings.tunnel, "vxlan");
  assert.deepEqual(view.hosts, [
    { name: "host0", underlayIp: "198.18.0.10", subnet: "10.240.0.0/24", lastSeen: undefined },
  ]);
  assert.deepEqual(view.problems, []);
});

test("FileStore.load skips an invalid host entry", async () => {
  await writeFile(
    path,
    `${CLUSTER}  - name: Bad_Name
    underlayIp: 198.18.0.11
    subnet: 10.240.1.0/24
  - name: host2
    underlayIp: 198.18.0.10
    subnet: 10.240.2.0/24
  - name: host3
    underlayIp: 198.18.0.13
    subnet: 10.240.3.0/24
`,
  );
  const view = await new FileStore(path).load();
  assert.deepEqual(
    view.hosts.map((host) => host.name),
    ["host0", "host3"],
  );
  assert.equal(view.problems.length, 2);
  assert.equal(view.problems[0]?.key, `${path}: hosts[1].name`);
  assert.match(view.problems[0]?.message ?? "", /invalid host name "Bad_Name"/);
  assert.equal(view.problems[1]?.key, `${path}: hosts[2].underlayIp`);
  assert.match(
    view.problems[1]?.message ?? "",
    /underlay IP 198.18.0.10 is also used by hosts\[0\]/,
  );
});

test("FileStore.load rejects invalid settings", async () => {
  await writeFile(path, CLUSTER.replace("tunnel: vxlan", "tunnel: ipip"));
  await assert.rejects(new FileStore(path).load(), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.source, path);
    assert.deepEqual(
      error.problems.map((problem) => problem.path),
      ["tunnel"],
    );
    return true;
  });
});

test("FileStore.load names the line of a YAML error", async () => {
  await writeFile(path, "range: 10.240.0.0/16\nhosts:\n  - name: [host0\n");
  await assert.rejects(new FileStore(path).load(), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.source, path);
    assert.match(error.problems[0]?.path ?? "", /^line \d+, column \d+$/);
    assert.match(
      error.problems[0]?.message ?? "",
      /^invalid YAML: .*: fix the syntax at this position$/,
    );
    assert.match(error.message, new RegExp(`invalid configuration in ${path}`));
    return true;
  });
});

test("FileStore.load reports a missing file", async () => {
  await assert.rejects(new FileStore(join(dir, "absent.yaml")).load(), {
    name: "ConfigError",
    message: new RegExp(`absent.yaml:\\n  \\(file\\): file not found`),
  });
});

test("FileStore.join picks the lowest free subnet and keeps comments", async () => {
  const store = new FileStore(path);
  const host = await store.join(request("host1", "198.18.0.11"));
  assert.deepEqual(host, { name: "host1", underlayIp: "198.18.0.11", subnet: "10.240.1.0/24" });

  const text = await readFile(path, "utf8");
  assert.match(text, /# cluster of the test/);
  assert.match(text, /# the first host/);
  const view = await store.load();
  assert.deepEqual(
    view.hosts.map((entry) => [entry.name, entry.subnet]),
    [
      ["host0", "10.240.0.0/24"],
      ["host1", "10.240.1.0/24"],
    ],
  );
});

test("FileStore.join into an empty flow list", async () => {
  await writeFile(path, "range: 10.240.0.0/16\nhosts: []\n");
  const host = await new FileStore(path).join(request("host0", "198.18.0.10"));
  assert.equal(host.subnet, "10.240.0.0/24");
  assert.match(await readFile(path, "utf8"), /^hosts:\n {2}- name: host0$/m);
});

test("FileStore.join again keeps the subnet", async () => {
  const store = new FileStore(path);
  const before = await readFile(path, "utf8");
  const same = await store.join(request("host0", "198.18.0.10"));
  assert.equal(same.subnet, "10.240.0.0/24");
  assert.equal(await readFile(path, "utf8"), before);

  const moved = await store.join(request("host0", "198.18.0.99"));
  assert.deepEqual(moved, { name: "host0", underlayIp: "198.18.0.99", subnet: "10.240.0.0/24" });
  assert.equal((await store.load()).hosts[0]?.underlayIp, "198.18.0.99");
});

test("FileStore.join with a requested subnet", async () => {
  const store = new FileStore(path);
  const host = await store.join(request("host1", "198.18.0.11", "10.240.9.0/24"));
  assert.equal(host.subnet, "10.240.9.0/24");

  await assert.rejects(store.join(request("host2", "198.18.0.12", "10.240.9.0/24")), {
    name: "JoinConflictError",
    message:
      "cannot join host host2: subnet 10.240.9.0/24 is already taken: pick a free subnet or let ovs-mesh choose one",
  });
  await assert.rejects(
    store.join(request("host2", "198.18.0.12", "10.99.0.0/24")),
    /outside the cluster range/,
  );
  await assert.rejects(
    store.join(request("host0", "198.18.0.10", "10.240.5.0/24")),
    (error: unknown) => {
      assert.ok(error instanceof JoinConflictError);
      assert.match(
        error.message,
        /host host0 already owns subnet 10.240.0.0\/24, not 10.240.5.0\/24/,
      );
      return true;
    },
  );
});

test("FileStore.join rejects a used underlay IP", async () => {
  await assert.rejects(
    new FileStore(path).join(request("host1", "198.18.0.10")),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /underlay IP 198.18.0.10 is also used by hosts\[0\]/);
      return true;
    },
  );
  assert.equal((await new FileStore(path).load()).hosts.length, 1);
});

test("FileStore.join rejects an invalid name and underlay IP", async () => {
  await assert.rejects(
    new FileStore(path).join(request("Host_1", "198.18.0.11")),
    /invalid host name "Host_1"/,
  );
  await assert.rejects(
    new FileStore(path).join(request("host1", "10.240.77.1")),
    /inside the cluster range/,
  );
});

test("FileStore.join reports a full range", async () => {
  await writeFile(
    path,
    "range: 10.240.0.0/23\nhosts:\n  - {name: a, underlayIp: 198.18.0.1, subnet: 10.240.0.0/24}\n",
  );
  const store = new FileStore(path);
  await store.join(request("b", "198.18.0.2"));
  await assert.rejects(store.join(request("c", "198.18.0.3")), (error: unknown) => {
    assert.ok(error instanceof SubnetError);
    assert.match(error.message, /cluster range 10.240.0.0\/23 is full/);
    return true;
  });
});

test("FileStore.join: 20 concurrent joins", async () => {
  const joins = Array.from({ length: 20 }, (_, index) =>
    new FileStore(path).join(request(`node${index}`, `198.18.1.${index + 1}`)),
  );
  const hosts = await Promise.all(joins);
  const subnets = new Set(hosts.map((host) => host.subnet));
  assert.equal(subnets.size, 20);
  assert.ok(!subnets.has("10.240.0.0/24"));

  const view = await new FileStore(path).load();
  assert.equal(view.hosts.length, 21);
  assert.deepEqual(view.problems, []);
  const leftovers = (await readdir(dir)).filter((name) => name !== "cluster.yaml");
  assert.deepEqual(leftovers, []);
});

test("FileStore.join from 4 processes", async () => {
  const module = new URL("../../src/store/file.js", import.meta.url).href;
  const script = `
    const { FileStore } = await import(${JSON.stringify(module)});
    const [path, prefix, index] = process.argv.slice(1);
    for (let i = 0; i < 5; i++) {
      await new FileStore(path).join({ name: prefix + i, underlayIp: "198.18." + index + "." + (i + 1), subnet: undefined });
    }`;
  await Promise.all(
    [2, 3, 4, 5].map((index) =>
      run(["node", "--input-type=module", "-e", script, path, `p${index}-`, String(index)]),
    ),
  );
  const view = await new FileStore(path).load();
  assert.equal(view.hosts.length, 21);
  assert.equal(new Set(view.hosts.map((host) => host.subnet)).size, 21);
  assert.deepEqual(view.problems, []);
});

test("FileStore.leave frees the subnet", async () => {
  const store = new FileStore(path);
  await store.join(request("host1", "198.18.0.11"));
  await store.leave("host0");
  assert.deepEqual(
    (await store.load()).hosts.map((host) => host.name),
    ["host1"],
  );
  const again = await store.join(request("host2", "198.18.0.12"));
  assert.equal(again.subnet, "10.240.0.0/24");
  await assert.rejects(store.leave("host0"), (error: unknown) => {
    assert.ok(error instanceof HostNotFoundError);
    assert.match(error.message, /host "host0" not found in/);
    return true;
  });
});

test("FileStore.leave removes an invalid entry", async () => {
  await writeFile(
    path,
    `${CLUSTER}  - name: host1\n    underlayIp: not-an-ip\n    subnet: 10.240.1.0/24\n`,
  );
  const store = new FileStore(path);
  assert.equal((await store.load()).problems.length, 1);
  await store.leave("host1");
  assert.deepEqual((await store.load()).problems, []);
});

test("FileStore.heartbeat writes nothing", async () => {
  const before = await stat(path);
  await new FileStore(path).heartbeat("host0");
  const after = await stat(path);
  assert.equal(after.mtimeMs, before.mtimeMs);
  assert.equal(after.ino, before.ino);
});

test("FileStore takes over a lock of a dead process", async () => {
  // A pid above the kernel's pid_max limit (4194304 at most) cannot belong to a process.
  const stale = { pid: 99_999_999, host: hostname(), createdAt: Date.now() };
  await writeFile(`${path}.lock`, JSON.stringify(stale));
  const host = await new FileStore(path).join(request("host1", "198.18.0.11"));
  assert.equal(host.subnet, "10.240.1.0/24");
  await assert.rejects(stat(`${path}.lock`), { code: "ENOENT" });
});

test("FileStore waits for a live lock, then times out", async () => {
  const live = { pid: process.pid, host: hostname(), createdAt: Date.now() };
  await writeFile(`${path}.lock`, JSON.stringify(live));
  const store = new FileStore(path, { lock: { timeoutMs: 200 } });
  await assert.rejects(store.join(request("host1", "198.18.0.11")), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(
      error.message,
      /^timed out after 200 ms waiting for lock file .*cluster.yaml.lock \(held by pid \d+ on /,
    );
    assert.match(error.message, /if that process is gone, remove the lock file$/);
    return true;
  });
  assert.equal((await new FileStore(path).load()).hosts.length, 1);
});

test("FileStore.watch fires after a join", async () => {
  const store = new FileStore(path, { debounceMs: 20 });
  const errors: Error[] = [];
  let stop: () => void = () => undefined;
  const changed = new Promise<void>((resolve) => {
    stop = store.watch(resolve, (error) => errors.push(error));
  });
  try {
    await store.join(request("host1", "198.18.0.11"));
    const timeout = new Promise<string>((resolve) =>
      setTimeout(() => resolve("timeout"), 5000).unref(),
    );
    assert.equal(await Promise.race([changed.then(() => "changed"), timeout]), "changed");
    assert.deepEqual(errors, []);
  } finally {
    stop();
  }
});

test("FileStore.watch reports a missing directory", () => {
  const errors: Error[] = [];
  const stop = new FileStore(join(dir, "absent", "cluster.yaml")).watch(
    () => undefined,
    (error) => errors.push(error),
  );
  stop();
  assert.equal(errors.length, 1);
  assert.match(errors[0]?.message ?? "", /ENOENT/);
});
