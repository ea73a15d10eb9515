import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { run } from "../../src/host/exec.js";
import { destroyLab } from "../../src/lab/down.js";
import type { Lab, LabContainer, LabHost } from "../../src/lab/lab.js";
import { namespacePath } from "../../src/lab/names.js";
import {
  attachToUnderlay,
  deleteTestNamespace,
  firstContainer,
  flowCounters,
  inContainer,
  labHost,
  labUp,
  macAddress,
  packetsOf,
  type FlowCounter,
} from "./fault-lab.js";
import { forgeGre, listenUdp, sendArp, sendUdp, sniffArp } from "./packet-tools.js";

// Hostile packets against a three-host lab, in flow and in port mode: containers that send
// with another host's address, ARP aimed at one host, and GRE forged by a machine on the
// underlay that is not a member. Counters of the OpenFlow rules show where each packet died,
// and listeners in the target namespaces show that nothing arrived.

const LAB = "t-spoof";
const FORGER = "omt-spoof-forger";
const FORGER_ADDRESS = "198.18.0.200";
const COUNT = 10;
const PORT = 7000;
const LISTEN_SECONDS = 3;

// The lab gives host i the subnet 10.240.(i+1).0/24 and the underlay address 198.18.0.(10+i).
const HOST0_UNDERLAY = "198.18.0.10";
const HOST1_UNDERLAY = "198.18.0.11";

function delta(before: FlowCounter[], after: FlowCounter[], table: number, match: string) {
  return packetsOf(after, table, match) - packetsOf(before, table, match);
}

/** Adds an address to a container's eth0 for the duration of `action`. */
async function withAddress(
  container: LabContainer,
  address: string,
  action: () => Promise<void>,
): Promise<void> {
  const device = ["ip", "address", "add", `${address}/32`, "dev", "eth0"];
  const added = await inContainer(container, device);
  assert.equal(added.code, 0, added.stderr);
  try {
    await action();
  } finally {
    await inContainer(container, ["ip", "address", "del", `${address}/32`, "dev", "eth0"]);
  }
}

after(async () => {
  await deleteTestNamespace(FORGER);
  await destroyLab(LAB);
});

