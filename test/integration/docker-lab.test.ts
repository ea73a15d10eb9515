import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CommandError, run } from "../../src/host/exec.js";
import { startAgent, stopAgent } from "../../src/lab/agents.js";
import type { CheckReport } from "../../src/lab/check.js";
import {
  dockerDirectory,
  refreshDockerContainers,
  restartHostDocker,
} from "../../src/lab/docker-hosts.js";
import { destroyLab } from "../../src/lab/down.js";
import type { Lab, LabHost } from "../../src/lab/lab.js";
import { loadLab } from "../../src/lab/state.js";
import { hostOptions, inHost, labHost, labUp, ovsMesh, ovsMeshIn, waitFor } from "./ops-lab.js";

// One 3-host lab serves every test below, in order, because the restart and reset tests
// change it for the tests after them. Each host runs dockerd with two containers and an agent
// that shares the lab's cluster file, claims a subnet and keeps daemon.json.

const LAB = "t-dock1";
const INNER_MTU = "1462"; // GRE on a 1500-byte underlay: 1500 - 38.
const HTTP_PORT = "8080";

async function skipReason(): Promise<string | false> {
  if (process.getuid?.() !== 0) {
    return "needs root for network namespaces and dockerd";
  }
  try {
    await run(["dockerd", "--version"]);
  } catch (error) {
    if (error instanceof CommandError && error.code === null) {
      return "needs dockerd (Debian package docker.io)";
    }
    throw error;
  }
  return false;
}

const skip = await skipReason();

/** Runs a command in a lab container through `ovs-mesh lab exec`. */
async function labExec(target: string, argv: string[]): Promise<string> {
  const result = await ovsMesh(["lab", "exec", "--name", LAB, target, "--", ...argv]);
  assert.equal(result.code, 0, `${target}: ${argv.join(" ")}: ${result.stderr}`);
  return result.stdout.trim();
}

async function checkLabJson(): Promise<{ code: number; report: CheckReport }> {
  const result = await ovsMesh(["lab", "check", "--name", LAB, "--json"]);
  return { code: result.code, report: JSON.parse(result.stdout) as CheckReport };
}

