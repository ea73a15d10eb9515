import assert from "node:assert/strict";
import { test } from "node:test";
import { checkClockSkew } from "../../src/host/doctor/clock.js";
import type { CheckOutcome, CheckResult } from "../../src/host/doctor/check.js";
import { checkLinuxBridge, type LinuxBridgeFacts } from "../../src/host/doctor/docker.js";
import {
  checkForwardPolicy,
  checkTunnelFirewall,
  parseChainWithPolicy,
  portListIncludes,
  type TunnelFirewallFacts,
} from "../../src/host/doctor/firewall.js";
import {
  checkIpForward,
  checkRpFilter,
  checkSendRedirects,
  type RpFilterFacts,
} from "../../src/host/doctor/kernel.js";
import {
  checkClusterRange,
  checkUnderlayMtu,
  type ClusterRangeFacts,
} from "../../src/host/doctor/network.js";
import { checkDatapath, checkOvsdb, type DatapathFacts } from "../../src/host/doctor/ovs.js";

/** Runs one table: each row is a case name, the check's result and the expected outcome. */
function table(check: string, rows: [string, () => CheckResult, CheckOutcome, RegExp?][]): void {
  for (const [name, run, expected, message] of rows) {
    test(`${check}: ${name}`, () => {
      const result = run();
      assert.equal(result.result, expected, result.message);
      if (message !== undefined) {
        assert.match(result.message, message);
      }
      if (expected === "fail" || expected === "warn") {
        assert.notEqual(result.fix, "", "a finding names its fix");
      }
    });
  }
}

const reachable = {
  reachable: true as const,
  datapathTypes: ["netdev", "system"],
  internalInterfaces: ["br0", "br-phy"],
};

table("ovsdb", [
  ["reachable", () => checkOvsdb(reachable, "/run/db.sock"), "ok"],
  [
    "socket missing",
    () => checkOvsdb({ reachable: false, error: "ENOENT" }, "/run/db.sock"),
    "fail",
    /\/run\/db\.sock: ENOENT/,
  ],
]);

const datapath = (facts: Partial<DatapathFacts>): DatapathFacts => ({
  ovs: reachable,
  moduleLoaded: false,
  choice: "auto",
  underlayInterface: "br-phy",
  ...facts,
});
table("datapath", [
  [
    "module loaded",
    () => checkDatapath(datapath({ moduleLoaded: true, underlayInterface: "eth0" })),
    "ok",
    /system/,
  ],
  ["netdev with br-phy", () => checkDatapath(datapath({})), "ok", /br-phy/],
  [
    "netdev on a plain NIC",
    () => checkDatapath(datapath({ underlayInterface: "eth0" })),
    "fail",
    /eth0/,
  ],
  [
    "system without module",
    () => checkDatapath(datapath({ choice: "system" })),
    "fail",
    /kernel module/,
  ],
  [
    "no datapath",
    () => checkDatapath(datapath({ ovs: { ...reachable, datapathTypes: ["system"] } })),
    "fail",
  ],
  [
    "netdev, no cluster",
    () => checkDatapath(datapath({ choice: undefined, underlayInterface: undefined })),
    "warn",
  ],
  ["ovs down", () => checkDatapath(datapath({ ovs: { reachable: false, error: "x" } })), "skip"],
]);

table("ip-forward", [
  ["on", () => checkIpForward("1"), "ok"],
  ["off", () => checkIpForward("0"), "fail", /ip_forward is 0/],
  ["unreadable", () => checkIpForward(undefined), "skip"],
]);

const rp = (facts: Partial<RpFilterFacts>): RpFilterFacts => ({
  all: "0",
  bridge: "0",
  bridgeName: "docker0",
  range: "10.240.0.0/16",
  clusterRoute: true,
  defaultRoute: true,
  ...facts,
});
table("rp-filter", [
  ["off", () => checkRpFilter(rp({})), "ok"],
  [
    "strict on all with the route",
    () => checkRpFilter(rp({ all: "1" })),
    "ok",
    /routed through docker0/,
  ],
  [
    "strict on the bridge without the route",
    () => checkRpFilter(rp({ bridge: "1", clusterRoute: false })),
    "fail",
    /not routed/,
  ],
  [
    "strict on all without the route",
    () => checkRpFilter(rp({ all: "1", clusterRoute: false })),
    "fail",
  ],
  ["loose with a default route", () => checkRpFilter(rp({ all: "2", clusterRoute: false })), "ok"],
  [
    "loose without any route",
    () => checkRpFilter(rp({ all: "2", clusterRoute: false, defaultRoute: false })),
    "fail",
  ],
  [
    "strict without a cluster",
    () => checkRpFilter(rp({ all: "1", range: undefined, clusterRoute: false })),
    "warn",
  ],
]);

