import type { DatapathChoice } from "../../plan/cluster.js";
import { fail, ok, skip, warn, type CheckResult } from "./check.js";

/** Facts read from ovsdb-server, or the error that prevented reading them. */
export type OvsFacts =
  | {
      reachable: true;
      /** Datapath types that ovs-vswitchd supports (Open_vSwitch datapath_types). */
      datapathTypes: string[];
      /** Names of OVS interfaces of type internal, such as bridge ports like br-phy. */
      internalInterfaces: string[];
    }
  | { reachable: false; error: string };

/** Checks that ovsdb-server accepts connections and requests on its socket. */
export function checkOvsdb(ovs: OvsFacts, socket: string): CheckResult {
  const id = "ovsdb";
  if (ovs.reachable) {
    return ok(id, `ovsdb-server answers on ${socket}`);
  }
  return fail(
    id,
    `ovsdb-server does not answer on ${socket}: ${ovs.error}`,
    "start Open vSwitch (systemctl start openvswitch-switch), or pass the socket it uses with --ovsdb",
  );
}

/** Facts that {@link checkDatapath} needs. */
export interface DatapathFacts {
  ovs: OvsFacts;
  /** Whether /sys/module/openvswitch exists. */
  moduleLoaded: boolean;
  /** Datapath from the cluster settings; undefined when no cluster is known. */
  choice: DatapathChoice | undefined;
  /** Interface with the underlay IP; undefined when unknown. */
  underlayInterface: string | undefined;
}

/**
 * Checks that a datapath can carry the tunnels. The system datapath needs the openvswitch
 * kernel module. The netdev datapath encapsulates in ovs-vswitchd and routes the outer
 * packet with OVS's own routing table, which contains only addresses of OVS internal
 * interfaces. So the underlay address must be on the internal port of a bridge (br-phy)
 * that contains the NIC.
 */
export function checkDatapath(facts: DatapathFacts): CheckResult {
  const id = "datapath";
  if (!facts.ovs.reachable) {
    return skip(id, "ovsdb-server does not answer, so the datapaths are unknown");
  }
  const types = facts.ovs.datapathTypes;
  const systemUsable = types.includes("system") && facts.moduleLoaded;
  const netdevListed = types.includes("netdev");
  const choice = facts.choice ?? "auto";
  const moduleFix = "load the kernel module (modprobe openvswitch) to use the system datapath";

  if (choice === "system" || (choice === "auto" && systemUsable)) {
    return systemUsable
      ? ok(id, "the system datapath is usable: the openvswitch kernel module is loaded")
      : fail(
          id,
          `the cluster asks for the system datapath, but ${facts.moduleLoaded ? "ovs-vswitchd does not list it" : "the openvswitch kernel module is not loaded"}`,
          `${moduleFix}, or set datapath: auto`,
        );
  }
  if (!netdevListed) {
    return fail(
      id,
      `no usable datapath: the kernel module is not loaded and ovs-vswitchd offers ${types.join(", ") || "none"}`,
      moduleFix,
    );
  }
  if (facts.underlayInterface === undefined) {
    return warn(
      id,
      "the netdev (userspace) datapath is in use, and without a cluster the underlay interface is unknown, so it was not checked that the underlay address is on an OVS bridge",
      "pass --config FILE --host NAME or --etcd",
    );
  }
  if (facts.ovs.internalInterfaces.includes(facts.underlayInterface)) {
    return ok(
      id,
      `the netdev datapath is usable: the underlay address is on ${facts.underlayInterface}, an OVS internal interface`,
    );
  }
  return fail(
    id,
    `the netdev datapath is in use, but the underlay address is on ${facts.underlayInterface}, which is not an OVS bridge's internal interface, so ovs-vswitchd cannot route tunnel packets`,
    `${moduleFix}, or move the address to a netdev bridge that holds the NIC: ovs-vsctl add-br br-phy -- set bridge br-phy datapath_type=netdev; ovs-vsctl add-port br-phy ${facts.underlayInterface}; then move the address from ${facts.underlayInterface} to br-phy`,
  );
}
