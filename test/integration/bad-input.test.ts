import assert from "node:assert/strict";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { run } from "../../src/host/exec.js";
import { destroyLab } from "../../src/lab/down.js";
import { startEtcd, type EtcdCluster } from "../../src/lab/etcd.js";
import type { LabHost } from "../../src/lab/lab.js";
import { LAB_ROOT, hostRunDirectory } from "../../src/lab/names.js";
import {
  BINARY,
  attachToUnderlay,
  deleteTestNamespace,
  hostOptions,
  hostSnapshot,
  labHost,
  labUp,
  ovsMeshIn,
  startBackground,
  stopBackground,
} from "./fault-lab.js";

// Every kind of invalid input, against a two-host lab: cluster files, command lines and values
// in etcd. Each must end with a non-zero exit code and a message that names the value, and the
// lab host's OVS database, OpenFlow rules, links, routes and iptables must stay as they were.
// Commands run inside host0's namespace with host0's OVS paths, so that nothing reaches the
// machine's own network or a system OVS.

const LAB = "t-input";
/** A lab name that no test builds: commands that wrongly accept their input would build it. */
const UNUSED_LAB = "t-input-never";
const ETCD_NAMESPACE = "omt-input-etcd";
const ETCD_ADDRESS = "198.18.0.201";
const ETCD = `http://${ETCD_ADDRESS}:2379`;

const HOST0_DIR = hostRunDirectory(LAB_ROOT, LAB, "host0");
/** host0's OVS and state options, known before the lab exists. */
const HOST0 = [
  "--ovsdb",
  join(HOST0_DIR, "db.sock"),
  "--ovs-rundir",
  HOST0_DIR,
  "--state-dir",
  join(HOST0_DIR, "ovs-mesh"),
];

/** Returns the lab's own cluster file, as `lab up` writes it. */
function baseCluster(): Record<string, unknown> {
  return {
    range: "10.240.0.0/16",
    subnetLength: 24,
    tunnel: "gre",
    mode: "flow",
    datapath: "netdev",
    hosts: [
      { name: "host0", underlayIp: "198.18.0.10", subnet: "10.240.1.0/24" },
      { name: "host1", underlayIp: "198.18.0.11", subnet: "10.240.2.0/24" },
    ],
  };
}

function withHosts(
  change: (hosts: Record<string, unknown>[]) => void,
): (cluster: Record<string, unknown>) => void {
  return (cluster) => change(cluster.hosts as Record<string, unknown>[]);
}

function firstHost(change: (host: Record<string, unknown>) => void) {
  return withHosts((hosts) => change(hosts[0] ?? {}));
}

/** An invalid cluster file: raw text, or a change to the lab's cluster. */
interface ConfigCase {
  label: string;
  text?: string;
  change?: (cluster: Record<string, unknown>) => void;
  /** Text that the error message must contain: the value and where it is. */
  message: string;
}

