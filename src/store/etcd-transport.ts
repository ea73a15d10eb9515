import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import {
  EtcdError,
  EtcdUnavailableError,
  GRPC_UNAVAILABLE,
  describeTransportError,
} from "./etcd-errors.js";

/** Files for TLS to etcd. A client certificate and key are needed when etcd checks clients. */
export interface EtcdTlsFiles {
  /** CA certificate (PEM) that signed the etcd server certificates; the system's CAs when undefined. */
  ca: string | undefined;
  /** Client certificate (PEM); undefined to connect without one. */
  cert: string | undefined;
  /** Private key (PEM) of the client certificate. */
  key: string | undefined;
}

/** Options for {@link EtcdTransport}. */
export interface EtcdTransportOptions {
  /** Client URLs of etcd members, such as "https://10.0.0.5:2379", tried in order. */
  endpoints: readonly string[];
  tls: EtcdTlsFiles | undefined;
  /** Milliseconds before one request to one member is abandoned; 5000 when absent. */
  requestTimeoutMs?: number;
}

/** TLS material as node's https module takes it. */
interface TlsMaterial {
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
}

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * JSON POSTs to etcd members over HTTP or HTTPS. Each call tries the endpoints in turn,
 * starting with the last one that responded, and moves on when one cannot be reached or
 * reports that it has no leader (gRPC status UNAVAILABLE).
 */
export class EtcdTransport {
  private readonly endpoints: readonly URL[];
  private readonly timeoutMs: number;
  private readonly agent: http.Agent;
  private tlsMaterial: Promise<TlsMaterial | undefined> | undefined;
  private current = 0;

  constructor(private readonly options: EtcdTransportOptions) {
    if (options.endpoints.length === 0) {
      throw new TypeError("an etcd client needs at least one endpoint");
    }
    this.endpoints = options.endpoints.map((endpoint) => parseEndpoint(endpoint));
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const secure = this.endpoints.some((endpoint) => endpoint.protocol === "https:");
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 16 })
      : new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  /** POSTs `body` as JSON to `path` and returns the parsed response. */
  async call(path: string, body: unknown): Promise<Record<string, unknown>> {
    const tls = await this.loadTls();
    const payload = JSON.stringify(body);
    return this.eachEndpoint(
      (endpoint) => this.post(endpoint, path, payload, tls),
      // Any other etcd error, such as a failed compare or a missing lease, is the same
      // on every member.
      (error) => !(error instanceof EtcdError) || error.grpcCode === GRPC_UNAVAILABLE,
    );
  }

  /** POSTs `body` as JSON to `path` and returns the response stream once it starts. */
  async openStream(path: string, body: unknown): Promise<http.IncomingMessage> {
    const tls = await this.loadTls();
    const payload = JSON.stringify(body);
    return this.eachEndpoint(
      (endpoint) => this.connectStream(endpoint, path, payload, tls),
      () => true,
    );
  }

  /** Closes idle connections; calls in flight finish. */
  close(): void {
    this.agent.destroy();
  }

  private async eachEndpoint<T>(
    attempt: (endpoint: URL) => Promise<T>,
    tryNext: (error: unknown) => boolean,
  ): Promise<T> {
    const failures: { endpoint: string; message: string }[] = [];
    for (let offset = 0; offset < this.endpoints.length; offset++) {
      const index = (this.current + offset) % this.endpoints.length;
      const endpoint = this.endpoints[index];
      if (endpoint === undefined) {
        continue;
      }
      try {
        const result = await attempt(endpoint);
        this.current = index;
        return result;
      } catch (error) {
        if (!tryNext(error)) {
          throw error;
        }
        failures.push({ endpoint: endpoint.origin, message: describeFailure(endpoint, error) });
      }
    }
    throw new EtcdUnavailableError(failures);
  }

  private post(
    endpoint: URL,
    path: string,
    payload: string,
    tls: TlsMaterial | undefined,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const request = this.request(endpoint, path, payload, tls, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString("utf8");
          try {
            resolve(parseResponse(endpoint.origin, response.statusCode ?? 0, text));
          } catch (error) {
            reject(error);
          }
        });
      });
      const timer = setTimeout(() => {
        request.destroy(new Error(`timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      request.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      request.end(payload);
    });
  }

  private connectStream(
    endpoint: URL,
    path: string,
    payload: string,
    tls: TlsMaterial | undefined,
  ): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const request = this.request(endpoint, path, payload, tls, (response) => {
        clearTimeout(timer);
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`HTTP status ${response.statusCode ?? "unknown"} for ${path}`));
          return;
        }
        resolve(response);
      });
      // Only the start is timed, because a watch stream stays open until it is cancelled.
      const timer = setTimeout(() => {
        request.destroy(new Error(`timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      request.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      request.end(payload);
    });
  }

  private request(
    endpoint: URL,
    path: string,
    payload: string,
    tls: TlsMaterial | undefined,
    onResponse: (response: http.IncomingMessage) => void,
  ): http.ClientRequest {
    const options: https.RequestOptions = {
      host: endpoint.hostname,
      port: endpoint.port,
      path,
      method: "POST",
      agent: this.agent,
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(payload),
      },
    };
    if (endpoint.protocol === "https:") {
      return https.request({ ...options, ...tlsOptions(tls) }, onResponse);
    }
    return http.request(options, onResponse);
  }

  private loadTls(): Promise<TlsMaterial | undefined> {
    // A failed read is not kept, so that files fixed later are read on the next call.
    this.tlsMaterial ??= readTlsFiles(this.options.tls).catch((error: unknown) => {
      this.tlsMaterial = undefined;
      throw error;
    });
    return this.tlsMaterial;
  }
}

