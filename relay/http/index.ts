// HTTP beside Socket.io: /health, /metrics, /client.js (the client SDK for browsers), and the demo
// page with its token endpoint.
import { existsSync, readFileSync } from "node:fs";
import type http from "node:http";
import { fileURLToPath } from "node:url";
import type { Db } from "../../lib/db.js";
import type { Logger } from "../../lib/logger.js";
import type { Metrics } from "../metrics.js";
import { serveDemo, type DemoOptions } from "./demo.js";
import { serveHealth, type HealthSources } from "./health.js";
import { json } from "./json.js";
import { serveMetrics } from "./metrics.js";

export interface HttpContext {
  readonly db: Db;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Undefined: the demo page is off. */
  readonly demo: DemoOptions | undefined;
  /** Read at each /health request. */
  health(): HealthSources;
}

export async function handleHttp(ctx: HttpContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");

  if (ctx.demo && (await serveDemo(ctx.demo, url, req, res))) return;
  if (req.method !== "GET" && req.method !== "HEAD") {
    json(res, 405, { error: { code: "BAD_REQUEST", message: "only GET is served here" } });
    return;
  }
  if (url.pathname === "/health") return serveHealth(ctx.health(), res);
  if (url.pathname === "/metrics") return serveMetrics(ctx.metrics, ctx.db, url, req, res);
  if (url.pathname === "/client.js") return serveClientBundle(req, res);
  json(res, 404, { error: { code: "NOT_FOUND", message: `no route ${url.pathname}` } });
}

let clientBundle: Buffer | undefined;

/**
 * GET /client.js: the client SDK with socket.io-client as one ES module (`npm run build` writes it
 * to dist/client/realtime-client.js), for `import { RealtimeClient } from "/client.js"` in a page.
 */
function serveClientBundle(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (!clientBundle) {
    // From the sources (relay/http/) or from the build (dist/relay/http/).
    for (const candidate of ["../../dist/client/realtime-client.js", "../../client/realtime-client.js"]) {
      const file = fileURLToPath(new URL(candidate, import.meta.url));
      if (existsSync(file)) {
        clientBundle = readFileSync(file);
        break;
      }
    }
  }
  if (!clientBundle) {
    json(res, 404, { error: { code: "NOT_FOUND", message: "the client bundle is not built (npm run build writes dist/client/realtime-client.js)" } });
    return;
  }
  res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache", "content-length": clientBundle.length });
  res.end(req.method === "HEAD" ? undefined : clientBundle);
}

/** The request listener: a handler that fails answers 500 INTERNAL. */
export function httpListener(ctx: HttpContext): http.RequestListener {
  return (req, res) => {
    handleHttp(ctx, req, res).catch((err: unknown) => {
      ctx.log.error({ err }, "http handler failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "INTERNAL", message: "internal error" } }));
    });
  };
}