const CONFIG_CASES: ConfigCase[] = [
  { label: "broken YAML", text: "range: [10.240.0.0/16\n", message: "invalid YAML" },
  { label: "duplicate keys", text: "range: a\nrange: b\nhosts: []\n", message: "invalid YAML" },
  { label: "an empty file", text: "", message: "expected a mapping, found null" },
  { label: "a list", text: "- range\n", message: "(top level): expected a mapping" },
  {
    label: "an alias bomb",
    text: "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    message: "Excessive alias count",
  },
  { label: "an alias without anchor", text: "range: *nowhere\n", message: "nowhere" },
  {
    label: "an unknown key",
    change: (c) => (c.colour = "red"),
    message: 'unknown key "colour"',
  },
  {
    label: "a range with host bits",
    change: (c) => (c.range = "10.240.0.1/16"),
    message: 'range: invalid CIDR "10.240.0.1/16"',
  },
  {
    label: "a range of /33",
    change: (c) => (c.range = "10.240.0.0/33"),
    message: 'invalid CIDR "10.240.0.0/33"',
  },
  {
    label: "a numeric range",
    change: (c) => (c.range = 10),
    message: "range: expected a non-empty string, found 10",
  },
  {
    label: "a subnet length of 31",
    change: (c) => (c.subnetLength = 31),
    message: "subnetLength: expected an integer from 1 to 30, found 31",
  },
  {
    label: "a subnet length as text",
    change: (c) => (c.subnetLength = "24"),
    message: 'found "24"',
  },
  {
    label: "an infinite subnet length",
    text: "range: 10.240.0.0/16\nsubnetLength: .inf\nhosts: []\n",
    message: "found Infinity",
  },
  {
    label: "subnets as long as the range",
    change: (c) => (c.subnetLength = 16),
    message: "subnet length /16 must be longer than the range's /16",
  },
  {
    label: "an unknown tunnel",
    change: (c) => (c.tunnel = "ipip"),
    message: 'tunnel: expected one of gre, vxlan, geneve, found "ipip"',
  },
  {
    label: "an unknown mode",
    change: (c) => (c.mode = "mesh"),
    message: 'mode: expected one of flow, port, found "mesh"',
  },
  {
    label: "an unknown datapath",
    change: (c) => (c.datapath = "dpdk"),
    message: 'datapath: expected one of auto, system, netdev, found "dpdk"',
  },
  {
    label: "a datapath that OVS lacks",
    change: (c) => (c.datapath = "system"),
    message: "datapath system is not available",
  },
  {
    label: "an OVS bridge name with a semicolon",
    change: (c) => (c.bridges = { ovs: "br0;reboot" }),
    message: 'bridges.ovs: invalid interface name "br0;reboot"',
  },
  {
    label: "a Linux bridge name with a space",
    change: (c) => (c.bridges = { linux: "docker 0" }),
    message: 'bridges.linux: invalid interface name "docker 0"',
  },
  {
    label: "a bridge name of 16 characters",
    change: (c) => (c.bridges = { ovs: "b".repeat(16) }),
    message: `invalid interface name "${"b".repeat(16)}"`,
  },
  {
    label: "one name for both bridges",
    change: (c) => (c.bridges = { ovs: "br0", linux: "br0" }),
    message: 'both named "br0"',
  },
  {
    label: "an unknown bridges key",
    change: (c) => (c.bridges = { tap: "x" }),
    message: 'bridges.tap: unknown key "tap"',
  },
  {
    label: "an underlay MTU of 100",
    change: (c) => (c.underlayMtu = 100),
    message: "underlayMtu: expected an integer from 576 to 65535, found 100",
  },
  {
    label: "an underlay MTU too small for GRE",
    change: (c) => (c.underlayMtu = 600),
    message: "underlay MTU 600 leaves an inner MTU of 562",
  },
  {
    label: "no hosts",
    change: (c) => delete c.hosts,
    message: "hosts: expected a list of hosts, found nothing",
  },
  {
    label: "a host that is not a mapping",
    change: withHosts((hosts) => hosts.push("host2" as unknown as Record<string, unknown>)),
    message: 'hosts[2]: expected a mapping, found "host2"',
  },
  {
    label: "an unknown host key",
    change: firstHost((host) => (host.role = "master")),
    message: 'hosts[0].role: unknown key "role"',
  },
  {
    label: "an upper-case host name",
    change: firstHost((host) => (host.name = "Host0")),
    message: 'hosts[0].name: invalid host name "Host0"',
  },
  {
    label: "a host name with a path",
    change: firstHost((host) => (host.name = "../host0")),
    message: 'invalid host name "../host0"',
  },
  {
    label: "an underlay IP of 300",
    change: firstHost((host) => (host.underlayIp = "198.18.0.300")),
    message: 'hosts[0].underlayIp: invalid IPv4 address "198.18.0.300"',
  },
  {
    label: "an underlay IP inside the range",
    change: firstHost((host) => (host.underlayIp = "10.240.9.9")),
    message: "underlay IP 10.240.9.9 is inside the cluster range",
  },
  {
    label: "a subnet outside the range",
    change: firstHost((host) => (host.subnet = "10.241.1.0/24")),
    message: "subnet 10.241.1.0/24 is outside the cluster range 10.240.0.0/16",
  },
  {
    label: "a subnet of the wrong length",
    change: firstHost((host) => (host.subnet = "10.240.1.0/25")),
    message: "subnet 10.240.1.0/25 has length /25",
  },
  {
    label: "two hosts with one name",
    change: withHosts((hosts) => {
      const second = hosts[1];
      if (second !== undefined) {
        second.name = "host0";
      }
    }),
    message: "hosts[1].name: name host0 is also used by hosts[0]",
  },
  {
    label: "two hosts with one underlay IP",
    change: withHosts((hosts) => {
      const second = hosts[1];
      if (second !== undefined) {
        second.underlayIp = "198.18.0.10";
      }
    }),
    message: "underlay IP 198.18.0.10 is also used by hosts[0]",
  },
  {
    label: "two hosts with one subnet",
    change: withHosts((hosts) => {
      const second = hosts[1];
      if (second !== undefined) {
        second.subnet = "10.240.1.0/24";
      }
    }),
    message: "subnet 10.240.1.0/24 is also used by hosts[0]",
  },
];

/** An invalid command line, the exit code it must end with and text of its message. */
interface CommandCase {
  label: string;
  args: string[];
  code: number;
  message: string;
}

/** Paths filled in before the tests run. */
const files = { dir: "", cluster: "", daemonJson: "", subnetFile: "" };

