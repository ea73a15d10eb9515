import type { Cluster, HostSpec } from "../plan/cluster.js";
import { gatewayCidr } from "../plan/host.js";
import { innerMtu } from "../plan/mtu.js";
import { checkClockSkew, type ClockSkew } from "../host/doctor/clock.js";
import type { CheckResult } from "../host/doctor/check.js";
import { checkLinuxBridge } from "../host/doctor/docker.js";
import { readHostFacts, type HostFacts } from "../host/doctor/facts.js";
import { checkForwardPolicy, checkTunnelFirewall } from "../host/doctor/firewall.js";
import { checkIpForward, checkRpFilter, checkSendRedirects } from "../host/doctor/kernel.js";
import { checkClusterRange, checkUnderlayMtu, findUnderlayLink } from "../host/doctor/network.js";
import { checkDatapath, checkOvsdb } from "../host/doctor/ovs.js";
import { DEFAULT_SETTINGS } from "../plan/cluster.js";
import type { HostPaths } from "./paths.js";

/** The cluster and member that doctor checks the host against; undefined parts are unknown. */
export interface DoctorTarget {
  cluster: Cluster | undefined;
  self: HostSpec | undefined;
  /** Clock comparison with etcd, the error that prevented it, or undefined without etcd. */
  clock: ClockSkew | Error | undefined;
}

/** Reads the host and runs every check; checks that need a cluster are skipped without one. */
export async function runDoctor(paths: HostPaths, target: DoctorTarget): Promise<CheckResult[]> {
  const linuxBridge = target.cluster?.linuxBridge ?? DEFAULT_SETTINGS.linuxBridge;
  const facts = await readHostFacts(paths.ovsdbSocket, linuxBridge);
  return evaluateChecks(facts, target, paths.ovsdbSocket);
}

/** Runs every check on facts read before; pure. */
export function evaluateChecks(
  facts: HostFacts,
  target: DoctorTarget,
  ovsdbSocket: string,
): CheckResult[] {
  const { cluster, self } = target;
  const linuxBridge = cluster?.linuxBridge ?? DEFAULT_SETTINGS.linuxBridge;
  const underlay = self === undefined ? undefined : findUnderlayLink(facts.links, self.underlayIp);
  const underlayMtu = cluster?.underlayMtu ?? underlay?.mtu;
  const expectedMtu =
    cluster === undefined || underlayMtu === undefined
      ? undefined
      : innerMtu(underlayMtu, cluster.tunnel);
  const datapath = effectiveDatapath(facts, cluster);
  const sysctl = (key: string) => facts.sysctls[key];
  const bridgeLink = facts.links[linuxBridge];

  return [
    checkOvsdb(facts.ovs, ovsdbSocket),
    checkDatapath({
      ovs: facts.ovs,
      moduleLoaded: facts.moduleLoaded,
      choice: cluster?.datapath,
      underlayInterface: underlay?.name,
    }),
    checkIpForward(sysctl("net.ipv4.ip_forward")),
    checkRpFilter({
      all: sysctl("net.ipv4.conf.all.rp_filter"),
      bridge:
        bridgeLink === undefined ? undefined : sysctl(`net.ipv4.conf.${linuxBridge}.rp_filter`),
      bridgeName: linuxBridge,
      range: cluster?.range,
      clusterRoute: facts.routes.some(
        (route) => route.destination === cluster?.range && route.device === linuxBridge,
      ),
      defaultRoute: facts.routes.some((route) => route.destination === "default"),
    }),
    checkSendRedirects({
      all: sysctl("net.ipv4.conf.all.send_redirects"),
      bridge:
        bridgeLink === undefined
          ? undefined
          : sysctl(`net.ipv4.conf.${linuxBridge}.send_redirects`),
      bridgeName: linuxBridge,
    }),
    checkForwardPolicy(facts.chains.FORWARD),
    checkLinuxBridge({
      bridgeName: linuxBridge,
      link: bridgeLink,
      expectedAddress: self === undefined ? undefined : gatewayCidr(self),
      expectedMtu,
      subnet: self?.subnet,
      range: cluster?.range,
    }),
    checkUnderlayMtu({
      tunnel: cluster?.tunnel,
      underlayIp: self?.underlayIp,
      underlay,
      configuredMtu: cluster?.underlayMtu,
    }),
    checkClusterRange({
      range: cluster?.range,
      linuxBridge,
      underlayAddress: underlay?.address,
      routes: facts.routes,
    }),
    checkTunnelFirewall({
      tunnel: cluster?.tunnel,
      datapath,
      input: facts.chains.INPUT,
      output: facts.chains.OUTPUT,
    }),
    checkClockSkew(target.clock),
  ];
}

/** Returns the datapath that the agent picks here, as planHost would; undefined when unknown. */
function effectiveDatapath(
  facts: HostFacts,
  cluster: Cluster | undefined,
): "system" | "netdev" | undefined {
  if (cluster !== undefined && cluster.datapath !== "auto") {
    return cluster.datapath;
  }
  if (!facts.ovs.reachable) {
    return undefined;
  }
  if (facts.moduleLoaded && facts.ovs.datapathTypes.includes("system")) {
    return "system";
  }
  return facts.ovs.datapathTypes.includes("netdev") ? "netdev" : undefined;
}
