import { randomBytes } from "node:crypto";
import { access, chmod, constants, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CommandError, run } from "../host/exec.js";
import type { EtcdTlsFiles } from "../store/etcd-transport.js";
import { makeCertificates, serverTlsArgs } from "./etcd-certificates.js";

/** Options for {@link startEtcd}. */
export interface StartEtcdOptions {
  /** Directory for data directories, logs, pid files and certificates; must exist. */
  dir: string;
  /** Number of members; 1 when absent. */
  members?: 1 | 3;
  /** Network namespace to run the members in (through `ip netns exec`); the root one when absent. */
  netns?: string;
  /** Listen address of each member; 127.0.0.1 for all when absent. */
  addresses?: readonly string[];
  /**
   * Client and peer port of each member. When absent: free ports of 127.0.0.1 in the root
   * namespace, and 2379 + 2i (client) and 2380 + 2i (peer) inside a namespace.
   */
  ports?: readonly { client: number; peer: number }[];
  /** Serve clients and peers over TLS with a CA and certificates made in `dir`. */
  tls?: boolean;
  /** Milliseconds to wait for every member to report healthy; 30 s when absent. */
  startTimeoutMs?: number;
}

/** PEM files made for a TLS cluster: the CA, and a client certificate with its key. */
export interface EtcdCertificates extends EtcdTlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** A running etcd cluster. */
export interface EtcdCluster {
  /** Client URL of each member, in member order. */
  endpoints: string[];
  /** CA, client certificate and key for TLS clusters; undefined otherwise. */
  tls: EtcdCertificates | undefined;
  /** Stops every member; leaves `dir` in place. */
  stop(): Promise<void>;
  /** Stops member `index`, keeping its data. */
  stopMember(index: number): Promise<void>;
  /** Starts member `index` again from its data, and waits until it is healthy. */
  startMember(index: number): Promise<void>;
}

interface Member {
  name: string;
  clientUrl: string;
  peerUrl: string;
  pidFile: string;
  logFile: string;
  args: string[];
}

/**
 * How the members of a cluster are started, stopped and checked, kept in `dir` as
 * {@link RECORD_FILE} so that another process can stop or restart them.
 */
interface EtcdRecord {
  /** Absolute path of the etcd program. */
  etcd: string;
  /** argv prefix that enters the members' namespace; empty for the root namespace. */
  netnsPrefix: string[];
  tls: EtcdCertificates | undefined;
  timeoutMs: number;
  members: Member[];
}

const RECORD_FILE = "etcd.json";

/**
 * Starts etcd members (Debian's etcd-server 3.4) as background processes, each with its own
 * data directory under `dir`, and waits until all report healthy. Inside a namespace the
 * health check runs there too, so nothing outside the namespace is contacted.
 */
export async function startEtcd(options: StartEtcdOptions): Promise<EtcdCluster> {
  const count = options.members ?? 1;
  const addresses = options.addresses ?? Array.from({ length: count }, () => "127.0.0.1");
  if (addresses.length !== count) {
    throw new RangeError(`startEtcd: ${addresses.length} addresses given for ${count} members`);
  }
  const ports = options.ports ?? (await defaultPorts(count, options.netns));
  const scheme = options.tls ? "https" : "http";
  const tls = options.tls ? await makeCertificates(options.dir, addresses) : undefined;
  const etcd = await findProgram("etcd");
  const token = `ovs-mesh-${randomBytes(6).toString("hex")}`;

  const members: Member[] = addresses.map((address, index) => {
    const port = ports[index];
    if (port === undefined) {
      throw new RangeError(`startEtcd: no ports given for member ${index}`);
    }
    const name = `member${index}`;
    return {
      name,
      clientUrl: `${scheme}://${hostPart(address)}:${port.client}`,
      peerUrl: `${scheme}://${hostPart(address)}:${port.peer}`,
      pidFile: join(options.dir, `${name}.pid`),
      logFile: join(options.dir, `${name}.log`),
      args: [],
    };
  });
  const initialCluster = members.map((member) => `${member.name}=${member.peerUrl}`).join(",");
  for (const member of members) {
    const dataDir = join(options.dir, `${member.name}.data`);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    // etcd 3.4 warns about, and later releases reject, a data directory open to others.
    await chmod(dataDir, 0o700);
    member.args = [
      ...["--name", member.name, "--data-dir", dataDir],
      ...["--listen-client-urls", member.clientUrl, "--advertise-client-urls", member.clientUrl],
      ...["--listen-peer-urls", member.peerUrl, "--initial-advertise-peer-urls", member.peerUrl],
      ...["--initial-cluster", initialCluster, "--initial-cluster-token", token],
      ...["--initial-cluster-state", "new", "--logger", "zap", "--log-outputs", "stderr"],
      ...(tls === undefined ? [] : serverTlsArgs(options.dir)),
    ];
  }

  const record: EtcdRecord = {
    etcd,
    netnsPrefix: options.netns === undefined ? [] : ["ip", "netns", "exec", options.netns],
    tls,
    timeoutMs: options.startTimeoutMs ?? 30_000,
    members,
  };
  await writeRecord(options.dir, record);

  try {
    for (const member of members) {
      await startMember(record, member);
    }
    await Promise.all(members.map((member) => waitForHealth(member, record)));
  } catch (error) {
    for (const member of members) {
      await stopMember(record, member);
    }
    throw error;
  }
  return clusterOf(record);
}