for (const mode of ["flow", "port"] as const) {
  describe(`spoofing in ${mode} mode`, () => {
    let lab: Lab;
    let host0: LabHost;
    let host1: LabHost;
    let host2: LabHost;
    let c0: LabContainer;

    before(async () => {
      await deleteTestNamespace(FORGER);
      lab = await labUp(LAB, ["--hosts", "3", "--containers", "1", "--mode", mode]);
      host0 = labHost(lab, "host0");
      host1 = labHost(lab, "host1");
      host2 = labHost(lab, "host2");
      c0 = firstContainer(host0);
    });

    // Runs first, while host0 and host1 have exchanged no traffic, so that no ARP refresh
    // between them can blur the counters.
    test("ARP reaches only the owner's host", async () => {
      const target = "10.240.3.77";
      // OVS drops the first packet to a peer while it resolves the peer's underlay MAC, so
      // one ARP for another address of host2's subnet goes first.
      await sendArp(c0.namespacePath, "eth0", c0.ip, "10.240.3.76", 1);
      await sleep(500);
      const host1Before = await flowCounters(host1);
      const host2Before = await flowCounters(host2);
      const sniff1 = await sniffArp(namespacePath(host1.namespace), "br0", target, LISTEN_SECONDS);
      const sniff2 = await sniffArp(namespacePath(host2.namespace), "br0", target, LISTEN_SECONDS);

      await sendArp(c0.namespacePath, "eth0", c0.ip, target, COUNT);

      assert.equal((await sniff1.result).count, 0, "ARP for host2's subnet seen on host1");
      assert.equal((await sniff2.result).count, COUNT, "ARP for host2's subnet lost");
      const host1After = await flowCounters(host1);
      const host2After = await flowCounters(host2);
      const from0 = mode === "flow" ? `tun_src=${HOST0_UNDERLAY}` : "in_port=gre-c612000a";
      assert.equal(delta(host1Before, host1After, 10, `arp,${from0},arp_spa=10.240.1.0/24`), 0);
      assert.equal(delta(host2Before, host2After, 10, `arp,${from0},arp_spa=10.240.1.0/24`), COUNT);
    });

    test("ARP with another host's sender address is dropped", async () => {
      const target = "10.240.3.78";
      const before0 = await flowCounters(host0);
      const sniff2 = await sniffArp(namespacePath(host2.namespace), "br0", target, LISTEN_SECONDS);

      await sendArp(c0.namespacePath, "eth0", "10.240.2.99", target, COUNT);

      assert.equal((await sniff2.result).count, 0);
      const dropped = delta(before0, await flowCounters(host0), 20, "");
      assert.ok(dropped >= COUNT, `table 20 dropped ${dropped} packets, expected ${COUNT} or more`);
    });

    test("container with a foreign source address is dropped", async () => {
      const receiver = firstContainer(host1);
      // Another host's subnet, the receiver's own subnet, and an address outside the range.
      const spoofed = ["10.240.3.99", "10.240.2.99", "10.250.0.9"];
      const before0 = await flowCounters(host0);
      const before1 = await flowCounters(host1);
      const listener = await listenUdp(receiver.namespacePath, PORT, LISTEN_SECONDS);

      // The genuine datagrams prove that the listener and the path work.
      await sendUdp(c0.namespacePath, c0.ip, receiver.ip, PORT, COUNT);
      for (const address of spoofed) {
        await withAddress(c0, address, () =>
          sendUdp(c0.namespacePath, address, receiver.ip, PORT, COUNT),
        );
      }

      assert.deepEqual(await listener.result, { [c0.ip]: COUNT });
      const dropped = delta(before0, await flowCounters(host0), 20, "");
      assert.ok(
        dropped >= spoofed.length * COUNT,
        `table 20 of host0 dropped ${dropped} packets, expected ${spoofed.length * COUNT} or more`,
      );
      const from0 = mode === "flow" ? `tun_src=${HOST0_UNDERLAY}` : "in_port=gre-c612000a";
      const delivered = delta(
        before1,
        await flowCounters(host1),
        10,
        `ip,${from0},nw_src=10.240.1.0/24`,
      );
      assert.equal(
        delivered,
        COUNT,
        "host1 received other packets from host0 than the genuine ones",
      );
    });

    test("GRE from a non-member of the underlay is dropped", async () => {
      await attachToUnderlay(lab, FORGER, "forger", `${FORGER_ADDRESS}/24`);
      const forger = namespacePath(FORGER);
      try {
        // Resolves host0's MAC first, so that no forged packet waits in the ARP queue.
        const warm = await run([
          "nsenter",
          `--net=${forger}`,
          "ping",
          "-c",
          "1",
          "-W",
          "2",
          HOST0_UNDERLAY,
        ]);
        assert.equal(warm.code, 0, warm.stdout);

        const innerMac = await macAddress(c0.namespacePath, "eth0");
        const packet = {
          outerDestination: HOST0_UNDERLAY,
          innerMac,
          innerSource: "10.240.2.2",
          innerDestination: c0.ip,
          port: PORT,
        };
        const before0 = await flowCounters(host0);
        const listener = await listenUdp(c0.namespacePath, PORT, LISTEN_SECONDS);
        await forgeGre(forger, { ...packet, outerSource: FORGER_ADDRESS }, COUNT);
        assert.deepEqual(await listener.result, {});

        if (mode === "flow") {
          // The flow-mode port takes GRE from anyone; table 10 drops unknown tunnel sources.
          const dropped = delta(before0, await flowCounters(host0), 10, "");
          assert.equal(dropped, COUNT, "table 10 of host0 dropped another number of packets");
        }

        // NOTE: GRE carries no authentication, so a packet that bears a member's underlay
        // address passes. This control proves that the forged packets are well formed.
        const control = await listenUdp(c0.namespacePath, PORT, LISTEN_SECONDS);
        await forgeGre(forger, { ...packet, outerSource: HOST1_UNDERLAY }, COUNT);
        assert.deepEqual(await control.result, { "10.240.2.2": COUNT });
      } finally {
        await deleteTestNamespace(FORGER);
      }
    });
  });
}
