import { run } from "./exec.js";
import { COOKIE, type Flow } from "../plan/state.js";

/** OpenFlow 1.3 is needed for set_field on tun_dst. */
const PROTOCOL = "OpenFlow13";
const TIMEOUT_MS = 30_000;

/** Returns the OpenFlow management socket of a bridge, in ovs-vswitchd's run directory. */
export function managementTarget(ovsRunDir: string, bridge: string): string {
  return `unix:${ovsRunDir}/${bridge}.mgmt`;
}

/** Reads the rules that carry ovs-mesh's cookie from a bridge. */
export async function dumpFlows(target: string): Promise<Flow[]> {
  const { stdout } = await run(
    [
      "ovs-ofctl",
      "-O",
      PROTOCOL,
      "--no-stats",
      "--names",
      "dump-flows",
      target,
      `cookie=${COOKIE}/-1`,
    ],
    { timeoutMs: TIMEOUT_MS },
  );
  return parseFlowDump(stdout);
}

/**
 * Parses `ovs-ofctl --no-stats dump-flows` output, such as
 * " cookie=0x1, table=10, priority=100,ip,nw_src=10.0.0.0/24 actions=LOCAL".
 * OVS omits "table=0", prints the match and actions separated by one space, and quotes port
 * names that hold characters other than letters, digits and "_" (in_port="gre-flow"); the
 * quotes are dropped here because ovs-mesh's port names never need them to be parsed.
 */
export function parseFlowDump(text: string): Flow[] {
  const flows: Flow[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim().replace(/"([A-Za-z0-9_.-]*)"/g, "$1");
    if (line === "" || line.startsWith("OFPST_FLOW") || line.startsWith("NXST_FLOW")) {
      continue;
    }
    const split = line.indexOf(" actions=");
    if (split < 0) {
      throw new Error(`unexpected line from ovs-ofctl dump-flows: ${JSON.stringify(line)}`);
    }
    const actions = line.slice(split + " actions=".length);
    let table = 0;
    let priority = 32768;
    const match: string[] = [];
    for (const field of line.slice(0, split).split(/,\s*/)) {
      if (field.startsWith("cookie=") || field === "") {
        continue;
      } else if (field.startsWith("table=")) {
        table = Number(field.slice("table=".length));
      } else if (field.startsWith("priority=")) {
        priority = Number(field.slice("priority=".length));
      } else {
        match.push(field);
      }
    }
    flows.push({ table, priority, match: match.join(","), actions });
  }
  return flows;
}

/**
 * Removes and adds rules in one OpenFlow bundle, so the switch moves from the old rule set
 * to the new one atomically and never forwards with half of it.
 */
export async function applyFlows(
  target: string,
  add: readonly Flow[],
  remove: readonly Flow[],
): Promise<void> {
  if (add.length === 0 && remove.length === 0) {
    return;
  }
  await run(["ovs-ofctl", "-O", PROTOCOL, "--bundle", "add-flows", target, "-"], {
    input: bundleText(add, remove),
    timeoutMs: TIMEOUT_MS,
  });
}

/** Builds the add-flows input of a bundle: delete_strict lines for `remove`, add lines for `add`. */
export function bundleText(add: readonly Flow[], remove: readonly Flow[]): string {
  const lines = [
    ...remove.map((flow) => `delete_strict ${flowText(flow, `${COOKIE}/-1`, false)}`),
    ...add.map((flow) => `add ${flowText(flow, COOKIE, true)}`),
  ];
  return `${lines.join("\n")}\n`;
}

function flowText(flow: Flow, cookie: string, withActions: boolean): string {
  const parts = [`cookie=${cookie}`, `table=${flow.table}`, `priority=${flow.priority}`];
  if (flow.match !== "") {
    parts.push(flow.match);
  }
  if (withActions) {
    parts.push(`actions=${flow.actions}`);
  }
  return parts.join(",");
}

/** Deletes every rule that carries ovs-mesh's cookie and no other. */
export async function deleteOwnFlows(target: string): Promise<void> {
  await run(["ovs-ofctl", "-O", PROTOCOL, "del-flows", target, `cookie=${COOKIE}/-1`], {
    timeoutMs: TIMEOUT_MS,
  });
}