async function iptables(host: LabHost, args: string[]): Promise<string[]> {
  const result = await inHost(host, ["iptables", ...args]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim().split("\n");
}

async function linkIndex(host: LabHost, device: string): Promise<number | undefined> {
  const result = await run(["ip", "-n", host.namespace, "-j", "link", "show", "dev", device], {
    okCodes: [0, 1],
  });
  if (result.code !== 0) {
    return undefined;
  }
  const [link] = JSON.parse(result.stdout) as { ifindex: number }[];
  return link?.ifindex;
}

async function master(host: LabHost, device: string): Promise<string | undefined> {
  const { stdout } = await run(["ip", "-n", host.namespace, "-j", "link", "show", "dev", device]);
  const [link] = JSON.parse(stdout) as { master?: string }[];
  return link?.master;
}

/** Each container's Docker id, process and address, as Docker reports them now. */
async function containerFacts(): Promise<Record<string, string>> {
  const lab = await loadLab(LAB);
  await refreshDockerContainers(lab);
  const facts: Record<string, string> = {};
  for (const host of lab.hosts) {
    for (const container of host.containers) {
      facts[`${host.name}/${container.name}`] =
        `${container.dockerId ?? "-"} ${container.namespacePath} ${container.ip}`;
    }
  }
  return facts;
}

describe("lab with Docker on every host", { skip }, () => {
  let lab: Lab;

  before(async () => {
    await destroyLab(LAB);
    const args = ["--docker", "--store", "file", "--hosts", "3", "--containers", "2"];
    lab = await labUp(LAB, args);
  });

  after(() => destroyLab(LAB));

  async function agentLog(host: LabHost): Promise<string> {
    assert.ok(host.agent !== undefined, `${host.name} has no agent`);
    return readFile(host.agent.logFile, "utf8");
  }

  async function reconcileCount(host: LabHost): Promise<number> {
    return (await agentLog(host)).split('"event":"reconcile"').length - 1;
  }

  test("lab up records Docker containers", async () => {
    for (const host of lab.hosts) {
      assert.match(host.subnet, /^10\.240\.\d+\.0\/24$/, `${host.name} claimed a subnet`);
      const prefix = host.subnet.replace(/0\/24$/, "");
      for (const container of host.containers) {
        const where = `${host.name}/${container.name}`;
        assert.match(container.dockerId ?? "", /^[0-9a-f]{64}$/, where);
        assert.match(container.namespacePath, /^\/proc\/\d+\/ns\/net$/, where);
        assert.equal(container.namespace, "", where);
        assert.ok(container.ip.startsWith(prefix), `${where}: ${container.ip}`);
      }
      const daemonJson = JSON.parse(
        await readFile(join(dockerDirectory(host), "daemon.json"), "utf8"),
      ) as Record<string, unknown>;
      assert.equal(daemonJson.bip, `${host.gateway}/24`);
      assert.equal(daemonJson.mtu, Number(INNER_MTU));
      const record = JSON.parse(
        await readFile(join(host.runDirectory, "ovs-mesh", "host.json"), "utf8"),
      ) as Record<string, unknown>;
      assert.equal(record.createdLinuxBridge, false, `${host.name}: docker0 is Docker's`);
      const log = await agentLog(host);
      assert.match(log, /"event":"docker-config".*"bip":"10\.240\.\d+\.1\/24","mtu":1462/);
      assert.equal(log.split('"event":"docker-config"').length - 1, 1, "written once");
      const env = await readFile(join(dockerDirectory(host), "subnet.env"), "utf8");
      assert.ok(env.includes(`OVS_MESH_SUBNET=${host.subnet}\n`), env);
    }
  });

  test("docker lab passes lab check", async (t) => {
    const started = performance.now();
    const { code, report } = await checkLabJson();
    t.diagnostic(`lab check: ${Math.round(performance.now() - started)} ms`);
    assert.equal(report.pairs.length, 24);
    assert.equal(report.failed, 0, JSON.stringify(report.pairs.filter((pair) => !pair.ok)));
    assert.equal(code, 0);
  });

  test("lab exec runs in the container", async () => {
    assert.equal(await labExec("host0/c1", ["hostname"]), "c1");
  });

  test("container eth0 has the inner MTU", async () => {
    for (const host of lab.hosts) {
      for (const container of host.containers) {
        const target = `${host.name}/${container.name}`;
        assert.equal(await labExec(target, ["cat", "/sys/class/net/eth0/mtu"]), INNER_MTU, target);
      }
    }
  });

  test("server sees the client container's address", async () => {
    const server = labHost(lab, "host1").containers[0];
    assert.ok(server);
    // busybox httpd passes the peer's address to CGI programs in REMOTE_ADDR. It listens on
    // the IPv4 address, because on "::" it would report IPv4 peers as [::ffff:a.b.c.d].
    const cgi = '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s" "$REMOTE_ADDR"\n';
    await labExec("host1/c0", [
      "sh",
      "-c",
      `mkdir -p /www/cgi-bin && printf '%s' '${cgi}' > /www/cgi-bin/peer && chmod 755 /www/cgi-bin/peer && httpd -p ${server.ip}:${HTTP_PORT} -h /www`,
    ]);

    for (const client of ["host0/c0", "host2/c1"]) {
      const [hostName, containerName] = client.split("/");
      const sender = labHost(lab, hostName ?? "").containers.find((c) => c.name === containerName);
      assert.ok(sender);
      const url = `http://${server.ip}:${HTTP_PORT}/cgi-bin/peer`;
      const seen = await labExec(client, ["wget", "-q", "-O", "-", url]);
      assert.equal(seen, sender.ip, `${client} reached ${server.ip} as ${seen}`);
    }
  });

  test("dockerd restart recreates docker0 and heals", async (t) => {
    const host = labHost(lab, "host1");
    const before = await linkIndex(host, "docker0");
    assert.ok(before !== undefined);
    // dockerd 20.10 keeps an existing docker0 across a restart. Without it, as after a reboot
    // or 'ip link delete docker0', the new dockerd creates docker0 again, without br0.
    await run(["ip", "-n", host.namespace, "link", "delete", "docker0"]);
    const started = performance.now();
    await restartHostDocker(lab, host, { apply: false });

    await waitFor(
      "br0 back in a new docker0, the route back and ovs-mesh's jumps first",
      async () => {
        const index = await linkIndex(host, "docker0");
        const routes = await run(["ip", "-n", host.namespace, "route", "show", "10.240.0.0/16"]);
        const forward = await iptables(host, ["-S", "FORWARD"]);
        const postrouting = await iptables(host, ["-t", "nat", "-S", "POSTROUTING"]);
        const healed =
          index !== undefined &&
          index !== before &&
          (await master(host, "br0")) === "docker0" &&
          routes.stdout.includes("dev docker0") &&
          forward[1] === "-A FORWARD -j OVS-MESH-FORWARD" &&
          postrouting[1] === "-A POSTROUTING -j OVS-MESH-POSTROUTING";
        return healed ? true : undefined;
      },
      45_000,
    ).catch(async (error: Error) => assert.fail(`${error.message}\n${await agentLog(host)}`));
    t.diagnostic(`healed ${Math.round(performance.now() - started)} ms after the restart began`);

    const { code, report } = await checkLabJson();
    assert.equal(report.failed, 0, JSON.stringify(report.pairs.filter((pair) => !pair.ok)));
    assert.equal(code, 0);
  });

  test("agent restart and apply keep addresses", async () => {
    const before = await containerFacts();
    const host1 = labHost(lab, "host1");
    assert.ok(host1.agent !== undefined);
    const reconciles = await reconcileCount(host1);
    assert.ok((await stopAgent(host1)) !== undefined, "the agent of host1 ran");
    host1.agent.pid = await startAgent(lab, host1, host1.agent);
    await waitFor("the restarted agent's first reconcile", async () =>
      (await reconcileCount(host1)) > reconciles ? true : undefined,
    );
    for (const host of lab.hosts) {
      const args = ["apply", "--config", lab.clusterFile, "--host", host.name];
      const result = await ovsMeshIn(host, [...args, ...hostOptions(host)]);
      assert.equal(result.code, 0, `${host.name}: ${result.stderr}`);
    }
    assert.deepEqual(await containerFacts(), before);
  });

  test("reset leaves docker0 and Docker's chains", async () => {
    const host = labHost(lab, "host2");
    // The agent would put back what reset removes.
    assert.ok((await stopAgent(host)) !== undefined, "the agent of host2 ran");
    const result = await ovsMeshIn(host, ["reset", ...hostOptions(host)]);
    assert.equal(result.code, 0, result.stderr);

    const docker0 = await run(["ip", "-n", host.namespace, "-j", "-4", "addr", "show", "docker0"]);
    const [link] = JSON.parse(docker0.stdout) as { addr_info: { local: string }[] }[];
    assert.deepEqual(
      link?.addr_info.map((info) => info.local),
      [host.gateway],
    );
    assert.equal(await linkIndex(host, "br0"), undefined, "br0 is gone with the OVS bridge");
    const routes = await run(["ip", "-n", host.namespace, "route", "show", "10.240.0.0/16"]);
    assert.equal(routes.stdout.trim(), "");

    const filter = await iptables(host, ["-S"]);
    const nat = await iptables(host, ["-t", "nat", "-S"]);
    for (const chain of ["DOCKER", "DOCKER-USER", "DOCKER-ISOLATION-STAGE-1"]) {
      assert.ok(filter.includes(`-N ${chain}`), `filter chain ${chain} is kept`);
      assert.ok(filter.includes(`-A FORWARD -j ${chain}`) || chain === "DOCKER", chain);
    }
    assert.ok(nat.includes("-N DOCKER"), "nat chain DOCKER is kept");
    assert.ok(nat.includes(`-A POSTROUTING -s ${host.subnet} ! -o docker0 -j MASQUERADE`));
    assert.deepEqual(
      filter.filter((line) => line.includes("OVS-MESH")),
      [],
      "no filter rule or chain of ovs-mesh is left",
    );
    assert.deepEqual(
      nat.filter((line) => line.includes("OVS-MESH")),
      [],
      "no nat rule or chain of ovs-mesh is left",
    );

    for (const container of host.containers) {
      assert.equal(
        await labExec(`${host.name}/${container.name}`, ["cat", "/sys/class/net/eth0/mtu"]),
        INNER_MTU,
      );
    }
  });
});
