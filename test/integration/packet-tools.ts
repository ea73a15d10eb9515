import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { run } from "../../src/host/exec.js";

// Small packet programs for the tests, run with Debian's python3 inside lab namespaces: a UDP
// listener and sender, a GRE forger and an ARP sender and sniffer. Each listener writes a
// ready file once its socket is bound, so that the test sends only after that.

const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, code) => code);
const READY_WAIT_MS = 5_000;

/** Prints {"SOURCE": COUNT, ...} for the UDP datagrams that reach PORT within SECONDS. */
const UDP_LISTEN = String.raw`
import json, socket, sys, time
port, seconds, ready = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", port))
open(ready, "w").close()
sources = {}
deadline = time.monotonic() + seconds
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    sock.settimeout(left)
    try:
        data, (address, _) = sock.recvfrom(2048)
    except socket.timeout:
        break
    sources[address] = sources.get(address, 0) + 1
print(json.dumps(sources))
`;

/** Sends COUNT UDP datagrams from SOURCE (an address of this namespace) to DESTINATION:PORT. */
const UDP_SEND = String.raw`
import socket, sys, time
source, destination, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((source, 0))
for i in range(count):
    sock.sendto(b"ovs-mesh test %d" % i, (destination, port))
    time.sleep(0.01)
`;

/**
 * Sends COUNT GRE packets that carry an Ethernet frame (GRE protocol 0x6558, as OVS's gre
 * ports send) with a UDP datagram inside. The outer IPv4 header is written by hand
 * (IP_HDRINCL), so the outer source can be any address.
 */
const GRE_FORGE = String.raw`
import socket, struct, sys, time
outer_source, outer_destination, inner_mac, inner_source, inner_destination = sys.argv[1:6]
port, count = int(sys.argv[6]), int(sys.argv[7])

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

def ipv4(source, destination, protocol, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, protocol,
                         0, socket.inet_aton(source), socket.inet_aton(destination))
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload

udp = struct.pack("!HHHH", 40000, port, 8 + 6, 0) + b"forged"
frame = (bytes.fromhex(inner_mac.replace(":", "")) + bytes.fromhex("020000000001") + b"\x08\x00"
         + ipv4(inner_source, inner_destination, 17, udp))
packet = ipv4(outer_source, outer_destination, 47, struct.pack("!HH", 0, 0x6558) + frame)
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(count):
    sock.sendto(packet, (outer_destination, 0))
    time.sleep(0.01)
`;

/** Broadcasts COUNT ARP requests for TARGET on INTERFACE with SENDER as the sender address. */
const ARP_SEND = String.raw`
import socket, struct, sys, time
interface, sender, target, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((interface, 0))
mac = sock.getsockname()[4][:6]
request = (b"\xff" * 6 + mac + b"\x08\x06"
           + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
           + mac + socket.inet_aton(sender) + b"\0" * 6 + socket.inet_aton(target))
for _ in range(count):
    sock.send(request)
    time.sleep(0.05)
`;

/**
 * Prints {"count": N}: the ARP packets for TARGET seen on INTERFACE within SECONDS. The socket
 * takes every protocol (ETH_P_ALL), because a bridge port hands its frames to the bridge
 * before protocol-specific sockets see them.
 */
const ARP_SNIFF = String.raw`
import json, socket, sys, time
interface, target, seconds, ready = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sock.bind((interface, 0))
open(ready, "w").close()
expected = socket.inet_aton(target)
count = 0
deadline = time.monotonic() + seconds
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    sock.settimeout(left)
    try:
        frame = sock.recv(2048)
    except socket.timeout:
        break
    if len(frame) >= 42 and frame[12:14] == b"\x08\x06" and frame[38:42] == expected:
        count += 1
print(json.dumps({"count": count}))
`;

function python(namespacePath: string, script: string, args: readonly (string | number)[]) {
  return ["nsenter", `--net=${namespacePath}`, "python3", "-c", script, ...args.map(String)];
}

async function runPython(
  namespacePath: string,
  script: string,
  args: readonly (string | number)[],
  timeoutMs: number,
): Promise<string> {
  const result = await run(python(namespacePath, script, args), {
    okCodes: ANY_EXIT_CODE,
    timeoutMs,
  });
  if (result.code !== 0) {
    throw new Error(`python3 in ${namespacePath} exited with ${result.code}: ${result.stderr}`);
  }
  return result.stdout;
}

/** A listener running in the background; `result` settles when its time is up. */
export interface Listener<T> {
  result: Promise<T>;
}

/**
 * Starts a listener program and resolves once it has written its ready file, so that
 * packets sent afterwards are seen. The program's output is parsed as JSON.
 */
async function startListener<T>(
  namespacePath: string,
  script: string,
  args: readonly (string | number)[],
  seconds: number,
): Promise<Listener<T>> {
  const dir = await mkdtemp(join(tmpdir(), "omt-packets-"));
  const ready = join(dir, "ready");
  const output = runPython(
    namespacePath,
    script,
    [...args, seconds, ready],
    seconds * 1000 + 10_000,
  );
  const result = output
    .then((text) => JSON.parse(text) as T)
    .finally(() => rm(dir, { recursive: true, force: true }));
  // A listener that fails to start ends its output early; the race reports that failure.
  const started = waitForFile(ready, READY_WAIT_MS);
  await Promise.race([started, result]);
  await started;
  return { result };
}

async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(path);
      return;
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === "ENOENT")) {
        throw error;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`listener wrote no ready file ${path} within ${timeoutMs} ms`);
    }
    await sleep(20);
  }
}

/** Counts UDP datagrams per source address that reach `port` within `seconds`. */
export function listenUdp(
  namespacePath: string,
  port: number,
  seconds: number,
): Promise<Listener<Record<string, number>>> {
  return startListener(namespacePath, UDP_LISTEN, [port], seconds);
}

/** Counts ARP packets for `target` on `device` within `seconds`. */
export function sniffArp(
  namespacePath: string,
  device: string,
  target: string,
  seconds: number,
): Promise<Listener<{ count: number }>> {
  return startListener(namespacePath, ARP_SNIFF, [device, target], seconds);
}

/** Sends `count` UDP datagrams from `source`, which must be an address of the namespace. */
export async function sendUdp(
  namespacePath: string,
  source: string,
  destination: string,
  port: number,
  count: number,
): Promise<void> {
  await runPython(namespacePath, UDP_SEND, [source, destination, port, count], 30_000);
}

/** What a forged GRE packet carries: outer addresses and the inner frame's target. */
export interface ForgedGre {
  outerSource: string;
  outerDestination: string;
  innerMac: string;
  innerSource: string;
  innerDestination: string;
  port: number;
}

/** Sends `count` forged GRE packets, each carrying one UDP datagram. */
export async function forgeGre(
  namespacePath: string,
  packet: ForgedGre,
  count: number,
): Promise<void> {
  const args = [
    packet.outerSource,
    packet.outerDestination,
    packet.innerMac,
    packet.innerSource,
    packet.innerDestination,
    packet.port,
    count,
  ];
  await runPython(namespacePath, GRE_FORGE, args, 30_000);
}

/** Broadcasts `count` ARP requests for `target` with `sender` as the sender address. */
export async function sendArp(
  namespacePath: string,
  device: string,
  sender: string,
  target: string,
  count: number,
): Promise<void> {
  await runPython(namespacePath, ARP_SEND, [device, sender, target, count], 30_000);
}
