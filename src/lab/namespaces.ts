import { run, type RunOptions, type RunResult } from "../host/exec.js";

/** Returns the names of all named network namespaces (`ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await run(["ip", "-j", "netns", "list"]);
  if (stdout.trim() === "") {
    return [];
  }
  const entries: unknown = JSON.parse(stdout);
  if (!Array.isArray(entries)) {
    throw new TypeError(`ip -j netns list printed ${stdout.slice(0, 80)}, expected a list`);
  }
  return entries.flatMap((entry: unknown) =>
    typeof entry === "object" && entry !== null && "name" in entry && typeof entry.name === "string"
      ? [entry.name]
      : [],
  );
}

/**
 * Creates a network namespace and turns IPv6 off in it. The overlay carries IPv4 only and
 * its flows drop everything else, so IPv6 link-local traffic would only add noise to the
 * OVS flow dumps and counters.
 */
export async function addNamespace(name: string): Promise<void> {
  await run(["ip", "netns", "add", name]);
  await runIn(name, [
    "sysctl",
    "-q",
    "-w",
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
  ]);
  await runIp(name, ["link", "set", "lo", "up"]);
}

/** Removes a network namespace; its devices go with it, veth peers included. */
export async function deleteNamespace(name: string): Promise<void> {
  await run(["ip", "netns", "delete", name]);
}

/** Returns the ids of the processes whose network namespace is `name`. */
export async function namespacePids(name: string): Promise<number[]> {
  const { stdout } = await run(["ip", "netns", "pids", name]);
  return stdout
    .split("\n")
    .filter((line) => /^\d+$/.test(line.trim()))
    .map((line) => Number(line.trim()));
}

/** Returns the argv that runs `argv` inside the named network namespace. */
export function inNamespace(name: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", name, ...argv];
}

/** Runs a program inside the named network namespace. */
export function runIn(
  name: string,
  argv: readonly string[],
  options?: RunOptions,
): Promise<RunResult> {
  return run(inNamespace(name, argv), options);
}

/** Runs `ip -n NAME ARGS...`: an `ip` command applied to the named namespace. */
export function runIp(name: string, args: readonly string[]): Promise<RunResult> {
  return run(["ip", "-n", name, ...args]);
}

/** Returns the MTU of a device in a namespace, or undefined when the device does not exist. */
export async function deviceMtu(name: string, device: string): Promise<number | undefined> {
  const { stdout, code } = await run(["ip", "-n", name, "-j", "link", "show", "dev", device], {
    okCodes: [0, 1],
  });
  if (code !== 0) {
    return undefined;
  }
  const links: unknown = JSON.parse(stdout);
  if (!Array.isArray(links)) {
    return undefined;
  }
  const first: unknown = links[0];
  if (typeof first === "object" && first !== null && "mtu" in first) {
    return typeof first.mtu === "number" ? first.mtu : undefined;
  }
  return undefined;
}
