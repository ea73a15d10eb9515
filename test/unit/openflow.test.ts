import assert from "node:assert/strict";
import { test } from "node:test";
import { bundleText, parseFlowDump } from "../../src/host/openflow.js";

test("parseFlowDump reads tables, priorities and actions", () => {
  const text = [
    ' cookie=0x6f76736d657368, priority=100,in_port="gre-flow" actions=goto_table:10',
    " cookie=0x6f76736d657368, priority=0 actions=drop",
    " cookie=0x6f76736d657368, table=10, priority=100,ip,tun_src=198.18.0.3,nw_src=10.240.2.0/24 actions=LOCAL",
    ' cookie=0x6f76736d657368, table=20, priority=100,arp,arp_spa=10.240.1.0/24,arp_tpa=10.240.2.0/24 actions=set_field:198.18.0.3->tun_dst,output:"gre-flow"',
    "",
  ].join("\n");
  assert.deepEqual(parseFlowDump(text), [
    { table: 0, priority: 100, match: "in_port=gre-flow", actions: "goto_table:10" },
    { table: 0, priority: 0, match: "", actions: "drop" },
    {
      table: 10,
      priority: 100,
      match: "ip,tun_src=198.18.0.3,nw_src=10.240.2.0/24",
      actions: "LOCAL",
    },
    {
      table: 20,
      priority: 100,
      match: "arp,arp_spa=10.240.1.0/24,arp_tpa=10.240.2.0/24",
      actions: "set_field:198.18.0.3->tun_dst,output:gre-flow",
    },
  ]);
});

test("parseFlowDump rejects a line without actions", () => {
  assert.throws(() => parseFlowDump(" cookie=0x1, priority=1\n"), /unexpected line/);
});

test("bundleText deletes strictly by cookie and adds with it", () => {
  const flow = { table: 10, priority: 100, match: "ip", actions: "LOCAL" };
  assert.equal(
    bundleText([flow], [{ ...flow, match: "arp" }]),
    "delete_strict cookie=0x6f76736d657368/-1,table=10,priority=100,arp\n" +
      "add cookie=0x6f76736d657368,table=10,priority=100,ip,actions=LOCAL\n",
  );
});
