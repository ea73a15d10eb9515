import { run } from "../../src/host/exec.js";

/**
 * Where the snapshot taken before the suite waits for the comparison after it. The test
 * runner starts one process per file, so the runner's pid (the parent of each) keeps two
 * suites that run at the same time apart.
 */
export const ROOT_SNAPSHOT_FILE = `/tmp/ovs-mesh-test-root-snapshot-${process.ppid}.json`;

/**
 * The root network namespace's links, addresses, routes and iptables rules, without
 * counters and other fields that change on their own.
 */
export async function snapshotRootNamespace(): Promise<Record<string, unknown>> {
  const links = JSON.parse((await run(["ip", "-json", "link", "show"])).stdout) as {
    ifname: string;
    mtu: number;
    flags: string[];
    master?: string;
  }[];
  const addresses = JSON.parse((await run(["ip", "-json", "addr", "show"])).stdout) as {
    ifname: string;
    addr_info: { local: string; prefixlen: number }[];
  }[];
  const routes = (await run(["ip", "route", "show", "table", "all"])).stdout;
  const filter = (await run(["iptables", "-S"])).stdout;
  const nat = (await run(["iptables", "-t", "nat", "-S"])).stdout;
  return {
    links: links.map((link) => [link.ifname, link.mtu, link.master ?? "", link.flags.join(",")]),
    addresses: addresses.map((entry) => [
      entry.ifname,
      entry.addr_info.map((info) => `${info.local}/${info.prefixlen}`).sort(),
    ]),
    routes: routes.split("\n").sort(),
    filter: filter.split("\n"),
    nat: nat.split("\n"),
  };
}
