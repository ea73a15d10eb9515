import assert from "node:assert/strict";
import { test } from "node:test";
import { innerMtu, TUNNEL_OVERHEAD } from "../../src/plan/mtu.js";

const cases: [string, number, "gre" | "vxlan" | "geneve", number][] = [
  ["GRE on 1500", 1500, "gre", 1462],
  ["VXLAN on 1500", 1500, "vxlan", 1450],
  ["Geneve on 1500", 1500, "geneve", 1450],
  ["GRE on jumbo 9000", 9000, "gre", 8962],
  ["VXLAN on 1400", 1400, "vxlan", 1350],
];

for (const [name, underlay, tunnel, expected] of cases) {
  test(`innerMtu for ${name}`, () => {
    assert.equal(innerMtu(underlay, tunnel), expected);
  });
}

test("tunnel overhead includes the inner Ethernet header", () => {
  assert.equal(TUNNEL_OVERHEAD.gre, 38);
  assert.equal(TUNNEL_OVERHEAD.vxlan, 50);
  assert.equal(TUNNEL_OVERHEAD.geneve, 50);
});
