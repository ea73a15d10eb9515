import { flowKey } from "./flows.js";
import { PlanError } from "./host.js";
import {
  FORWARD_CHAIN,
  NAT_CHAIN,
  type DesiredHost,
  type Flow,
  type LinuxActual,
  type LinuxChange,
  type OvsActual,
  type OvsChange,
  type RuleSpec,
  type TunnelPort,
} from "./state.js";

/** State of a host as the host drivers read it. */
export interface ActualHost {
  ovs: OvsActual;
  /** ovs-mesh's OpenFlow rules on the bridge; empty when the bridge does not exist. */
  flows: Flow[];
  linux: LinuxActual;
}

/** One step of a plan; the steps run in order. */
export type Step =
  | { kind: "linux"; changes: LinuxChange[] }
  | { kind: "ovs"; changes: OvsChange[] }
  | { kind: "flows"; bridge: string; add: Flow[]; remove: Flow[] };

/**
 * Compares the desired state of a host with what it has and returns the steps that
 * converge it, in an order that works on an empty host: the Linux bridge, then the new OVS
 * bridge and tunnels in one transaction, then the OpenFlow rules in one bundle, then the
 * removal of old tunnels, then the OVS internal port joined to the Linux bridge, the route
 * and the firewall rules.
 * An empty list means that the host is converged.
 */
export function diffHost(desired: DesiredHost, actual: ActualHost): Step[] {
  const steps: Step[] = [];
  const push = (step: Step) => {
    const empty =
      step.kind === "flows"
        ? step.add.length === 0 && step.remove.length === 0
        : step.changes.length === 0;
    if (!empty) {
      steps.push(step);
    }
  };

  // Rules name ports, so new ports must exist before the rules that use them are added, and
  // old ports must outlive the rules that use them until those are deleted.
  const ovs = diffOvs(desired, actual.ovs);
  const removals = ovs.filter((change) => change.kind.startsWith("remove-"));
  push({ kind: "linux", changes: diffLinuxBridge(desired, actual.linux) });
  push({ kind: "ovs", changes: ovs.filter((change) => !removals.includes(change)) });
  push({ kind: "flows", bridge: desired.ovs.bridge, ...diffFlows(desired.flows, actual.flows) });
  push({ kind: "ovs", changes: removals });
  push({ kind: "linux", changes: diffLinuxRest(desired, actual.linux) });
  return steps;
}

function diffLinuxBridge(desired: DesiredHost, actual: LinuxActual): LinuxChange[] {
  const { bridge, mtu, address, mac } = desired.linux;
  const link = actual.links[bridge];
  const changes: LinuxChange[] = [];
  if (link !== undefined && link.kind !== "bridge") {
    throw new PlanError(
      `${bridge} exists but is a ${link.kind ?? "plain"} device, not a Linux bridge; remove it or set bridges.linux to another name`,
    );
  }
  if (link === undefined) {
    changes.push({ kind: "create-bridge", name: bridge, mac });
  }
  if (link?.mtu !== mtu) {
    changes.push({ kind: "set-mtu", device: bridge, mtu });
  }
  if (!link?.addresses.includes(address)) {
    changes.push({ kind: "add-address", device: bridge, address });
  }
  if (!link?.up) {
    changes.push({ kind: "set-up", device: bridge });
  }
  return changes;
}

