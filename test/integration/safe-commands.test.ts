import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { stringify } from "yaml";
import { destroyLab } from "../../src/lab/down.js";
import type { LabHost } from "../../src/lab/lab.js";
import { COOKIE } from "../../src/plan/state.js";
import { flowCounters, hostOptions, inHostOk, labHost, labUp, ovsMeshIn } from "./fault-lab.js";

// ovs-mesh recognises its objects by marks: external_ids on OVS rows, a cookie on OpenFlow
// rules and the names of its iptables chains. Objects that someone else made on the same host
// must survive apply, the removal of a peer and reset, even where they sit on ovs-mesh's own
// bridge or in the chains that ovs-mesh jumps from.

const LAB = "t-safe";
const FOREIGN_COOKIE = "0x1234";
const FOREIGN_RULE = `cookie=${FOREIGN_COOKIE},table=0,priority=200,udp,tp_dst=9999,actions=drop`;

let host0: LabHost;
let dir = "";

/** Commands that create objects ovs-mesh did not make, on and next to its own. */
const FOREIGN_OBJECTS: string[][] = [
  ["ovs-vsctl", "add-br", "br-ext", "--", "set", "bridge", "br-ext", "datapath_type=netdev"],
  ["ovs-vsctl", "set", "bridge", "br-ext", "external_ids:owner=operator"],
  ["ovs-vsctl", "add-port", "br-ext", "ext0", "--", "set", "interface", "ext0", "type=internal"],
  [
    "ovs-vsctl",
    "add-port",
    "br0",
    "tap-foreign",
    "--",
    "set",
    "interface",
    "tap-foreign",
    "type=internal",
  ],
  // The same key as ovs-mesh's mark with another value is not the mark.
  ["ovs-vsctl", "set", "port", "tap-foreign", "external_ids:ovs-mesh=someone-else"],
  ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br0", FOREIGN_RULE],
  ["iptables", "-N", "FOREIGN-FWD"],
  ["iptables", "-A", "FOREIGN-FWD", "-s", "192.0.2.0/24", "-j", "DROP"],
  ["iptables", "-A", "FORWARD", "-j", "FOREIGN-FWD"],
  ["iptables", "-A", "FORWARD", "-s", "198.51.100.0/24", "-j", "ACCEPT"],
  // A chain whose name starts like ovs-mesh's chains.
  ["iptables", "-N", "OVS-MESH-OTHER"],
  ["iptables", "-t", "nat", "-N", "FOREIGN-NAT"],
  ["iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "FOREIGN-NAT"],
  ["ip", "link", "add", "br-foreign", "type", "bridge"],
  ["ip", "link", "set", "br-foreign", "up"],
  ["ip", "route", "add", "192.0.2.0/24", "dev", "br-foreign"],
];

/** Reads the objects that {@link FOREIGN_OBJECTS} made, each as the host lists it. */
async function foreignState(host: LabHost): Promise<Record<string, string>> {
  const vsctl = (...args: string[]) => inHostOk(host, ["ovs-vsctl", ...args]);
  const chain = (table: string, name: string) =>
    inHostOk(host, ["iptables", "-t", table, "-S", name]);
  return {
    bridge: await vsctl("get", "bridge", "br-ext", "external_ids"),
    bridgePorts: await vsctl("list-ports", "br-ext"),
    port: await vsctl("get", "port", "tap-foreign", "external_ids"),
    portBridge: await vsctl("port-to-br", "tap-foreign"),
    rule: await inHostOk(host, [
      ...["ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows", "br0"],
      `cookie=${FOREIGN_COOKIE}/-1`,
    ]),
    forwardChain: await chain("filter", "FOREIGN-FWD"),
    forward: (await chain("filter", "FORWARD"))
      .split("\n")
      .filter((line) => !line.includes("OVS-MESH-FORWARD"))
      .join("\n"),
    similarChain: await chain("filter", "OVS-MESH-OTHER"),
    postrouting: (await chain("nat", "POSTROUTING"))
      .split("\n")
      .filter((line) => !line.includes("OVS-MESH-POSTROUTING"))
      .join("\n"),
    link: await inHostOk(host, ["ip", "-o", "link", "show", "br-foreign"]),
    route: await inHostOk(host, ["ip", "route", "show", "192.0.2.0/24"]),
  };
}

/** Returns the rules on br0 that carry ovs-mesh's cookie. */
async function ownRules(host: LabHost): Promise<string[]> {
  return (await flowCounters(host))
    .filter((flow) => BigInt(flow.cookie) === BigInt(COOKIE))
    .map((flow) => `table=${flow.table},priority=${flow.priority},${flow.match} ${flow.actions}`);
}

async function ports(host: LabHost, bridge: string): Promise<string[]> {
  return (await inHostOk(host, ["ovs-vsctl", "list-ports", bridge])).split("\n").filter(Boolean);
}

let foreign: Record<string, string>;

before(async () => {
  const lab = await labUp(LAB, ["--hosts", "2", "--containers", "1", "--mode", "port"]);
  host0 = labHost(lab, "host0");
  dir = await mkdtemp(join(tmpdir(), "omt-safe-"));
  for (const command of FOREIGN_OBJECTS) {
    await inHostOk(host0, command);
  }
  foreign = await foreignState(host0);
  assert.match(foreign.rule ?? "", /cookie=0x1234, priority=200,udp,tp_dst=9999 actions=drop/);
  assert.match(foreign.forward ?? "", /-A FORWARD -j FOREIGN-FWD/);
});

after(async () => {
  await destroyLab(LAB);
  if (dir !== "") {
    await rm(dir, { recursive: true, force: true });
  }
});

test("apply keeps foreign objects", async () => {
  const result = await ovsMeshIn(host0, [
    ...["apply", ...hostOptions(host0)],
    ...["--config", join("/var/lib/ovs-mesh/lab", LAB, "cluster.yaml"), "--host", "host0"],
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /host0: up to date, nothing to change/);
  assert.deepEqual(await foreignState(host0), foreign);
});

test("removing a peer keeps foreign objects", async () => {
  const cluster = join(dir, "without-host1.yaml");
  await writeFile(
    cluster,
    stringify({
      range: "10.240.0.0/16",
      mode: "port",
      datapath: "netdev",
      hosts: [{ name: "host0", underlayIp: "198.18.0.10", subnet: "10.240.1.0/24" }],
    }),
  );
  assert.deepEqual(await ports(host0, "br0"), ["gre-c612000b", "tap-foreign"]);

  const result = await ovsMeshIn(host0, [
    ...["apply", ...hostOptions(host0), "--config", cluster, "--host", "host0"],
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await ports(host0, "br0"), ["tap-foreign"]);
  const rules = await ownRules(host0);
  assert.equal(rules.filter((rule) => rule.includes("10.240.2.0/24")).length, 0, rules.join("\n"));
  assert.deepEqual(await foreignState(host0), foreign);
});

test("reset keeps foreign objects", async () => {
  const result = await ovsMeshIn(host0, ["reset", ...hostOptions(host0)]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /iptables filter chain OVS-MESH-FORWARD/);
  assert.match(
    result.stdout,
    /OpenFlow rules on bridge br0, which stays because of ports that ovs-mesh did not create \(tap-foreign\)/,
  );
  assert.deepEqual(await foreignState(host0), foreign);

  // br0 stays for its foreign port, but without ovs-mesh's rules and tunnel ports.
  assert.deepEqual(await ports(host0, "br0"), ["tap-foreign"]);
  assert.deepEqual(await ownRules(host0), []);
  assert.doesNotMatch(await inHostOk(host0, ["iptables", "-S"]), /OVS-MESH-FORWARD/);
  assert.doesNotMatch(
    await inHostOk(host0, ["iptables", "-t", "nat", "-S"]),
    /OVS-MESH-POSTROUTING/,
  );
  assert.equal(await inHostOk(host0, ["ip", "route", "show", "10.240.0.0/16"]), "");
});

test("reset twice removes nothing more", async () => {
  const result = await ovsMeshIn(host0, ["reset", ...hostOptions(host0)]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "nothing to remove\n");
  assert.deepEqual(await foreignState(host0), foreign);
});