/** Parses an endpoint URL; only http and https URLs with a host and no path are accepted. */
export function parseEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (error) {
    if (error instanceof TypeError) {
      throw new TypeError(
        `invalid etcd endpoint ${JSON.stringify(endpoint)}: write a URL such as http://127.0.0.1:2379`,
      );
    }
    throw error;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw new TypeError(
      `invalid etcd endpoint ${JSON.stringify(endpoint)}: expected an http:// or https:// URL with a host`,
    );
  }
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") {
    throw new TypeError(
      `invalid etcd endpoint ${JSON.stringify(endpoint)}: give only scheme, host and port, such as https://10.0.0.5:2379`,
    );
  }
  return url;
}

function describeFailure(endpoint: URL, error: unknown): string {
  const message = describeTransportError(error);
  // etcd 3.4 closes the connection without a response when plain HTTP reaches a TLS port.
  if (endpoint.protocol === "http:" && message === "socket hang up") {
    return `${message} (if the endpoint serves TLS, use an https:// URL for it)`;
  }
  return message;
}

function tlsOptions(tls: TlsMaterial | undefined): https.RequestOptions {
  if (tls === undefined) {
    return {};
  }
  return {
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  };
}

async function readTlsFiles(files: EtcdTlsFiles | undefined): Promise<TlsMaterial | undefined> {
  if (files === undefined) {
    return undefined;
  }
  const [ca, cert, key] = await Promise.all([
    readPem(files.ca, "CA"),
    readPem(files.cert, "client certificate"),
    readPem(files.key, "client key"),
  ]);
  return { ca, cert, key };
}

async function readPem(path: string | undefined, role: string): Promise<Buffer | undefined> {
  if (path === undefined) {
    return undefined;
  }
  try {
    return await readFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot read the etcd ${role} file ${path}: ${reason}`);
  }
}

function parseResponse(endpoint: string, status: number, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new EtcdError(
        endpoint,
        undefined,
        `HTTP status ${status} with a body that is not JSON: ${text.slice(0, 200).trim()}`,
      );
    }
    throw error;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new EtcdError(
      endpoint,
      undefined,
      `HTTP status ${status} with an unexpected body: ${text.slice(0, 200)}`,
    );
  }

  const object = value as Record<string, unknown>;
  if (status !== 200 || object.error !== undefined) {
    const code = typeof object.code === "number" ? object.code : undefined;
    const message = typeof object.message === "string" ? object.message : text.slice(0, 200);
    throw new EtcdError(endpoint, code, message);
  }
  return object;
}
