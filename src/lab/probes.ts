import { setTimeout as sleep } from "node:timers/promises";
import { run, type RunResult } from "../host/exec.js";

/** A container as the probes address it: host, name, IP address and network namespace. */
export interface Endpoint {
  host: string;
  container: string;
  ip: string;
  /** Network namespace file for `nsenter --net=`. */
  namespacePath: string;
}

export interface PingResult {
  ok: boolean;
  transmitted: number;
  received: number;
  detail: string;
}

export interface TransferResult {
  ok: boolean;
  /** Bytes that the receiver counted; null when it reported no count. */
  received: number | null;
  expected: number;
  seconds: number;
  detail: string;
}

export interface MtuResult {
  ok: boolean;
  /** Size of the IPv4 packet: ICMP payload + 8 bytes ICMP header + 20 bytes IPv4 header. */
  packetSize: number;
  /** Whether a reply came back. */
  replied: boolean;
  detail: string;
}

/** IPv4 header (20) plus ICMP echo header (8): a ping of payload N sends a packet of N + 28. */
const ICMP_OVERHEAD = 28;
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);

/** Seconds that a transfer may take, on each side, before busybox `timeout` ends it. */
const TRANSFER_TIMEOUT_S = 60;
const LISTEN_WAIT_MS = 5_000;

function inside(endpoint: Endpoint, argv: readonly string[]): string[] {
  return ["nsenter", `--net=${endpoint.namespacePath}`, ...argv];
}

/**
 * Pings from one container to another until `count` replies arrive or 5 seconds pass. The
 * first packets to a new peer may be lost while OVS resolves the tunnel's next hop, so the
 * deadline (-w) leaves room to send more.
 */
export async function ping(
  source: Endpoint,
  destination: Endpoint,
  count = 3,
): Promise<PingResult> {
  const result = await run(
    inside(source, [
      "ping",
      "-n",
      "-q",
      "-c",
      String(count),
      "-i",
      "0.2",
      "-w",
      "5",
      destination.ip,
    ]),
    { okCodes: ANY_EXIT_CODE, timeoutMs: 15_000 },
  );
  const match = /(\d+) packets transmitted, (\d+) received/.exec(result.stdout);
  const transmitted = Number(match?.[1] ?? 0);
  const received = Number(match?.[2] ?? 0);
  return {
    ok: result.code === 0 && received >= count,
    transmitted,
    received,
    detail: match ? `${received}/${transmitted} replies` : describeFailure(result),
  };
}

/**
 * Sends `bytes` zero bytes over TCP from one container to another and checks the count that
 * the receiver took. The receiver is `busybox nc -l -e busybox wc -c`, which counts the
 * stream and sends the count back to the sender once the sender closes its side.
 *
 * The commands are busybox applets only, so that the same probe runs in containers built
 * from busybox-static.
 */
export async function transfer(
  source: Endpoint,
  destination: Endpoint,
  port: number,
  bytes: number,
): Promise<TransferResult> {
  const listener = run(
    inside(destination, [
      "busybox",
      "timeout",
      String(TRANSFER_TIMEOUT_S),
      "busybox",
      "nc",
      "-l",
      "-p",
      String(port),
      "-e",
      "busybox",
      "wc",
      "-c",
    ]),
    { okCodes: ANY_EXIT_CODE, timeoutMs: (TRANSFER_TIMEOUT_S + 10) * 1000 },
  );
  let started = Date.now();
  if (!(await waitForListener(destination, port, listener))) {
    await release(destination, port);
    const result = await listener;
    return transferFailure(
      bytes,
      started,
      `no listener on port ${port}: ${describeFailure(result)}`,
    );
  }

  started = Date.now();
  // The zero bytes go to nc's standard input from here, so that no shell pipeline is needed.
  const sender = await run(
    inside(source, [
      "busybox",
      "timeout",
      String(TRANSFER_TIMEOUT_S),
      "busybox",
      "nc",
      "-w",
      "5",
      destination.ip,
      String(port),
    ]),
    {
      input: "\0".repeat(bytes),
      okCodes: ANY_EXIT_CODE,
      timeoutMs: (TRANSFER_TIMEOUT_S + 10) * 1000,
    },
  );
  const seconds = (Date.now() - started) / 1000;
  const count = sender.stdout.trim();
  if (!/^\d+$/.test(count)) {
    await release(destination, port);
    await listener;
    return transferFailure(
      bytes,
      started,
      `the receiver sent no byte count: ${describeFailure(sender)}`,
    );
  }
  await listener;
  const received = Number(count);
  const ok = received === bytes;
  const rate = ((bytes * 8) / seconds / 1e6).toFixed(0);
  return {
    ok,
    received,
    expected: bytes,
    seconds,
    detail: ok ? `${rate} Mbit/s` : `received ${received} of ${bytes} bytes`,
  };
}

function transferFailure(expected: number, started: number, detail: string): TransferResult {
  return { ok: false, received: null, expected, seconds: (Date.now() - started) / 1000, detail };
}

/** Waits until the listener accepts connections; false when it exited or never did. */
async function waitForListener(
  endpoint: Endpoint,
  port: number,
  listener: Promise<RunResult>,
): Promise<boolean> {
  let exited = false;
  void listener.then(() => (exited = true));
  const deadline = Date.now() + LISTEN_WAIT_MS;
  while (Date.now() < deadline && !exited) {
    const { stdout } = await run(
      inside(endpoint, ["ss", "-H", "-l", "-t", "-n", `sport = :${port}`]),
    );
    if (stdout.trim() !== "") {
      return true;
    }
    await sleep(50);
  }
  return false;
}

/** Ends a listener that no sender reached, by connecting to it locally and closing at once. */
async function release(endpoint: Endpoint, port: number): Promise<void> {
  await run(inside(endpoint, ["busybox", "nc", "-w", "2", "127.0.0.1", String(port)]), {
    okCodes: ANY_EXIT_CODE,
  });
}

/**
 * Sends one don't-fragment ping whose IPv4 packet is `packetSize` bytes and reports whether
 * a reply came back. The sender's kernel rejects a packet larger than the sender's interface
 * MTU ("message too long"). A packet that fits there but not in the tunnel is lost.
 */
export async function mtuProbe(
  source: Endpoint,
  destination: Endpoint,
  packetSize: number,
  expectReply: boolean,
): Promise<MtuResult> {
  const payload = packetSize - ICMP_OVERHEAD;
  const wait = expectReply ? ["-w", "5"] : ["-W", "1"];
  const result = await run(
    inside(source, [
      "ping",
      "-n",
      "-q",
      "-M",
      "do",
      "-s",
      String(payload),
      "-c",
      "1",
      ...wait,
      destination.ip,
    ]),
    { okCodes: ANY_EXIT_CODE, timeoutMs: 15_000 },
  );
  const replied = result.code === 0;
  let detail = replied ? "reply" : "no reply";
  const tooLong = /message too long, mtu=(\d+)/.exec(result.stderr + result.stdout);
  if (tooLong) {
    detail = `rejected by the sender (interface MTU ${tooLong[1]})`;
  } else if (!replied && result.code !== 1) {
    detail = describeFailure(result);
  }
  return { ok: replied === expectReply, packetSize, replied, detail };
}

function describeFailure(result: RunResult): string {
  const text = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-1)[0] ?? "";
  return `exit code ${result.code}${text ? `: ${text}` : ""}`;
}
