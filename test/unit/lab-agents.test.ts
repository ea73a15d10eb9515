import assert from "node:assert/strict";
import { test } from "node:test";
import { linkName } from "../../src/agent/link-watch.js";
import { UsageError } from "../../src/cli/command.js";
import { storeChoice } from "../../src/cli/lab-members.js";
import { parseHostList } from "../../src/lab/cluster-store.js";
import { flowsMentioning, parseJoinedEvent, parseReplyTime } from "../../src/lab/convergence.js";

test("linkName reads ip monitor lines", () => {
  const cases: [string, string | undefined][] = [
    ["5: docker0: <BROADCAST,MULTICAST> mtu 1450 qdisc noop state DOWN", "docker0"],
    ["Deleted 5: docker0: <BROADCAST,MULTICAST> mtu 1450 qdisc noop state DOWN", "docker0"],
    ["4: veth-c0@eth0: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 master docker0", "veth-c0"],
    ["2: docker0    inet 10.240.1.1/24 scope global docker0", "docker0"],
    ["Deleted 2: docker0    inet 10.240.1.1/24 scope global docker0", "docker0"],
    ["    link/ether 06:59:53:b1:40:45 brd ff:ff:ff:ff:ff:ff", undefined],
    ["", undefined],
  ];
  for (const [line, expected] of cases) {
    assert.equal(linkName(line), expected, line);
  }
});

test("flowsMentioning matches whole addresses", () => {
  const host = { subnet: "10.240.3.0/24", underlayIp: "198.18.0.1" };
  const dump = [
    "table=10, priority=100,ip,tun_src=198.18.0.1,nw_src=10.240.3.0/24 actions=LOCAL",
    "table=10, priority=100,ip,tun_src=198.18.0.10,nw_src=10.240.4.0/24 actions=LOCAL",
    "table=20, priority=100,ip,nw_dst=10.240.30.0/24 actions=set_field:198.18.0.11->tun_dst",
    "table=20, priority=100,arp,arp_tpa=10.240.4.0/24 actions=set_field:198.18.0.1->tun_dst",
  ].join("\n");
  assert.deepEqual(flowsMentioning(dump, host), [
    "table=10, priority=100,ip,tun_src=198.18.0.1,nw_src=10.240.3.0/24 actions=LOCAL",
    "table=20, priority=100,arp,arp_tpa=10.240.4.0/24 actions=set_field:198.18.0.1->tun_dst",
  ]);
});

test("parseReplyTime reads ping -D output", () => {
  const output = [
    "PING 10.240.3.2 (10.240.3.2) 56(84) bytes of data.",
    "[1764860000.123456] 64 bytes from 10.240.3.2: icmp_seq=7 ttl=62 time=0.5 ms",
  ].join("\n");
  assert.equal(parseReplyTime(output), 1764860000123);
  assert.equal(parseReplyTime("1 packets transmitted, 0 received"), undefined);
});

test("parseJoinedEvent finds the claimed subnet", () => {
  const log = [
    '{"time":"2026-12-04T15:42:25.563Z","level":"info","host":"h","event":"start"}',
    '{"time":"2026-12-04T15:42:25.578Z","level":"info","host":"h","event":"joined","subnet":"10.240.1.0/24"}',
  ].join("\n");
  assert.deepEqual(parseJoinedEvent(log), {
    subnet: "10.240.1.0/24",
    at: Date.parse("2026-12-04T15:42:25.578Z"),
  });
  assert.equal(parseJoinedEvent(log.split("\n")[0] ?? ""), undefined);
});

test("parseHostList reads hosts list --json", () => {
  const text = JSON.stringify({
    cluster: "t",
    hosts: [{ name: "host0", underlayIp: "198.18.0.10", subnet: "10.240.1.0/24", alive: true }],
    problems: [],
  });
  assert.deepEqual(parseHostList(text), [
    { name: "host0", underlayIp: "198.18.0.10", subnet: "10.240.1.0/24" },
  ]);
  assert.throws(() => parseHostList('{"hosts":[{"name":"host0"}]}'), /without underlayIp/);
  assert.throws(() => parseHostList("{}"), /no hosts list/);
});

test("storeChoice checks lab up options", () => {
  assert.equal(storeChoice({}), undefined);
  assert.deepEqual(storeChoice({ store: "etcd" }), { kind: "etcd", etcdMembers: 1 });
  assert.deepEqual(storeChoice({ store: "etcd", "etcd-members": "3" }), {
    kind: "etcd",
    etcdMembers: 3,
  });
  assert.deepEqual(storeChoice({ store: "file" }), { kind: "file", etcdMembers: 1 });
  const rejected: [Parameters<typeof storeChoice>[0], RegExp][] = [
    [{ "etcd-members": "3" }, /needs --store etcd/],
    [{ store: "file", "etcd-members": "3" }, /needs --store etcd/],
    [{ store: "etcd", "etcd-members": "2" }, /invalid --etcd-members "2"/],
    [{ store: "zookeeper" }, /--store/],
    [{ store: "etcd", "no-apply": true }, /exclude each other/],
  ];
  for (const [values, message] of rejected) {
    assert.throws(
      () => storeChoice(values),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, message);
        return true;
      },
    );
  }
});
