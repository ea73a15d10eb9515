import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

import { CommandError, run, type RunResult } from "../../src/host/exec.js";
import type { LinuxQuery } from "../../src/host/linux.js";
import { FORWARD_CHAIN, NAT_CHAIN, type LinuxChange } from "../../src/plan/state.js";

const CHILD = fileURLToPath(new URL("./_linux-driver-child.js", import.meta.url));
const NAMESPACE = `omt-linux-${process.pid}`;
const SKIP = process.getuid?.() === 0 ? false : "needs root to create network namespaces";

const OVERLAY_COMMENT = 'ovs-mesh "overlay"';

const SETUP: LinuxChange[] = [
  { kind: "create-bridge", name: "omtbr0" },
  { kind: "set-mtu", device: "omtbr0", mtu: 1450 },
  { kind: "add-address", device: "omtbr0", address: "10.240.1.1/24" },
  { kind: "set-up", device: "omtbr0" },
  { kind: "set-mtu", device: "omtveth0", mtu: 1450 },
  { kind: "set-master", device: "omtveth0", master: "omtbr0" },
  { kind: "set-up", device: "omtveth0" },
  { kind: "replace-route", destination: "10.240.0.0/16", device: "omtbr0" },
  { kind: "sysctl", key: "net.ipv4.ip_forward", value: "1" },
  { kind: "sysctl", key: "net.ipv4.conf.omtbr0.send_redirects", value: "0" },
  {
    kind: "set-chain",
    table: "filter",
    chain: FORWARD_CHAIN,
    rules: [
      ["-s", "10.240.0.0/16", "-j", "ACCEPT"],
      ["-d", "10.240.0.0/16", "-m", "comment", "--comment", OVERLAY_COMMENT, "-j", "ACCEPT"],
    ],
  },
  { kind: "add-jump", table: "filter", from: "FORWARD", chain: FORWARD_CHAIN },
  {
    kind: "set-chain",
    table: "nat",
    chain: NAT_CHAIN,
    rules: [["-s", "10.240.0.0/16", "-d", "10.240.0.0/16", "-j", "RETURN"]],
  },
  { kind: "add-jump", table: "nat", from: "POSTROUTING", chain: NAT_CHAIN },
];

const TEARDOWN: LinuxChange[] = [
  { kind: "remove-jump", table: "filter", from: "FORWARD", chain: FORWARD_CHAIN },
  { kind: "remove-chain", table: "filter", chain: FORWARD_CHAIN },
  { kind: "remove-jump", table: "nat", from: "POSTROUTING", chain: NAT_CHAIN },
  { kind: "remove-chain", table: "nat", chain: NAT_CHAIN },
];

const QUERY: LinuxQuery = {
  sysctlKeys: [
    "net.ipv4.ip_forward",
    "net.ipv4.conf.omtbr0.send_redirects",
    "net.ipv4.conf.omtmissing0.send_redirects",
  ],
  chains: { filter: [FORWARD_CHAIN, "OMT-FOREIGN", "OMT-ABSENT"], nat: [NAT_CHAIN] },
};

/** readLinux output after JSON, where null stands for undefined. */
interface ReadResult {
  links: Record<string, unknown>;
  routes: { destination: string; device: string | null }[];
  sysctls: Record<string, string | null>;
  chains: { filter: Record<string, unknown>; nat: Record<string, unknown> };
  jumps: { forward: boolean; postrouting: boolean };
  jumpsFirst: { forward: boolean; postrouting: boolean };
}

function inNamespace(argv: string[], input?: string): Promise<RunResult> {
  return run(["ip", "netns", "exec", NAMESPACE, ...argv], input === undefined ? {} : { input });
}

async function applyInNamespace(changes: LinuxChange[]): Promise<void> {
  await inNamespace([process.execPath, CHILD, "apply"], JSON.stringify(changes));
}

async function readInNamespace(): Promise<ReadResult> {
  const { stdout } = await inNamespace([process.execPath, CHILD, "read"], JSON.stringify(QUERY));
  return JSON.parse(stdout) as ReadResult;
}

/** Everything the driver could change, as text, to compare before and after. */
async function visibleState(): Promise<string> {
  const outputs = await Promise.all([
    inNamespace(["ip", "link", "show"]),
    inNamespace(["ip", "-4", "address", "show"]),
    inNamespace(["ip", "-4", "route", "show", "table", "main"]),
    inNamespace(["iptables", "-t", "filter", "-S"]),
    inNamespace(["iptables", "-t", "nat", "-S"]),
  ]);
  return outputs.map((output) => output.stdout).join("\n");
}

function sortedRoutes(routes: ReadResult["routes"]): ReadResult["routes"] {
  return [...routes].sort((a, b) => a.destination.localeCompare(b.destination));
}