function commandCases(): CommandCase[] {
  const cluster = files.cluster;
  const docker = ["--daemon-json", files.daemonJson, "--subnet-file", files.subnetFile];
  const etcd = ["--etcd", ETCD, "--cluster", "good"];
  const agent = ["--config", cluster, "--metrics-address", "off", "--probe-seconds", "0"];
  const self = ["--host", "host0", "--underlay-ip", "198.18.0.10"];
  return [
    { label: "no command", args: [], code: 2, message: "Usage: ovs-mesh COMMAND" },
    { label: "an unknown command", args: ["frob"], code: 2, message: 'unknown command "frob"' },
    {
      label: "apply without --config",
      args: ["apply", ...HOST0, "--host", "host0"],
      code: 2,
      message: "missing --config",
    },
    {
      label: "apply without --host",
      args: ["apply", ...HOST0, "--config", cluster],
      code: 2,
      message: "missing --host",
    },
    {
      label: "apply with an unknown option",
      args: ["apply", ...HOST0, "--config", cluster, "--host", "host0", "--force"],
      code: 2,
      message: "unknown option --force",
    },
    {
      label: "apply with an extra argument",
      args: ["apply", ...HOST0, "--config", cluster, "--host", "host0", "now"],
      code: 2,
      message: 'unexpected argument "now"',
    },
    {
      label: "apply with a missing file",
      args: ["apply", ...HOST0, "--config", "/nonexistent/c.yaml", "--host", "host0"],
      code: 2,
      message: "/nonexistent/c.yaml",
    },
    {
      label: "apply with a directory",
      args: ["apply", ...HOST0, "--config", files.dir, "--host", "host0"],
      code: 2,
      message: "EISDIR",
    },
    {
      label: "apply for a non-member",
      args: ["apply", ...HOST0, "--config", cluster, "--host", "host9"],
      code: 2,
      message: 'host "host9" is not a member',
    },
    {
      label: "apply with a hostile host name",
      args: ["apply", ...HOST0, "--config", cluster, "--host", "$(reboot)"],
      code: 2,
      message: 'host "$(reboot)" is not a member',
    },
    {
      label: "apply with a missing ovsdb socket",
      args: [
        "apply",
        "--ovsdb",
        "/nonexistent/db.sock",
        "--ovs-rundir",
        HOST0_DIR,
        "--state-dir",
        join(HOST0_DIR, "ovs-mesh"),
        "--config",
        cluster,
        "--host",
        "host0",
      ],
      code: 1,
      message: "/nonexistent/db.sock",
    },
    {
      label: "plan with a value missing",
      args: ["plan", ...HOST0, "--config", cluster, "--host"],
      code: 2,
      message: "--host needs a value",
    },
    {
      label: "reset with an extra argument",
      args: ["reset", ...HOST0, "everything"],
      code: 2,
      message: 'unexpected argument "everything"',
    },
    {
      label: "reset with an unknown option",
      args: ["reset", ...HOST0, "--all"],
      code: 2,
      message: "unknown option --all",
    },
    {
      label: "agent with a missing ovs-rundir",
      args: [
        ...["agent", "--ovsdb", join(HOST0_DIR, "db.sock"), "--ovs-rundir", "/nonexistent/run"],
        ...["--state-dir", join(files.dir, "agent-state"), ...agent, ...self],
      ],
      code: 2,
      message: 'invalid --ovs-rundir "/nonexistent/run": ENOENT',
    },
    {
      label: "agent without a store",
      args: ["agent", ...HOST0, ...self, "--metrics-address", "off"],
      code: 2,
      message: "missing --config FILE or --etcd URL",
    },
    {
      label: "agent with two stores",
      args: ["agent", ...HOST0, ...agent, ...self, "--etcd", ETCD, "--cluster", "good"],
      code: 2,
      message: "give either --config or --etcd",
    },
    {
      label: "agent without --host",
      args: ["agent", ...HOST0, ...agent, "--underlay-ip", "198.18.0.10"],
      code: 2,
      message: "missing --host",
    },
    {
      label: "agent with an upper-case host",
      args: ["agent", ...HOST0, ...agent, "--host", "HOST0", "--underlay-ip", "198.18.0.10"],
      code: 2,
      message: 'invalid host name "HOST0"',
    },
    {
      label: "agent with an underlay IP of 300",
      args: ["agent", ...HOST0, ...agent, "--host", "host0", "--underlay-ip", "198.18.0.300"],
      code: 2,
      message: 'invalid --underlay-ip "198.18.0.300"',
    },
    {
      label: "agent with a subnet of /33",
      args: ["agent", ...HOST0, ...agent, ...self, "--subnet", "10.240.1.0/33"],
      code: 2,
      message: 'invalid --subnet "10.240.1.0/33"',
    },
    {
      label: "agent with a resync of 0",
      args: ["agent", ...HOST0, ...agent, ...self, "--resync-seconds", "0"],
      code: 2,
      message: 'invalid --resync-seconds "0"',
    },
    {
      label: "agent with a negative heartbeat",
      args: ["agent", ...HOST0, ...agent, ...self, "--heartbeat-seconds", "-5"],
      code: 2,
      message: "--heartbeat-seconds",
    },
    {
      label: "agent with a bad metrics address",
      args: ["agent", ...HOST0, "--config", cluster, ...self, "--metrics-address", "localhost"],
      code: 2,
      message: 'invalid --metrics-address "localhost"',
    },
    {
      label: "agent with a metrics port of 70000",
      args: [
        "agent",
        ...HOST0,
        "--config",
        cluster,
        ...self,
        "--metrics-address",
        "127.0.0.1:70000",
      ],
      code: 2,
      message: 'invalid --metrics-address "127.0.0.1:70000"',
    },
    {
      label: "agent with an etcd URL of another scheme",
      args: [
        "agent",
        ...HOST0,
        ...self,
        "--metrics-address",
        "off",
        "--etcd",
        "ftp://198.18.0.201:2379",
        "--cluster",
        "good",
      ],
      code: 2,
      message: 'invalid etcd endpoint "ftp://198.18.0.201:2379"',
    },
    {
      label: "agent with text for an etcd URL",
      args: [
        "agent",
        ...HOST0,
        ...self,
        "--metrics-address",
        "off",
        "--etcd",
        "not a url",
        "--cluster",
        "good",
      ],
      code: 2,
      message: 'invalid etcd endpoint "not a url"',
    },
    {
      label: "agent with a cluster name with a slash",
      args: [
        "agent",
        ...HOST0,
        ...self,
        "--metrics-address",
        "off",
        "--etcd",
        ETCD,
        "--cluster",
        "a/b",
      ],
      code: 2,
      message: 'invalid cluster name "a/b"',
    },
    {
      label: "agent with a certificate and no key",
      args: [
        "agent",
        ...HOST0,
        ...self,
        "--metrics-address",
        "off",
        ...etcd,
        "--etcd-cert",
        "/nonexistent.pem",
      ],
      code: 2,
      message: "--etcd-cert and --etcd-key go together",
    },
    { label: "init without --range", args: ["init", ...etcd], code: 2, message: "missing --range" },
    {
      label: "init with a range of /33",
      args: ["init", ...etcd, "--range", "10.240.0.0/33"],
      code: 2,
      message: 'invalid CIDR "10.240.0.0/33"',
    },
    {
      label: "init with a subnet length of 40",
      args: ["init", ...etcd, "--range", "10.240.0.0/16", "--subnet-length", "40"],
      code: 2,
      message: 'invalid --subnet-length "40"',
    },
    {
      label: "init with an unknown tunnel",
      args: ["init", ...etcd, "--range", "10.240.0.0/16", "--tunnel", "ipip"],
      code: 2,
      message: 'invalid --tunnel "ipip"',
    },
    {
      label: "init with an unknown mode",
      args: ["init", ...etcd, "--range", "10.240.0.0/16", "--mode", "mesh"],
      code: 2,
      message: 'invalid --mode "mesh"',
    },
    {
      label: "init with an unknown datapath",
      args: ["init", ...etcd, "--range", "10.240.0.0/16", "--datapath", "dpdk"],
      code: 2,
      message: 'invalid --datapath "dpdk"',
    },
    {
      label: "init with an underlay MTU of 100",
      args: ["init", ...etcd, "--range", "10.240.0.0/16", "--underlay-mtu", "100"],
      code: 2,
      message: 'invalid --underlay-mtu "100"',
    },
    {
      label: "init over other settings",
      args: ["init", ...etcd, "--range", "10.250.0.0/16", "--datapath", "netdev"],
      code: 2,
      message: "10.250.0.0/16",
    },
    {
      label: "hosts without an action",
      args: ["hosts", ...etcd],
      code: 2,
      message: "missing action: list or remove",
    },
    {
      label: "hosts with an unknown action",
      args: ["hosts", "purge", ...etcd],
      code: 2,
      message: 'unknown action "purge"',
    },
    {
      label: "hosts remove without a name",
      args: ["hosts", "remove", ...etcd],
      code: 2,
      message: "wrong arguments for 'hosts remove'",
    },
    {
      label: "hosts remove with a hostile name",
      args: ["hosts", "remove", "host0;reboot", ...etcd],
      code: 2,
      message: 'host "host0;reboot" not found',
    },
    {
      label: "hosts list with an extra argument",
      args: ["hosts", "list", "all", ...etcd],
      code: 2,
      message: "wrong arguments for 'hosts list'",
    },
    {
      label: "leave without --host",
      args: ["leave", ...HOST0, ...etcd],
      code: 2,
      message: "missing --host",
    },
    {
      label: "leave as an unknown host",
      args: ["leave", ...HOST0, ...etcd, "--host", "x y"],
      code: 1,
      message: 'host "x y" not found',
    },
    {
      label: "docker-config without --range",
      args: ["docker-config", ...docker, "--subnet", "10.240.1.0/24", "--mtu", "1462"],
      code: 2,
      message: "missing --range",
    },
    {
      label: "docker-config with a subnet of /33",
      args: [
        "docker-config",
        ...docker,
        "--subnet",
        "10.240.1.0/33",
        "--mtu",
        "1462",
        "--range",
        "10.240.0.0/16",
      ],
      code: 2,
      message: 'invalid subnet "10.240.1.0/33"',
    },
    {
      label: "docker-config with an MTU of 99",
      args: [
        "docker-config",
        ...docker,
        "--subnet",
        "10.240.1.0/24",
        "--mtu",
        "99",
        "--range",
        "10.240.0.0/16",
      ],
      code: 2,
      message: 'invalid --mtu "99"',
    },
    {
      label: "docker-config outside the range",
      args: [
        "docker-config",
        ...docker,
        "--subnet",
        "10.241.1.0/24",
        "--mtu",
        "1462",
        "--range",
        "10.240.0.0/16",
      ],
      code: 2,
      message: "subnet 10.241.1.0/24 is outside the cluster range",
    },
    {
      label: "docker-config under /proc",
      args: [
        "docker-config",
        "--daemon-json",
        "/proc/omt-input/daemon.json",
        "--subnet-file",
        files.subnetFile,
        "--subnet",
        "10.240.1.0/24",
        "--mtu",
        "1462",
        "--range",
        "10.240.0.0/16",
      ],
      code: 1,
      message: "cannot create directory /proc/omt-input (ENOENT)",
    },
    {
      label: "status with an unknown option",
      args: ["status", ...HOST0, "--all"],
      code: 2,
      message: "unknown option --all",
    },
    {
      label: "doctor with an unknown option",
      args: ["doctor", ...HOST0, "--fix"],
      code: 2,
      message: "unknown option --fix",
    },
    {
      label: "graph with an unknown format",
      args: ["graph", "--config", cluster, "--format", "png"],
      code: 2,
      message: 'invalid --format "png"',
    },
    {
      label: "lab with an unknown subcommand",
      args: ["lab", "frob"],
      code: 2,
      message: 'unknown subcommand "frob"',
    },
    {
      label: "lab up with no hosts",
      args: ["lab", "up", "--name", UNUSED_LAB, "--hosts", "0"],
      code: 2,
      message: 'invalid --hosts "0"',
    },
    {
      label: "lab up with text for hosts",
      args: ["lab", "up", "--name", UNUSED_LAB, "--hosts", "three"],
      code: 2,
      message: 'invalid --hosts "three"',
    },
    {
      label: "lab up with too many containers",
      args: ["lab", "up", "--name", UNUSED_LAB, "--containers", "254"],
      code: 2,
      message: 'invalid --containers "254"',
    },
    {
      label: "lab up with an unknown tunnel",
      args: ["lab", "up", "--name", UNUSED_LAB, "--tunnel", "ipip"],
      code: 2,
      message: 'invalid --tunnel "ipip"',
    },
    {
      label: "lab up with a path as name",
      args: ["lab", "up", "--name", "../x"],
      code: 2,
      message: 'invalid lab name "../x"',
    },
    {
      label: "lab down with a space in the name",
      args: ["lab", "down", "--name", "a b"],
      code: 2,
      message: 'invalid lab name "a b"',
    },
    {
      label: "lab exec with a hostile target",
      args: ["lab", "exec", "--name", LAB, "host0;reboot", "--", "true"],
      code: 2,
      message: 'invalid host name "host0;reboot"',
    },
    {
      label: "lab exec without --",
      args: ["lab", "exec", "--name", LAB, "host0", "true"],
      code: 2,
      message: "missing -- before the command",
    },
    {
      label: "lab exec on an unknown host",
      args: ["lab", "exec", "--name", LAB, "host7", "--", "true"],
      code: 2,
      message: 'host "host7" not found',
    },
    {
      label: "lab check with no parallelism",
      args: ["lab", "check", "--name", LAB, "--parallel", "0"],
      code: 2,
      message: 'invalid --parallel "0"',
    },
    {
      label: "lab status of an unknown lab",
      args: ["lab", "status", "--name", UNUSED_LAB],
      code: 1,
      message: `no lab named "${UNUSED_LAB}"`,
    },
  ];
}