/**
 * Returns the cluster that {@link startEtcd} started with `dir`, from the record it keeps
 * there, so that a process other than the one that started it can stop or restart its
 * members. Undefined when `dir` holds no record.
 */
export async function attachEtcd(dir: string): Promise<EtcdCluster | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, RECORD_FILE), "utf8");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return undefined;
    }
    throw error;
  }
  return clusterOf(JSON.parse(text) as EtcdRecord);
}

async function writeRecord(dir: string, record: EtcdRecord): Promise<void> {
  const path = join(dir, RECORD_FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

function clusterOf(record: EtcdRecord): EtcdCluster {
  const { members } = record;
  const memberAt = (index: number): Member => {
    const member = members[index];
    if (member === undefined) {
      throw new RangeError(`no etcd member ${index}: the cluster has ${members.length}`);
    }
    return member;
  };
  return {
    endpoints: members.map((member) => member.clientUrl),
    tls: record.tls,
    stop: async () => {
      for (const member of members) {
        await stopMember(record, member);
      }
    },
    stopMember: (index) => stopMember(record, memberAt(index)),
    startMember: async (index) => {
      const member = memberAt(index);
      await startMember(record, member);
      await waitForHealth(member, record);
    },
  };
}

async function startMember(record: EtcdRecord, member: Member): Promise<void> {
  await run([
    ...record.netnsPrefix,
    ...["start-stop-daemon", "--start", "--background", "--make-pidfile"],
    ...["--pidfile", member.pidFile, "--output", member.logFile, "--exec", record.etcd, "--"],
    ...member.args,
  ]);
}

async function stopMember(record: EtcdRecord, member: Member): Promise<void> {
  // Exit code 1: no process matched the pid file, so there was nothing to stop.
  await run(
    [
      ...["start-stop-daemon", "--stop", "--pidfile", member.pidFile, "--exec", record.etcd],
      ...["--retry", "TERM/10/KILL/5", "--remove-pidfile"],
    ],
    { okCodes: [0, 1] },
  );
}

async function waitForHealth(member: Member, record: EtcdRecord): Promise<void> {
  const { netnsPrefix, tls, timeoutMs } = record;
  const argv = [
    ...netnsPrefix,
    ...["etcdctl", `--endpoints=${member.clientUrl}`, "--dial-timeout=2s", "--command-timeout=3s"],
    ...(tls === undefined ? [] : [`--cacert=${tls.ca}`, `--cert=${tls.cert}`, `--key=${tls.key}`]),
    ...["endpoint", "health"],
  ];
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      await run(argv, { timeoutMs: 10_000 });
      return;
    } catch (error) {
      if (!(error instanceof CommandError)) {
        throw error;
      }
      lastError = error.message;
    }
    await sleep(200);
  }
  const log = await readFile(member.logFile, "utf8").catch(
    (error: unknown) => `(no log: ${String(error)})`,
  );
  throw new Error(
    `etcd ${member.name} at ${member.clientUrl} was not healthy after ${timeoutMs} ms: ${lastError}\nlast lines of ${member.logFile}:\n${log.split("\n").slice(-15).join("\n")}`,
  );
}

async function defaultPorts(
  count: number,
  netns: string | undefined,
): Promise<{ client: number; peer: number }[]> {
  if (netns !== undefined) {
    return Array.from({ length: count }, (_, index) => ({
      client: 2379 + 2 * index,
      peer: 2380 + 2 * index,
    }));
  }
  const ports: { client: number; peer: number }[] = [];
  for (let index = 0; index < count; index++) {
    ports.push({ client: await freePort(), peer: await freePort() });
  }
  return ports;
}

/**
 * Returns a TCP port of 127.0.0.1 that was free a moment ago.
 * NOTE: another process may take the port before etcd binds it. startEtcd then fails with
 * etcd's log in the error.
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function hostPart(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/** Finds a program on PATH; start-stop-daemon needs its absolute path to match the process. */
async function findProgram(name: string): Promise<string> {
  for (const directory of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(delimiter)) {
    const candidate = join(directory, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch (error) {
      if (!(
        error instanceof Error &&
        "code" in error &&
        (error.code === "ENOENT" || error.code === "EACCES")
      )) {
        throw error;
      }
    }
  }
  throw new Error(`${name} not found on PATH: install Debian's etcd-server package`);
}