table("send-redirects", [
  ["off on both", () => checkSendRedirects({ all: "0", bridge: "0", bridgeName: "docker0" }), "ok"],
  [
    "on for all",
    () => checkSendRedirects({ all: "1", bridge: "0", bridgeName: "docker0" }),
    "fail",
    /conf\.all\.send_redirects=1/,
  ],
  [
    "on for the bridge",
    () => checkSendRedirects({ all: "0", bridge: "1", bridgeName: "docker0" }),
    "fail",
    /conf\.docker0\.send_redirects=1/,
  ],
  [
    "no bridge yet",
    () => checkSendRedirects({ all: "0", bridge: undefined, bridgeName: "docker0" }),
    "ok",
  ],
]);

const chain = (text: string, name: string) => parseChainWithPolicy(text, name);
table("forward-policy", [
  ["accept policy", () => checkForwardPolicy(chain("-P FORWARD ACCEPT\n", "FORWARD")), "ok"],
  [
    "drop policy with the jump",
    () =>
      checkForwardPolicy(
        chain(
          "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n-A FORWARD -j OVS-MESH-FORWARD\n",
          "FORWARD",
        ),
      ),
    "ok",
  ],
  [
    "drop policy without the jump",
    () => checkForwardPolicy(chain("-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n", "FORWARD")),
    "fail",
    /does not jump to OVS-MESH-FORWARD/,
  ],
  [
    "catch-all drop before the jump",
    () =>
      checkForwardPolicy(
        chain("-P FORWARD ACCEPT\n-A FORWARD -j DROP\n-A FORWARD -j OVS-MESH-FORWARD\n", "FORWARD"),
      ),
    "fail",
    /before the jump/,
  ],
  ["unreadable", () => checkForwardPolicy(new Error("iptables: not found")), "skip"],
]);

const accept = (name: string) => chain(`-P ${name} ACCEPT\n`, name);
const firewall = (facts: Partial<TunnelFirewallFacts>): TunnelFirewallFacts => ({
  tunnel: "gre",
  datapath: "system",
  input: accept("INPUT"),
  output: accept("OUTPUT"),
  ...facts,
});
table("tunnel-firewall", [
  ["nothing dropped", () => checkTunnelFirewall(firewall({})), "ok"],
  [
    "INPUT drops GRE",
    () =>
      checkTunnelFirewall(
        firewall({ input: chain("-P INPUT ACCEPT\n-A INPUT -p gre -j DROP\n", "INPUT") }),
      ),
    "fail",
    /INPUT drops GRE/,
  ],
  [
    "INPUT drops protocol 47",
    () =>
      checkTunnelFirewall(
        firewall({ input: chain("-P INPUT ACCEPT\n-A INPUT -p 47 -j REJECT\n", "INPUT") }),
      ),
    "fail",
  ],
  [
    "OUTPUT drops VXLAN port",
    () =>
      checkTunnelFirewall(
        firewall({
          tunnel: "vxlan",
          output: chain(
            "-P OUTPUT ACCEPT\n-A OUTPUT -p udp -m udp --dport 4789 -j DROP\n",
            "OUTPUT",
          ),
        }),
      ),
    "fail",
    /OUTPUT drops VXLAN/,
  ],
  [
    "port range covers Geneve",
    () =>
      checkTunnelFirewall(
        firewall({
          tunnel: "geneve",
          input: chain(
            "-P INPUT ACCEPT\n-A INPUT -p udp -m multiport --dports 53,6000:7000 -j DROP\n",
            "INPUT",
          ),
        }),
      ),
    "fail",
  ],
  [
    "other UDP port only",
    () =>
      checkTunnelFirewall(
        firewall({
          tunnel: "vxlan",
          input: chain("-P INPUT ACCEPT\n-A INPUT -p udp --dport 53 -j DROP\n", "INPUT"),
        }),
      ),
    "ok",
  ],
  [
    "accepted before a drop",
    () =>
      checkTunnelFirewall(
        firewall({
          input: chain("-P INPUT ACCEPT\n-A INPUT -p gre -j ACCEPT\n-A INPUT -j DROP\n", "INPUT"),
        }),
      ),
    "ok",
  ],
  [
    "drop policy",
    () =>
      checkTunnelFirewall(
        firewall({ input: chain("-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n", "INPUT") }),
      ),
    "fail",
    /DROP policy/,
  ],
  [
    "drop from one source",
    () =>
      checkTunnelFirewall(
        firewall({
          input: chain("-P INPUT ACCEPT\n-A INPUT -s 192.0.2.9/32 -p gre -j DROP\n", "INPUT"),
        }),
      ),
    "warn",
    /may drop/,
  ],
  [
    "netdev datapath",
    () =>
      checkTunnelFirewall(
        firewall({
          datapath: "netdev",
          input: chain("-P INPUT ACCEPT\n-A INPUT -p gre -j DROP\n", "INPUT"),
        }),
      ),
    "warn",
    /netdev/,
  ],
  ["no cluster", () => checkTunnelFirewall(firewall({ tunnel: undefined })), "skip"],
]);