/** Runs the etcd client inside the etcd namespace, where etcd listens. */
async function etcdctl(...args: string[]): Promise<void> {
  const result = await run([
    "ip",
    "netns",
    "exec",
    ETCD_NAMESPACE,
    "etcdctl",
    `--endpoints=${ETCD}`,
    ...args,
  ]);
  assert.equal(result.code, 0, result.stderr);
}

/** Returns a host record as the etcd store writes it. */
function hostRecord(name: string, underlayIp: string, subnet: string): string {
  return JSON.stringify({ name, underlayIp, subnet, joinedAt: 1_700_000_000_000, version: 1 });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return false;
    }
    throw error;
  }
}

let host0: LabHost;
let host1: LabHost;
let etcd: EtcdCluster | undefined;

before(async () => {
  await deleteTestNamespace(ETCD_NAMESPACE);
  await destroyLab(UNUSED_LAB);
  const lab = await labUp(LAB, ["--hosts", "2", "--containers", "1"]);
  host0 = labHost(lab, "host0");
  host1 = labHost(lab, "host1");
  assert.equal(host0.runDirectory, HOST0_DIR);

  files.dir = await mkdtemp(join(tmpdir(), "omt-input-"));
  files.cluster = join(files.dir, "cluster.yaml");
  files.daemonJson = join(files.dir, "docker", "daemon.json");
  files.subnetFile = join(files.dir, "subnet.env");
  await writeFile(files.cluster, stringify(baseCluster()));

  await attachToUnderlay(lab, ETCD_NAMESPACE, "etcd", `${ETCD_ADDRESS}/24`);
  etcd = await startEtcd({
    dir: files.dir,
    netns: ETCD_NAMESPACE,
    addresses: [ETCD_ADDRESS],
    ports: [{ client: 2379, peer: 2380 }],
  });
});