function diffLinuxRest(desired: DesiredHost, actual: LinuxActual): LinuxChange[] {
  const changes: LinuxChange[] = [];
  const { bridge, mtu, route, sysctls } = desired.linux;
  const internal = desired.ovs.bridge;
  const port = actual.links[internal];

  if (port?.master !== bridge) {
    changes.push({ kind: "set-master", device: internal, master: bridge });
  }
  if (port?.mtu !== mtu) {
    changes.push({ kind: "set-mtu", device: internal, mtu });
  }
  if (!port?.up) {
    changes.push({ kind: "set-up", device: internal });
  }

  const routed = actual.routes.some((r) => r.destination === route && r.device === bridge);
  if (!routed) {
    changes.push({ kind: "replace-route", destination: route, device: bridge });
  }

  for (const [key, value] of Object.entries(sysctls)) {
    if (actual.sysctls[key] !== value) {
      changes.push({ kind: "sysctl", key, value });
    }
  }

  if (!sameRules(actual.chains.filter[FORWARD_CHAIN], desired.linux.forwardRules)) {
    changes.push({
      kind: "set-chain",
      table: "filter",
      chain: FORWARD_CHAIN,
      rules: desired.linux.forwardRules,
    });
  }
  // The jumps must stay the first rules, ahead of the rules that Docker inserts at the top
  // when dockerd starts, such as its MASQUERADE rule in POSTROUTING.
  if (!actual.jumps.forward) {
    changes.push({ kind: "add-jump", table: "filter", from: "FORWARD", chain: FORWARD_CHAIN });
  } else if (!actual.jumpsFirst.forward) {
    changes.push({ kind: "move-jump", table: "filter", from: "FORWARD", chain: FORWARD_CHAIN });
  }
  if (!sameRules(actual.chains.nat[NAT_CHAIN], desired.linux.natRules)) {
    changes.push({
      kind: "set-chain",
      table: "nat",
      chain: NAT_CHAIN,
      rules: desired.linux.natRules,
    });
  }
  if (!actual.jumps.postrouting) {
    changes.push({ kind: "add-jump", table: "nat", from: "POSTROUTING", chain: NAT_CHAIN });
  } else if (!actual.jumpsFirst.postrouting) {
    changes.push({ kind: "move-jump", table: "nat", from: "POSTROUTING", chain: NAT_CHAIN });
  }
  return changes;
}

function sameRules(actual: RuleSpec[] | undefined, desired: RuleSpec[]): boolean {
  return (
    actual !== undefined &&
    actual.length === desired.length &&
    actual.every((rule, index) => rule.join(" ") === desired[index]?.join(" "))
  );
}

function diffOvs(desired: DesiredHost, actual: OvsActual): OvsChange[] {
  const { bridge, datapathType, failMode, internalMtu } = desired.ovs;
  const settings = { bridge, datapathType, failMode, internalMtu };
  const changes: OvsChange[] = [];
  const existing = actual.bridge;

  if (existing === undefined) {
    changes.push({ kind: "create-bridge", ...settings });
  } else if (!existing.managed) {
    throw new PlanError(
      `OVS bridge ${bridge} exists but was not created by ovs-mesh; remove it or set bridges.ovs to another name`,
    );
  } else if (
    existing.datapathType !== datapathType ||
    existing.failMode !== failMode ||
    existing.internalMtu !== internalMtu
  ) {
    changes.push({ kind: "update-bridge", ...settings });
  }

  const current = new Map(actual.tunnels.map((port) => [port.name, port]));
  const wanted = new Set(desired.ovs.tunnels.map((port) => port.name));
  for (const port of actual.tunnels) {
    if (!wanted.has(port.name)) {
      changes.push({ kind: "remove-tunnel", bridge, name: port.name });
    }
  }
  for (const port of desired.ovs.tunnels) {
    if (actual.foreignPorts.includes(port.name)) {
      throw new PlanError(
        `port ${port.name} on ${bridge} was not created by ovs-mesh; remove it so that ovs-mesh can create its tunnel`,
      );
    }
    const found = current.get(port.name);
    if (found === undefined) {
      changes.push({ kind: "add-tunnel", bridge, port });
    } else if (!sameTunnel(found, port)) {
      changes.push({ kind: "update-tunnel", bridge, port });
    }
  }
  return changes;
}

