// HTTP beside Socket.io: /health, /metrics (Prometheus text, or JSON when asked), and the demo page.
import type http from "node:http";
import type { Relay } from "./server.js";
import { serveDemo } from "./demo.js";

async function databaseState(relay: Relay): Promise<{ ok: boolean; latencyMs?: number; error?: string }> {
  const started = Date.now();
  try {
    await Promise.race([
      relay.db.query("health", "select 1"),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timed out after 2 s")), 2000).unref()),
    ]);
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

export async function handleHttp(relay: Relay, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");

  if (relay.config.demo && (await serveDemo(relay, url, req, res))) return;
  if (req.method !== "GET" && req.method !== "HEAD") {
    json(res, 405, { error: { code: "BAD_REQUEST", message: "only GET is served here" } });
    return;
  }

  if (url.pathname === "/health") {
    const database = await databaseState(relay);
    const redis = relay.config.redisUrl ? { ok: relay.redisReady } : { ok: true, mode: "in-memory (single node)" };
    const listen = { ok: relay.listener.connected };
    const healthy = database.ok;
    json(res, healthy ? 200 : 503, {
      status: !healthy ? "unavailable" : redis.ok && listen.ok ? "ok" : "degraded",
      nodeId: relay.config.nodeId,
      connections: relay.localConnectionCount,
      uptime: Math.round((Date.now() - relay.startedAt) / 1000),
      protocolVersion: 1,
      dependencies: { database, listen, redis },
      eventLog: { buffered: relay.eventLog.buffered },
    });
    return;
  }

  if (url.pathname === "/metrics") {
    await relay.metrics.refreshCluster(relay.db).catch(() => {});
    const wantsJson = (req.headers.accept ?? "").includes("application/json") || url.searchParams.get("format") === "json";
    if (wantsJson) {
      json(res, 200, await relay.metrics.registry.getMetricsAsJSON());
    } else {
      res.writeHead(200, { "content-type": relay.metrics.registry.contentType });
      res.end(await relay.metrics.registry.metrics());
    }
    return;
  }

  json(res, 404, { error: { code: "NOT_FOUND", message: `no route ${url.pathname}` } });
}
