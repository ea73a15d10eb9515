import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { progressPrinter } from "../../src/cli/progress.js";

function capture(values: { quiet?: boolean; json?: boolean }): string {
  const stream = new PassThrough();
  const print = progressPrinter(values, stream);
  print("host0: OVS started");
  print("host1: OVS started");
  return stream.read()?.toString() ?? "";
}

test("progressPrinter prints steps with elapsed time", () => {
  const lines = capture({}).trimEnd().split("\n");
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? "", /^\[ +\d+\.\ds\] host0: OVS started$/);
  assert.match(lines[1] ?? "", /^\[ +\d+\.\ds\] host1: OVS started$/);
});

test("progressPrinter prints nothing when quiet", () => {
  assert.equal(capture({ quiet: true }), "");
});

test("progressPrinter prints JSON lines", () => {
  const lines = capture({ json: true }).trimEnd().split("\n");
  const first = JSON.parse(lines[0] ?? "") as { elapsedMs: number; step: string };
  assert.equal(first.step, "host0: OVS started");
  assert.equal(typeof first.elapsedMs, "number");
  assert.equal(lines.length, 2);
});