after(async () => {
  await etcd?.stop();
  await deleteTestNamespace(ETCD_NAMESPACE);
  await destroyLab(UNUSED_LAB);
  await destroyLab(LAB);
  if (files.dir !== "") {
    await rm(files.dir, { recursive: true, force: true });
  }
});

describe("invalid cluster files", () => {
  let snapshot: Record<string, string>;
  before(async () => {
    snapshot = await hostSnapshot(host0);
  });

  for (const configCase of CONFIG_CASES) {
    test(`apply rejects ${configCase.label}`, async () => {
      let text = configCase.text;
      if (text === undefined) {
        const cluster = baseCluster();
        configCase.change?.(cluster);
        text = stringify(cluster);
      }
      const path = join(files.dir, "invalid.yaml");
      await writeFile(path, text);

      const result = await ovsMeshIn(host0, [
        "apply",
        ...hostOptions(host0),
        "--config",
        path,
        "--host",
        "host0",
      ]);
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.ok(
        result.stderr.includes(configCase.message),
        `expected ${JSON.stringify(configCase.message)} in: ${result.stderr}`,
      );
      assert.doesNotMatch(result.stderr, /\n\s+at /, "printed a stack trace");
    });
  }

  test("host0 unchanged by invalid files", async () => {
    assert.deepEqual(await hostSnapshot(host0), snapshot);
  });
});

