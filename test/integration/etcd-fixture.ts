import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/host/exec.js";
import type { ClusterSettings } from "../../src/plan/cluster.js";
import { startEtcd, type EtcdCluster, type StartEtcdOptions } from "../../src/lab/etcd.js";

/** An etcd cluster started for one test file, in a temporary directory. */
export interface EtcdFixture {
  cluster: EtcdCluster;
  dir: string;
  /** Stops etcd and removes the directory; safe to call when the start failed half-way. */
  teardown(): Promise<void>;
}

/** Starts etcd on 127.0.0.1 ports in a new temporary directory. */
export async function startFixture(
  options: Omit<StartEtcdOptions, "dir"> = {},
): Promise<EtcdFixture> {
  const dir = await mkdtemp(join(tmpdir(), "omt-etcd-"));
  let cluster: EtcdCluster;
  try {
    cluster = await startEtcd({ ...options, dir });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    cluster,
    dir,
    teardown: async () => {
      try {
        await cluster.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Runs etcdctl against the fixture, with its certificates when it uses TLS. */
export async function etcdctl(cluster: EtcdCluster, ...args: string[]): Promise<string> {
  const tls = cluster.tls;
  const argv = [
    "etcdctl",
    `--endpoints=${cluster.endpoints.join(",")}`,
    ...(tls === undefined ? [] : [`--cacert=${tls.ca}`, `--cert=${tls.cert}`, `--key=${tls.key}`]),
    ...args,
  ];
  return (await run(argv)).stdout;
}

/** Settings used by the etcd tests. */
export function testSettings(overrides: Partial<ClusterSettings> = {}): ClusterSettings {
  return {
    range: "10.240.0.0/16",
    subnetLength: 24,
    tunnel: "gre",
    mode: "flow",
    datapath: "auto",
    ovsBridge: "br0",
    linuxBridge: "docker0",
    underlayMtu: undefined,
    ...overrides,
  };
}

/** Resolves with true when `promise` settles first, false after `ms` milliseconds. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
