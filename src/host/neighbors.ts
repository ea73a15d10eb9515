import { run } from "./exec.js";

/** Deletes the neighbor (ARP) entries of `device` whose addresses are in `prefix`. */
export async function flushNeighbors(device: string, prefix: string): Promise<void> {
  await run(["ip", "neigh", "flush", "dev", device, "to", prefix]);
}
