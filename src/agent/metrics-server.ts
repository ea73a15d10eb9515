import { createServer, type Server } from "node:http";
import type { AgentMetrics } from "./metrics.js";

/**
 * Serves GET /metrics (Prometheus text format) and GET /healthz ("ok" once the agent has
 * reconciled without error since its last failure, 503 otherwise).
 */
export function serveMetrics(
  host: string,
  port: number,
  hostName: string,
  metrics: AgentMetrics,
  healthy: () => boolean,
): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method === "GET" && request.url === "/metrics") {
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      response.end(metrics.render(hostName));
    } else if (request.method === "GET" && request.url === "/healthz") {
      const ok = healthy();
      response.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
      response.end(ok ? "ok\n" : "not converged\n");
    } else {
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("not found: try /metrics or /healthz\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