describe("invalid command lines", () => {
  let snapshot: Record<string, string>;
  before(async () => {
    snapshot = await hostSnapshot(host0);
    await ovsMeshIn(host0, [
      "init",
      "--etcd",
      ETCD,
      "--cluster",
      "good",
      "--range",
      "10.240.0.0/16",
      "--datapath",
      "netdev",
    ]);
  });

  // The cases are built inside the test, because their paths exist only once setup has run.
  test("every command rejects invalid arguments", async (t) => {
    for (const commandCase of commandCases()) {
      await t.test(commandCase.label, async () => {
        const result = await ovsMeshIn(host0, commandCase.args);
        assert.equal(result.code, commandCase.code, result.stdout + result.stderr);
        const output = result.stderr + result.stdout;
        assert.ok(
          output.includes(commandCase.message),
          `expected ${JSON.stringify(commandCase.message)} in: ${output}`,
        );
        assert.doesNotMatch(result.stderr, /\n\s+at /, "printed a stack trace");
      });
    }
  });

  test("no files written by invalid commands", async () => {
    assert.equal(await exists(files.daemonJson), false);
    assert.equal(await exists(files.subnetFile), false);
    assert.equal(await exists("/proc/omt-input"), false);
    assert.equal(await exists(join(LAB_ROOT, UNUSED_LAB)), false);
  });

  test("host0 unchanged by invalid commands", async () => {
    assert.deepEqual(await hostSnapshot(host0), snapshot);
  });
});

