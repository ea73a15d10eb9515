import { errorCode } from "./lock.js";

/** An error response from an etcd member, such as "etcdserver: requested lease not found". */
export class EtcdError extends Error {
  constructor(
    readonly endpoint: string,
    /** gRPC status code that etcd returned (5 not found, 14 unavailable, ...). */
    readonly grpcCode: number | undefined,
    readonly detail: string,
  ) {
    super(`etcd at ${endpoint} returned an error: ${detail}`);
    this.name = "EtcdError";
  }
}

/** No endpoint responded: each was unreachable, rejected the connection or had no leader. */
export class EtcdUnavailableError extends Error {
  constructor(readonly failures: readonly { endpoint: string; message: string }[]) {
    super(
      `no etcd endpoint responded: ${failures
        .map((failure) => `${failure.endpoint}: ${failure.message}`)
        .join("; ")}`,
    );
    this.name = "EtcdUnavailableError";
  }
}

/** gRPC status that etcd returns when a member has no leader or its request timed out. */
export const GRPC_UNAVAILABLE = 14;

/**
 * Node.js error codes of a TLS failure, each with what to check. The peer's alerts, such
 * as a missing client certificate, arrive as EPROTO or ECONNRESET with OpenSSL's text.
 */
const TLS_HINTS: readonly { match: (code: string, message: string) => boolean; hint: string }[] = [
  {
    match: (code) =>
      [
        "SELF_SIGNED_CERT_IN_CHAIN",
        "DEPTH_ZERO_SELF_SIGNED_CERT",
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
      ].includes(code),
    hint: "the server certificate is not signed by a trusted CA: pass the CA file that signed it",
  },
  {
    match: (code) => code === "ERR_TLS_CERT_ALTNAME_INVALID",
    hint: "the server certificate does not name this address: use the address in its subjectAltName",
  },
  {
    match: (code) => code === "CERT_HAS_EXPIRED",
    hint: "a certificate has expired: renew it",
  },
  {
    match: (_code, message) =>
      /certificate required|handshake failure|bad certificate/.test(message),
    hint: "the server rejected the TLS handshake: pass a client certificate and key signed by a CA that the server trusts",
  },
  {
    match: (_code, message) => /wrong version number|packet length too long/.test(message),
    hint: "the endpoint does not speak TLS: use an http:// URL for it",
  },
];

/** Describes a transport error from node's http or https module, with a fix for TLS failures. */
export function describeTransportError(error: unknown): string {
  const code = errorCode(error) ?? "";
  let message = (error instanceof Error ? error.message : String(error)).trim();
  // OpenSSL reports an alert from the peer as "<id>:error:<code>:SSL routines:<function>:
  // sslv3 alert bad certificate:<source file>:<line>:SSL alert number 42".
  const alert = /:(?:sslv3|tlsv1|tlsv13) alert ([a-z ]+):/.exec(message);
  if (alert?.[1] !== undefined) {
    message = `the server sent the TLS alert "${alert[1]}"`;
  }
  const tls = TLS_HINTS.find((entry) => entry.match(code, message));
  return tls === undefined ? message : `${message} (${tls.hint})`;
}
