import assert from "node:assert/strict";
import { test } from "node:test";
import { labCommand } from "../../src/cli/lab.js";
import { UsageError } from "../../src/cli/command.js";
import { findTarget, parseTargetName, targetCommand } from "../../src/lab/targets.js";
import { planLab } from "../../src/lab/topology.js";

/** Asserts that `lab ARGS` is rejected as a wrong command line whose message has `fragment`. */
async function assertUsageError(args: string[], fragment: string): Promise<void> {
  await assert.rejects(labCommand.run(args), (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected UsageError, got ${String(error)}`);
    assert.ok(error.message.includes(fragment), `message ${JSON.stringify(error.message)}`);
    return true;
  });
}

const usageCases: [string, string[], string][] = [
  ["missing subcommand", [], "missing subcommand"],
  ["unknown subcommand", ["start"], 'unknown subcommand "start"'],
  ["zero hosts", ["up", "--hosts", "0"], 'invalid --hosts "0": expected an integer from 1 to 245'],
  ["too many hosts", ["up", "--hosts", "246"], 'invalid --hosts "246"'],
  ["non-numeric hosts", ["up", "--hosts", "three"], 'invalid --hosts "three"'],
  ["negative containers", ["up", "--containers", "-1"], "--containers"],
  [
    "unknown tunnel",
    ["up", "--tunnel", "ipip"],
    'invalid --tunnel "ipip": expected one of gre, vxlan, geneve',
  ],
  ["unknown mode", ["up", "--mode", "mesh"], 'invalid --mode "mesh": expected one of flow, port'],
  ["bad lab name", ["up", "--name", "../x"], 'invalid lab name "../x"'],
  ["unknown option", ["up", "--host", "2"], "--host"],
  ["bad lab name in down", ["down", "--name", "A"], 'invalid lab name "A"'],
  ["exec without separator", ["exec", "host0", "true"], "missing -- before the command"],
  ["exec without command", ["exec", "host0", "--"], "missing command after --"],
  ["exec without target", ["exec", "--", "true"], "expected exactly one target"],
  [
    "exec with two targets",
    ["exec", "host0", "host1", "--", "true"],
    "expected exactly one target",
  ],
  ["exec with a bad target", ["exec", "host0/c0/x", "--", "true"], 'invalid target "host0/c0/x"'],
  ["exec with a bad host name", ["exec", "Host0", "--", "true"], 'invalid host name "Host0"'],
  [
    "exec with a bad container",
    ["exec", "host0/C_0", "--", "true"],
    'invalid container name "C_0"',
  ],
  ["exec with a bad timeout", ["exec", "--timeout", "0", "host0", "--", "true"], "--timeout"],
  ["check with bad parallel", ["check", "--parallel", "0"], 'invalid --parallel "0"'],
];

for (const [label, args, fragment] of usageCases) {
  test(`lab rejects ${label}`, async () => {
    await assertUsageError(args, fragment);
  });
}

test("parseTargetName reads host and container", () => {
  assert.deepEqual(parseTargetName("host0"), { host: "host0", container: undefined });
  assert.deepEqual(parseTargetName("host1/c0"), { host: "host1", container: "c0" });
  assert.equal(typeof parseTargetName("host1/"), "string");
  assert.equal(typeof parseTargetName("/c0"), "string");
});

const lab = planLab({ name: "t", hosts: 2, containers: 2, tunnel: "gre", mode: "flow" }, "/r");

test("findTarget rejects an unknown host", () => {
  const problem = findTarget(lab, { host: "host7", container: undefined });
  assert.equal(problem, 'host "host7" not found in lab t: its hosts are host0, host1');
});

test("findTarget rejects an unknown container", () => {
  const problem = findTarget(lab, { host: "host1", container: "c5" });
  assert.equal(problem, 'container "c5" not found on host1 in lab t: its containers are c0, c1');
});

test("targetCommand sets the OVS environment for a host", () => {
  const target = findTarget(lab, { host: "host1", container: undefined });
  assert.ok(typeof target !== "string");
  const command = targetCommand(target, ["ovs-vsctl", "show"]);
  assert.deepEqual(command.argv, ["ip", "netns", "exec", "om-t-host1", "ovs-vsctl", "show"]);
  assert.equal(command.env.OVS_RUNDIR, "/r/t/host1");
});

test("targetCommand enters a container's network namespace", () => {
  const target = findTarget(lab, { host: "host0", container: "c1" });
  assert.ok(typeof target !== "string");
  const command = targetCommand(target, ["ip", "addr"]);
  assert.deepEqual(command.argv, ["nsenter", "--net=/run/netns/om-t-host0-c1", "ip", "addr"]);
  assert.deepEqual(command.env, {});
});