test("portListIncludes reads ports, ranges and lists", () => {
  assert.equal(portListIncludes("4789", 4789), true);
  assert.equal(portListIncludes("4000:5000", 4789), true);
  assert.equal(portListIncludes("53,6081", 6081), true);
  assert.equal(portListIncludes(":1024", 4789), false);
  assert.equal(portListIncludes("5000:", 6081), true);
});

const bridgeFacts = (facts: Partial<LinuxBridgeFacts>): LinuxBridgeFacts => ({
  bridgeName: "docker0",
  link: { mtu: 1462, up: true, kind: "bridge", master: undefined, addresses: ["10.240.1.1/24"] },
  expectedAddress: "10.240.1.1/24",
  expectedMtu: 1462,
  subnet: "10.240.1.0/24",
  range: "10.240.0.0/16",
  ...facts,
});
table("linux-bridge", [
  ["as claimed", () => checkLinuxBridge(bridgeFacts({})), "ok"],
  [
    "Docker's default subnet",
    () =>
      checkLinuxBridge(
        bridgeFacts({
          link: {
            mtu: 1462,
            up: true,
            kind: "bridge",
            master: undefined,
            addresses: ["172.17.0.1/16"],
          },
        }),
      ),
    "fail",
    /172\.17\.0\.1\/16/,
  ],
  [
    "MTU 1500",
    () =>
      checkLinuxBridge(
        bridgeFacts({
          link: {
            mtu: 1500,
            up: true,
            kind: "bridge",
            master: undefined,
            addresses: ["10.240.1.1/24"],
          },
        }),
      ),
    "fail",
    /MTU 1500/,
  ],
  ["missing", () => checkLinuxBridge(bridgeFacts({ link: undefined })), "fail", /does not exist/],
  [
    "no cluster",
    () => checkLinuxBridge(bridgeFacts({ expectedAddress: undefined, expectedMtu: undefined })),
    "skip",
  ],
]);

const eth0 = { name: "eth0", mtu: 1500, address: "192.0.2.10/24" };
table("underlay-mtu", [
  [
    "1500 with GRE",
    () =>
      checkUnderlayMtu({
        tunnel: "gre",
        underlayIp: "192.0.2.10",
        underlay: eth0,
        configuredMtu: undefined,
      }),
    "ok",
    /1462/,
  ],
  [
    "too small",
    () =>
      checkUnderlayMtu({
        tunnel: "vxlan",
        underlayIp: "192.0.2.10",
        underlay: { ...eth0, mtu: 600 },
        configuredMtu: undefined,
      }),
    "fail",
    /below the minimum/,
  ],
  [
    "smaller than configured",
    () =>
      checkUnderlayMtu({
        tunnel: "gre",
        underlayIp: "192.0.2.10",
        underlay: eth0,
        configuredMtu: 9000,
      }),
    "fail",
    /underlayMtu 9000/,
  ],
  [
    "address missing",
    () =>
      checkUnderlayMtu({
        tunnel: "gre",
        underlayIp: "192.0.2.10",
        underlay: undefined,
        configuredMtu: undefined,
      }),
    "fail",
  ],
]);

const range = (facts: Partial<ClusterRangeFacts>): ClusterRangeFacts => ({
  range: "10.240.0.0/16",
  linuxBridge: "docker0",
  underlayAddress: "192.0.2.10/24",
  routes: [
    { destination: "default", device: "eth0" },
    { destination: "192.0.2.0/24", device: "eth0" },
    { destination: "10.240.0.0/16", device: "docker0" },
    { destination: "10.240.1.0/24", device: "docker0" },
  ],
  ...facts,
});
table("cluster-range", [
  ["separate", () => checkClusterRange(range({})), "ok"],
  [
    "contains the underlay",
    () => checkClusterRange(range({ underlayAddress: "10.240.200.5/24" })),
    "fail",
    /underlay network 10\.240\.200\.0\/24/,
  ],
  [
    "overlaps another route",
    () => checkClusterRange(range({ routes: [{ destination: "10.0.0.0/8", device: "wg0" }] })),
    "fail",
    /10\.0\.0\.0\/8 dev wg0/,
  ],
  ["no cluster", () => checkClusterRange(range({ range: undefined })), "skip"],
]);

table("clock-skew", [
  [
    "in sync",
    () => checkClockSkew({ endpoint: "http://127.0.0.1:2379", offsetMs: 300, uncertaintyMs: 510 }),
    "ok",
  ],
  [
    "5 s behind",
    () => checkClockSkew({ endpoint: "http://127.0.0.1:2379", offsetMs: 5000, uncertaintyMs: 510 }),
    "warn",
    /5\.0 s behind/,
  ],
  [
    "2 min ahead",
    () =>
      checkClockSkew({ endpoint: "http://127.0.0.1:2379", offsetMs: -120_000, uncertaintyMs: 510 }),
    "fail",
    /120\.0 s ahead of/,
  ],
  ["no etcd", () => checkClockSkew(undefined), "skip", /not checked/],
  [
    "etcd unreachable",
    () => checkClockSkew(new Error("ECONNREFUSED")),
    "warn",
    /not checked: ECONNREFUSED/,
  ],
]);
