import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { fail, ok, skip, warn, type CheckResult } from "./check.js";

/** TLS files for an https etcd endpoint; the system's CAs and no client certificate when absent. */
export interface ClockTlsFiles {
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
}

/** The local clock compared with an etcd member's clock. */
export interface ClockSkew {
  endpoint: string;
  /** Server time minus local time, in milliseconds. */
  offsetMs: number;
  /** How far `offsetMs` may be off: half a second of Date's rounding plus half the round trip. */
  uncertaintyMs: number;
}

/** Skew beyond the uncertainty that is reported as a warning. */
const WARN_SKEW_MS = 2000;
/**
 * Skew beyond the uncertainty that fails the check. Agents write heartbeat times with
 * their own clocks (every 5 s by default), so at 30 s a live host shows up as silent for
 * several heartbeats in `ovs-mesh hosts list`, and TLS certificates issued moments ago
 * look not yet valid.
 */
const FAIL_SKEW_MS = 30_000;

/**
 * Compares the local clock with the etcd member's. etcd has no time API, so this reads the
 * HTTP Date header of its /version response, which has a resolution of one second.
 */
export function checkClockSkew(skew: ClockSkew | Error | undefined): CheckResult {
  const id = "clock-skew";
  if (skew === undefined) {
    return skip(id, "not checked: no etcd endpoint given (--etcd)");
  }
  if (skew instanceof Error) {
    return warn(
      id,
      `not checked: ${skew.message}`,
      "check that the etcd endpoint is reachable from this host",
    );
  }
  const excess = Math.abs(skew.offsetMs) - skew.uncertaintyMs;
  const direction = skew.offsetMs > 0 ? "behind" : "ahead of";
  const seconds = (Math.abs(skew.offsetMs) / 1000).toFixed(1);
  const message = `this host's clock is ${seconds} s ${direction} ${skew.endpoint} (within ±${(skew.uncertaintyMs / 1000).toFixed(1)} s)`;
  const fix =
    "synchronise the clock with NTP (for example systemd-timesyncd or chrony) on this host and the etcd members";
  if (excess > FAIL_SKEW_MS) {
    return fail(id, message, fix);
  }
  if (excess > WARN_SKEW_MS) {
    return warn(id, message, fix);
  }
  return ok(id, message);
}

/** Measures the skew against one etcd endpoint with a GET of /version. */
export async function measureClockSkew(
  endpoint: string,
  tls: ClockTlsFiles | undefined,
  timeoutMs = 5000,
): Promise<ClockSkew> {
  const url = new URL("/version", endpoint);
  const secure = url.protocol === "https:";
  const material = secure && tls !== undefined ? await readTls(tls) : {};
  const started = Date.now();
  const date = await new Promise<string | undefined>((resolve, reject) => {
    const request = (secure ? https : http).get(
      url,
      { ...material, timeout: timeoutMs },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.headers.date));
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    request.on("error", (error) => reject(new Error(`GET ${url.href} failed: ${error.message}`)));
  });
  const finished = Date.now();
  const serverTime = date === undefined ? Number.NaN : Date.parse(date);
  if (Number.isNaN(serverTime)) {
    throw new Error(
      `GET ${url.href} returned no valid Date header (${JSON.stringify(date ?? null)})`,
    );
  }
  // Date is truncated to the second, so the server's time lies in [Date, Date + 1 s).
  const roundTrip = finished - started;
  return {
    endpoint,
    offsetMs: Math.round(serverTime + 500 - (started + finished) / 2),
    uncertaintyMs: 500 + Math.ceil(roundTrip / 2),
  };
}

async function readTls(
  files: ClockTlsFiles,
): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer }> {
  const read = (path: string | undefined) => (path === undefined ? undefined : readFile(path));
  const [ca, cert, key] = await Promise.all([read(files.ca), read(files.cert), read(files.key)]);
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}