function sameTunnel(a: TunnelPort, b: TunnelPort): boolean {
  return (
    a.type === b.type && a.peer === b.peer && sameMap(a.options, b.options) && sameMap(a.bfd, b.bfd)
  );
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/** Rules to add (new or with other actions) and to remove (no longer desired). */
export function diffFlows(
  desired: readonly Flow[],
  actual: readonly Flow[],
): { add: Flow[]; remove: Flow[] } {
  // Each key is computed once: sorting the match fields of every rule is most of the cost,
  // and a host with 1000 peers has 4000 rules on each side.
  const keyed = actual.map((flow) => ({ key: flowKey(flow), flow }));
  const current = new Map(keyed.map(({ key, flow }) => [key, flow]));
  const desiredKeys = new Set<string>();
  const add: Flow[] = [];
  for (const flow of desired) {
    const key = flowKey(flow);
    desiredKeys.add(key);
    if (current.get(key)?.actions !== flow.actions) {
      add.push(flow);
    }
  }
  const remove = keyed.filter(({ key }) => !desiredKeys.has(key)).map(({ flow }) => flow);
  return { add, remove };
}

/** Describes each change in one line, as `plan` prints and `apply` reports them. */
export function describeSteps(steps: readonly Step[]): string[] {
  return steps.flatMap((step) => {
    switch (step.kind) {
      case "linux":
        return step.changes.map(describeLinuxChange);
      case "ovs":
        return step.changes.map(describeOvsChange);
      case "flows":
        return [
          ...step.remove.map((flow) => `flow - ${step.bridge} ${formatFlow(flow)}`),
          ...step.add.map((flow) => `flow + ${step.bridge} ${formatFlow(flow)}`),
        ];
    }
    return [];
  });
}

/** Formats a rule as `ovs-ofctl add-flow` reads it, without the cookie. */
export function formatFlow(flow: Flow): string {
  const match = flow.match === "" ? "" : `,${flow.match}`;
  return `table=${flow.table},priority=${flow.priority}${match},actions=${flow.actions}`;
}

function describeLinuxChange(change: LinuxChange): string {
  switch (change.kind) {
    case "sysctl":
      return `sysctl ${change.key}=${change.value}`;
    case "create-bridge":
      return `link + ${change.name} (Linux bridge)`;
    case "delete-bridge":
      return `link - ${change.name} (Linux bridge)`;
    case "set-mtu":
      return `link ~ ${change.device} mtu ${change.mtu}`;
    case "set-master":
      return `link ~ ${change.device} master ${change.master}`;
    case "set-up":
      return `link ~ ${change.device} up`;
    case "add-address":
      return `address + ${change.address} on ${change.device}`;
    case "replace-route":
      return `route + ${change.destination} dev ${change.device}`;
    case "remove-route":
      return `route - ${change.destination} dev ${change.device}`;
    case "set-chain":
      return `iptables ~ ${change.table} ${change.chain} (${change.rules.length} rules)`;
    case "add-jump":
      return `iptables + ${change.table} ${change.from} -j ${change.chain}`;
    case "move-jump":
      return `iptables ~ ${change.table} ${change.from} -j ${change.chain} (moved to rule 1)`;
    case "remove-jump":
      return `iptables - ${change.table} ${change.from} -j ${change.chain}`;
    case "remove-chain":
      return `iptables - ${change.table} ${change.chain}`;
  }
}

function describeOvsChange(change: OvsChange): string {
  switch (change.kind) {
    case "create-bridge":
      return `ovs + bridge ${change.bridge} (datapath ${change.datapathType}, fail_mode ${change.failMode}, mtu ${change.internalMtu})`;
    case "update-bridge":
      return `ovs ~ bridge ${change.bridge} (datapath ${change.datapathType}, fail_mode ${change.failMode}, mtu ${change.internalMtu})`;
    case "add-tunnel":
      return `ovs + port ${change.port.name} ${describeTunnel(change.port)}`;
    case "update-tunnel":
      return `ovs ~ port ${change.port.name} ${describeTunnel(change.port)}`;
    case "remove-tunnel":
      return `ovs - port ${change.name}`;
    case "remove-bridge":
      return `ovs - bridge ${change.bridge}`;
  }
}

function describeTunnel(port: TunnelPort): string {
  const peer = port.peer === undefined ? "" : ` to ${port.peer}`;
  return `(${port.type} remote_ip=${port.options.remote_ip ?? "?"}${peer})`;
}
