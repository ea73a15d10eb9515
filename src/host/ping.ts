import { run } from "./exec.js";

/** Result of one ICMP echo exchange. */
export interface PingResult {
  /** Whether an echo reply arrived in time. */
  answered: boolean;
  /** Round-trip time in seconds; undefined when no reply arrived. */
  rttSeconds: number | undefined;
  /** Error that kept ping from sending, such as a missing source address; undefined otherwise. */
  error: string | undefined;
}

/** Sends one echo request from `source` to `destination` and waits for the reply. */
export type PingFunction = (source: string, destination: string) => Promise<PingResult>;

/** Seconds that one echo request waits for its reply. */
const REPLY_TIMEOUT_SECONDS = "1";

/** iputils ping exit codes: 0 a reply arrived, 1 no reply, 2 any other error. */
const EXIT_ANSWERED = 0;
const EXIT_NO_REPLY = 1;

/**
 * Sends one ICMP echo request with iputils `ping`, bound to the local address `source`, so
 * that the request leaves through the overlay like a container's packet would. Node has no
 * raw or ICMP datagram sockets, so the probe runs the system's ping.
 */
export async function ping(source: string, destination: string): Promise<PingResult> {
  const result = await run(
    ["ping", "-n", "-q", "-c", "1", "-W", REPLY_TIMEOUT_SECONDS, "-I", source, destination],
    { okCodes: [0, 1, 2], timeoutMs: 5000 },
  );
  if (result.code === EXIT_ANSWERED) {
    return { answered: true, rttSeconds: parsePingRtt(result.stdout), error: undefined };
  }
  if (result.code === EXIT_NO_REPLY) {
    return { answered: false, rttSeconds: undefined, error: undefined };
  }
  const message = result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`;
  return { answered: false, rttSeconds: undefined, error: message };
}

/**
 * Reads the average round-trip time in seconds from the summary line that iputils ping
 * prints, "rtt min/avg/max/mdev = 0.417/0.502/0.547/0.060 ms". Undefined when it is absent.
 */
export function parsePingRtt(output: string): number | undefined {
  const match =
    /(?:rtt|round-trip) min\/avg\/max(?:\/mdev)? = [\d.]+\/([\d.]+)\/[\d.]+(?:\/[\d.]+)? ms/.exec(
      output,
    );
  if (match?.[1] === undefined) {
    return undefined;
  }
  const milliseconds = Number(match[1]);
  return Number.isFinite(milliseconds) ? milliseconds / 1000 : undefined;
}
