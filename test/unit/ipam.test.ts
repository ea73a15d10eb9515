import assert from "node:assert/strict";
import { test } from "node:test";
import { SubnetError, allocateSubnet, checkSubnet } from "../../src/plan/ipam.js";

const allocations: {
  name: string;
  range: string;
  length: number;
  taken: string[];
  expected: string;
}[] = [
  { name: "empty range", range: "10.240.0.0/16", length: 24, taken: [], expected: "10.240.0.0/24" },
  {
    name: "first taken",
    range: "10.240.0.0/16",
    length: 24,
    taken: ["10.240.0.0/24"],
    expected: "10.240.1.0/24",
  },
  {
    name: "gap in the middle",
    range: "10.240.0.0/16",
    length: 24,
    taken: ["10.240.2.0/24", "10.240.0.0/24", "10.240.3.0/24"],
    expected: "10.240.1.0/24",
  },
  {
    name: "larger taken network",
    range: "10.240.0.0/16",
    length: 24,
    taken: ["10.240.0.0/22"],
    expected: "10.240.4.0/24",
  },
  {
    name: "smaller taken network",
    range: "10.240.0.0/16",
    length: 24,
    taken: ["10.240.0.128/25"],
    expected: "10.240.1.0/24",
  },
  {
    name: "taken outside the range",
    range: "10.240.0.0/16",
    length: 24,
    taken: ["10.239.255.0/24", "192.168.0.0/16"],
    expected: "10.240.0.0/24",
  },
  {
    name: "invalid taken entries",
    range: "10.240.0.0/16",
    length: 24,
    taken: ["garbage", "10.240.0.1/24"],
    expected: "10.240.0.0/24",
  },
  {
    name: "last subnet left",
    range: "10.240.0.0/22",
    length: 24,
    taken: ["10.240.0.0/24", "10.240.1.0/24", "10.240.2.0/24"],
    expected: "10.240.3.0/24",
  },
  {
    name: "/30 subnets",
    range: "172.30.0.0/24",
    length: 30,
    taken: ["172.30.0.0/30"],
    expected: "172.30.0.4/30",
  },
];

for (const { name, range, length, taken, expected } of allocations) {
  test(`allocateSubnet: ${name}`, () => {
    assert.equal(allocateSubnet(range, length, taken), expected);
  });
}

test("allocateSubnet rejects a full range", () => {
  const taken = ["10.240.0.0/24", "10.240.1.0/24", "10.240.2.0/24", "10.240.3.0/24"];
  assert.throws(() => allocateSubnet("10.240.0.0/22", 24, taken), {
    name: "SubnetError",
    message:
      "cluster range 10.240.0.0/22 is full: all 4 subnets of length /24 are taken; remove hosts that have left or use a larger range",
  });
});

test("allocateSubnet rejects a bad range and length", () => {
  assert.throws(() => allocateSubnet("10.240.0.1/16", 24, []), SubnetError);
  assert.throws(() => allocateSubnet("10.240.0.0/16", 16, []), /expected an integer from 17 to 32/);
});

test("allocateSubnet scales to a /8 of /30s", () => {
  const taken = Array.from(
    { length: 5000 },
    (_, index) => `10.0.${Math.floor(index / 64)}.${(index % 64) * 4}/30`,
  );
  assert.equal(allocateSubnet("10.0.0.0/8", 30, taken), "10.0.78.32/30");
});

const checks: { name: string; subnet: string; taken: string[]; expected: RegExp | undefined }[] = [
  { name: "free subnet", subnet: "10.240.7.0/24", taken: ["10.240.0.0/24"], expected: undefined },
  {
    name: "taken subnet",
    subnet: "10.240.0.0/24",
    taken: ["10.240.0.0/24"],
    expected: /already taken/,
  },
  {
    name: "overlapping taken",
    subnet: "10.240.1.0/24",
    taken: ["10.240.0.0/23"],
    expected: /already taken/,
  },
  {
    name: "outside the range",
    subnet: "10.241.0.0/24",
    taken: [],
    expected: /outside the cluster range 10.240.0.0\/16/,
  },
  {
    name: "wrong length",
    subnet: "10.240.0.0/25",
    taken: [],
    expected: /has length \/25, but the cluster uses \/24/,
  },
  { name: "not a CIDR", subnet: "10.240.0.0", taken: [], expected: /invalid subnet "10.240.0.0"/ },
  { name: "host bits set", subnet: "10.240.0.1/24", taken: [], expected: /invalid subnet/ },
];

for (const { name, subnet, taken, expected } of checks) {
  test(`checkSubnet: ${name}`, () => {
    const problem = checkSubnet("10.240.0.0/16", 24, subnet, taken);
    if (expected === undefined) {
      assert.equal(problem, undefined);
    } else {
      assert.match(problem ?? "", expected);
    }
  });
}