test("linux driver in a network namespace", { skip: SKIP }, async (t: TestContext) => {
  await run(["ip", "netns", "add", NAMESPACE]);
  try {
    await inNamespace([
      "ip",
      "link",
      "add",
      "omtveth0",
      "type",
      "veth",
      "peer",
      "name",
      "omtveth1",
    ]);

    await t.test("applyLinux sets up bridge and chains", async () => {
      await applyInNamespace(SETUP);
      const actual = await readInNamespace();

      assert.deepEqual(actual.links.omtbr0, {
        mtu: 1450,
        up: true,
        kind: "bridge",
        master: null,
        addresses: ["10.240.1.1/24"],
      });
      assert.deepEqual(actual.links.omtveth0, {
        mtu: 1450,
        up: true,
        kind: "veth",
        master: "omtbr0",
        addresses: [],
      });
      assert.deepEqual(actual.links.omtveth1, {
        mtu: 1500,
        up: false,
        kind: "veth",
        master: null,
        addresses: [],
      });
      assert.deepEqual(sortedRoutes(actual.routes), [
        { destination: "10.240.0.0/16", device: "omtbr0" },
        { destination: "10.240.1.0/24", device: "omtbr0" },
      ]);
      assert.deepEqual(actual.sysctls, {
        "net.ipv4.ip_forward": "1",
        "net.ipv4.conf.omtbr0.send_redirects": "0",
        "net.ipv4.conf.omtmissing0.send_redirects": null,
      });
      assert.deepEqual(actual.chains.filter, {
        [FORWARD_CHAIN]: [
          ["-s", "10.240.0.0/16", "-j", "ACCEPT"],
          ["-d", "10.240.0.0/16", "-m", "comment", "--comment", OVERLAY_COMMENT, "-j", "ACCEPT"],
        ],
        "OMT-FOREIGN": null,
        "OMT-ABSENT": null,
      });
      assert.deepEqual(actual.chains.nat, {
        [NAT_CHAIN]: [["-s", "10.240.0.0/16", "-d", "10.240.0.0/16", "-j", "RETURN"]],
      });
      assert.deepEqual(actual.jumps, { forward: true, postrouting: true });

      const forward = await inNamespace(["iptables", "-S", "FORWARD"]);
      assert.equal(forward.stdout, `-P FORWARD ACCEPT\n-A FORWARD -j ${FORWARD_CHAIN}\n`);
    });

    await t.test("applyLinux again changes nothing", async () => {
      const before = await visibleState();
      const readBefore = await readInNamespace();

      await applyInNamespace(SETUP);

      assert.equal(await visibleState(), before);
      assert.deepEqual(await readInNamespace(), readBefore);
    });

    await t.test("applyLinux rejects a bad name first", async () => {
      const changes: LinuxChange[] = [
        { kind: "create-bridge", name: "omtearly0" },
        { kind: "set-up", device: "omtbr0 down" },
      ];
      await assert.rejects(applyInNamespace(changes), (error: unknown) => {
        assert.ok(error instanceof CommandError);
        assert.match(error.stderr, /RangeError: set-up: invalid interface name "omtbr0 down"/);
        return true;
      });
      const actual = await readInNamespace();
      assert.equal(actual.links.omtearly0, undefined);
      assert.equal((actual.links.omtbr0 as { up: boolean }).up, true);
    });

    await t.test("move-jump puts the jump above inserted rules", async () => {
      // As dockerd does when it starts: its rule goes on top of POSTROUTING.
      const masquerade = ["-s", "10.240.1.0/24", "!", "-o", "omtbr0", "-j", "MASQUERADE"];
      await inNamespace(["iptables", "-t", "nat", "-I", "POSTROUTING", "1", ...masquerade]);
      const pushedDown = await readInNamespace();
      assert.deepEqual(pushedDown.jumps, { forward: true, postrouting: true });
      assert.deepEqual(pushedDown.jumpsFirst, { forward: true, postrouting: false });

      await applyInNamespace([
        { kind: "move-jump", table: "nat", from: "POSTROUTING", chain: NAT_CHAIN },
      ]);

      const moved = await readInNamespace();
      assert.deepEqual(moved.jumpsFirst, { forward: true, postrouting: true });
      const postrouting = await inNamespace(["iptables", "-t", "nat", "-S", "POSTROUTING"]);
      assert.equal(
        postrouting.stdout,
        `-P POSTROUTING ACCEPT\n-A POSTROUTING -j ${NAT_CHAIN}\n-A POSTROUTING ${masquerade.join(" ")}\n`,
      );
      await inNamespace(["iptables", "-t", "nat", "-D", "POSTROUTING", ...masquerade]);
    });

    await t.test("removal spares foreign rules and chains", async () => {
      await inNamespace(["iptables", "-A", "FORWARD", "-s", "192.0.2.0/24", "-j", "ACCEPT"]);
      await inNamespace(["iptables", "-A", "FORWARD", "-i", "omtbr0", "-j", FORWARD_CHAIN]);
      await inNamespace(["iptables", "-N", "OMT-FOREIGN"]);
      await inNamespace(["iptables", "-A", "OMT-FOREIGN", "-s", "192.0.2.0/24", "-j", "RETURN"]);
      await inNamespace([
        "iptables",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-o",
        "omtveth1",
        "-j",
        "MASQUERADE",
      ]);

      await applyInNamespace(TEARDOWN);
      const actual = await readInNamespace();

      assert.deepEqual(actual.chains.filter, {
        [FORWARD_CHAIN]: null,
        "OMT-FOREIGN": [["-s", "192.0.2.0/24", "-j", "RETURN"]],
        "OMT-ABSENT": null,
      });
      assert.deepEqual(actual.chains.nat, { [NAT_CHAIN]: null });
      assert.deepEqual(actual.jumps, { forward: false, postrouting: false });

      const forward = await inNamespace(["iptables", "-S", "FORWARD"]);
      assert.equal(forward.stdout, "-P FORWARD ACCEPT\n-A FORWARD -s 192.0.2.0/24 -j ACCEPT\n");
      const postrouting = await inNamespace(["iptables", "-t", "nat", "-S", "POSTROUTING"]);
      assert.equal(
        postrouting.stdout,
        "-P POSTROUTING ACCEPT\n-A POSTROUTING -o omtveth1 -j MASQUERADE\n",
      );

      const before = await visibleState();
      await applyInNamespace(TEARDOWN);
      assert.equal(await visibleState(), before);
    });
  } finally {
    await run(["ip", "netns", "delete", NAMESPACE]);
  }
});