describe("invalid paths on a host without ovs-mesh", () => {
  let snapshot: Record<string, string>;
  before(async () => {
    const reset = await ovsMeshIn(host1, ["reset", ...hostOptions(host1)]);
    assert.equal(reset.code, 0, reset.stderr);
    snapshot = await hostSnapshot(host1);
  });

  after(async () => {
    const apply = await ovsMeshIn(host1, [
      "apply",
      ...hostOptions(host1),
      "--config",
      files.cluster,
      "--host",
      "host1",
    ]);
    assert.equal(apply.code, 0, apply.stderr);
  });

  test("apply rejects a missing ovs-rundir", async () => {
    const options = hostOptions(host1).map((value) =>
      value === host1.runDirectory ? "/nonexistent/run" : value,
    );
    const result = await ovsMeshIn(host1, [
      "apply",
      ...options,
      "--config",
      files.cluster,
      "--host",
      "host1",
    ]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /invalid --ovs-rundir "\/nonexistent\/run": ENOENT/);
    assert.deepEqual(await hostSnapshot(host1), snapshot);
  });

  test("apply rejects a state-dir under /proc", async () => {
    const options = [
      "--ovsdb",
      host1.dbSocket,
      "--ovs-rundir",
      host1.runDirectory,
      "--state-dir",
      "/proc/omt-input/state",
    ];
    const result = await ovsMeshIn(host1, [
      "apply",
      ...options,
      "--config",
      files.cluster,
      "--host",
      "host1",
    ]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /cannot create directory \/proc\/omt-input\/state \(ENOENT\)/);
    assert.deepEqual(await hostSnapshot(host1), snapshot);
  });
});

