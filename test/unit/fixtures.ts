import type { Cluster, HostSpec, TunnelMode } from "../../src/plan/cluster.js";
import type { ActualHost } from "../../src/plan/diff.js";
import type { DesiredHost } from "../../src/plan/state.js";

/** A cluster of `count` hosts: host i has underlay 198.18.x.y and subnet 10.240.(i+1).0/24. */
export function makeCluster(count: number, mode: TunnelMode): Cluster {
  const hosts: HostSpec[] = [];
  for (let i = 0; i < count; i++) {
    hosts.push({
      name: `host${i}`,
      underlayIp: `198.18.${Math.floor((i + 10) / 250)}.${((i + 10) % 250) + 1}`,
      subnet: `10.240.${i + 1}.0/24`,
    });
  }
  return {
    range: "10.240.0.0/16",
    subnetLength: 24,
    tunnel: "gre",
    mode,
    datapath: "auto",
    ovsBridge: "br0",
    linuxBridge: "docker0",
    underlayMtu: undefined,
    hosts,
  };
}

export const NETDEV_FACTS = { datapathTypes: ["netdev"], underlayMtu: 1500 };

/** A host on which nothing has been configured. */
export function emptyHost(): ActualHost {
  return {
    ovs: { datapathTypes: ["netdev"], bridge: undefined, tunnels: [], foreignPorts: [] },
    flows: [],
    linux: {
      links: { eth0: { mtu: 1500, up: true, kind: undefined, master: undefined, addresses: [] } },
      routes: [],
      sysctls: {},
      chains: { filter: {}, nat: {} },
      jumps: { forward: false, postrouting: false },
      jumpsFirst: { forward: false, postrouting: false },
    },
  };
}

/** What a host that has converged to `desired` looks like to the drivers. */
export function convergedHost(desired: DesiredHost): ActualHost {
  const { ovs, linux } = desired;
  return {
    ovs: {
      datapathTypes: ["netdev"],
      bridge: {
        bridge: ovs.bridge,
        datapathType: ovs.datapathType,
        failMode: ovs.failMode,
        internalMtu: ovs.internalMtu,
        managed: true,
      },
      tunnels: ovs.tunnels.map((port) => ({ ...port })),
      foreignPorts: [],
    },
    flows: desired.flows.map((flow) => ({
      ...flow,
      match: flow.match.split(",").reverse().join(","),
    })),
    linux: {
      links: {
        [linux.bridge]: {
          mtu: linux.mtu,
          up: true,
          kind: "bridge",
          master: undefined,
          addresses: [linux.address],
        },
        [ovs.bridge]: {
          mtu: linux.mtu,
          up: true,
          kind: "tun",
          master: linux.bridge,
          addresses: [],
        },
      },
      routes: [{ destination: linux.route, device: linux.bridge }],
      sysctls: { ...linux.sysctls },
      chains: {
        filter: { "OVS-MESH-FORWARD": linux.forwardRules.map((rule) => [...rule]) },
        nat: { "OVS-MESH-POSTROUTING": linux.natRules.map((rule) => [...rule]) },
      },
      jumps: { forward: true, postrouting: true },
      jumpsFirst: { forward: true, postrouting: true },
    },
  };
}