describe("invalid state files", () => {
  let snapshot: Record<string, string>;
  before(async () => {
    snapshot = await hostSnapshot(host0);
  });

  const records: [string, string, string][] = [
    ["invalid JSON", "{not json", "invalid JSON"],
    ["a wrong shape", JSON.stringify({ ovsBridge: 5 }), "a field is missing or of the wrong type"],
  ];
  for (const [label, text, reason] of records) {
    test(`reset rejects a host record with ${label}`, async () => {
      const stateDir = await mkdtemp(join(files.dir, "state-"));
      await writeFile(join(stateDir, "host.json"), text);
      const paths = ["--ovsdb", host0.dbSocket, "--ovs-rundir", host0.runDirectory];
      const result = await ovsMeshIn(host0, ["reset", ...paths, "--state-dir", stateDir]);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.ok(
        result.stderr.includes(
          `${stateDir}/host.json is not a valid ovs-mesh host record (${reason}`,
        ),
        result.stderr,
      );
      assert.doesNotMatch(result.stderr, /\n\s+at /, "printed a stack trace");
    });
  }

  test("agent rejects a cached view with invalid JSON", async () => {
    const stateDir = await mkdtemp(join(files.dir, "state-"));
    await writeFile(join(stateDir, "cluster.json"), "{not json");
    const result = await ovsMeshIn(host0, [
      ...["agent", "--ovsdb", host0.dbSocket, "--ovs-rundir", host0.runDirectory],
      ...["--state-dir", stateDir, "--config", files.cluster, "--host", "host0"],
      ...["--underlay-ip", "198.18.0.10", "--metrics-address", "off", "--probe-seconds", "0"],
    ]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.ok(
      result.stderr.includes(`invalid configuration in ${stateDir}/cluster.json`),
      result.stderr,
    );
    assert.doesNotMatch(result.stderr, /\n\s+at /, "printed a stack trace");
  });

  test("host0 unchanged by invalid state files", async () => {
    assert.deepEqual(await hostSnapshot(host0), snapshot);
  });
});

describe("invalid values in etcd", () => {
  let snapshot: Record<string, string>;
  before(async () => {
    snapshot = await hostSnapshot(host0);
    await etcdctl("put", "/ovs-mesh/notjson/config", "not json{");
    await etcdctl(
      "put",
      "/ovs-mesh/badrange/config",
      JSON.stringify({ range: "10.240.0.0/33", tunnel: "gre", datapath: "netdev" }),
    );
    // The cluster "good" (created by init above) contains the lab's two hosts and garbage.
    await etcdctl(
      "put",
      "/ovs-mesh/good/hosts/host0",
      hostRecord("host0", "198.18.0.10", "10.240.1.0/24"),
    );
    await etcdctl("put", "/ovs-mesh/good/subnets/10.240.1.0_24", "host0");
    await etcdctl(
      "put",
      "/ovs-mesh/good/hosts/host1",
      hostRecord("host1", "198.18.0.11", "10.240.2.0/24"),
    );
    await etcdctl("put", "/ovs-mesh/good/subnets/10.240.2.0_24", "host1");
    // host7 owns its subnet, so that its record fails only on the underlay IP of host0.
    await etcdctl("put", "/ovs-mesh/good/subnets/10.240.10.0_24", "host7");
    for (const [key, value] of GARBAGE) {
      await etcdctl("put", `/ovs-mesh/good/${key}`, value);
    }
  });

  for (const cluster of ["notjson", "badrange"]) {
    // The agent's log is JSON, which escapes the quotes around the value.
    const message = cluster === "notjson" ? "invalid JSON" : "range: invalid CIDR";
    for (const command of [
      ["hosts", "list"],
      ["graph", "--format", "dot", "--state-dir", "/nonexistent"],
    ]) {
      test(`${command[0]} rejects ${cluster} settings`, async () => {
        const result = await ovsMeshIn(host0, [...command, "--etcd", ETCD, "--cluster", cluster]);
        assert.equal(result.code, 2, result.stdout + result.stderr);
        assert.match(result.stderr, new RegExp(`etcd key /ovs-mesh/${cluster}/config`));
        assert.ok(result.stderr.includes(message), result.stderr);
      });
    }

    test(`agent retries on ${cluster} settings`, async () => {
      const stateDir = await mkdtemp(join(files.dir, "agent-"));
      const agent = startBackground([
        ...["ip", "netns", "exec", host0.namespace, process.execPath, BINARY, "agent"],
        ...["--ovsdb", host0.dbSocket, "--ovs-rundir", host0.runDirectory, "--state-dir", stateDir],
        ...[
          "--etcd",
          ETCD,
          "--cluster",
          cluster,
          "--host",
          "host0",
          "--underlay-ip",
          "198.18.0.10",
        ],
        ...["--metrics-address", "off", "--probe-seconds", "0"],
      ]);
      try {
        await waitForOutput(agent.output, `/ovs-mesh/${cluster}/config`, 10_000);
      } finally {
        assert.equal(await stopBackground(agent), 0, agent.output());
      }
      assert.ok(agent.output().includes(message), agent.output());
      assert.ok(agent.output().includes(cluster === "notjson" ? "not json{" : "10.240.0.0/33"));
      assert.equal(await exists(join(stateDir, "host.json")), false);
    });
  }

  test("hosts list reports each invalid key", async () => {
    const result = await ovsMeshIn(host0, ["hosts", "list", "--etcd", ETCD, "--cluster", "good"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^host0\s+198\.18\.0\.10\s+10\.240\.1\.0\/24/m);
    assert.match(result.stdout, /^host1\s+198\.18\.0\.11\s+10\.240\.2\.0\/24/m);
    assert.equal(result.stdout.split("\n").filter((line) => line.startsWith("host")).length, 2);
    for (const [key] of GARBAGE) {
      assert.ok(
        result.stderr.includes(`skipped /ovs-mesh/good/${key}`),
        `${key} not reported: ${result.stderr}`,
      );
    }
  });

  test("agent applies no invalid record", async () => {
    const stateDir = await mkdtemp(join(files.dir, "agent-"));
    const agent = startBackground([
      ...["ip", "netns", "exec", host0.namespace, process.execPath, BINARY, "agent"],
      ...["--ovsdb", host0.dbSocket, "--ovs-rundir", host0.runDirectory, "--state-dir", stateDir],
      ...["--etcd", ETCD, "--cluster", "good", "--host", "host0", "--underlay-ip", "198.18.0.10"],
      ...["--metrics-address", "off", "--probe-seconds", "0"],
    ]);
    try {
      await waitForOutput(agent.output, '"event":"reconcile"', 15_000);
    } finally {
      assert.equal(await stopBackground(agent), 0, agent.output());
    }
    const log = agent.output();
    for (const [key] of GARBAGE) {
      assert.ok(log.includes(`"key":"/ovs-mesh/good/${key}"`), `${key} not logged: ${log}`);
    }
    // The store's valid hosts are the lab's, so a converged host0 has nothing to change.
    assert.match(log, /"event":"reconcile".*"changes":0/);
    assert.deepEqual(await hostSnapshot(host0), snapshot);
  });
});

/** Keys of the cluster "good" with invalid values, and the values. */
const GARBAGE: [string, string][] = [
  ["hosts/host2", "{not json"],
  ["hosts/host3", hostRecord("host3", "198.18.0.999", "10.240.4.0/24")],
  ["hosts/host4", hostRecord("host4", "198.18.0.14", "10.241.0.0/24")],
  ["hosts/host5", hostRecord("host5", "198.18.0.15", "10.240.6.0/24")],
  ["hosts/host6", hostRecord("other", "198.18.0.16", "10.240.7.0/24")],
  ["hosts/host7", hostRecord("host7", "198.18.0.10", "10.240.10.0/24")],
  [
    "hosts/host8",
    JSON.stringify({
      name: "host8",
      underlayIp: "198.18.0.18",
      subnet: "10.240.9.0/24",
      joinedAt: -1,
      version: 9,
    }),
  ],
  ["subnets/10.240.6.0_23", "host5"],
  ["subnets/10.240.8.0_24", "Not A Host"],
  ["seen/host1", "yesterday"],
  ["zzz", "unknown"],
];

async function waitForOutput(output: () => string, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!output().includes(text)) {
    if (Date.now() > deadline) {
      throw new Error(`no ${JSON.stringify(text)} within ${timeoutMs} ms in:\n${output()}`);
    }
    await sleep(100);
  }
}
