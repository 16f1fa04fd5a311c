// GET /metrics: Prometheus text, or JSON when asked (Accept: application/json or ?format=json).
import type http from "node:http";
import type { Db } from "../../lib/db.js";
import type { Metrics } from "../metrics.js";
import { json } from "./json.js";

export async function serveMetrics(metrics: Metrics, db: Db, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  metrics.refreshPool(db);
  // With every pooled connection in use the cluster numbers would wait for one: keep the last.
  if (!db.saturated) await metrics.refreshCluster(db).catch(() => {});
  const wantsJson = (req.headers.accept ?? "").includes("application/json") || url.searchParams.get("format") === "json";
  if (wantsJson) {
    json(res, 200, await metrics.registry.getMetricsAsJSON());
  } else {
    res.writeHead(200, { "content-type": metrics.registry.contentType });
    res.end(await metrics.registry.metrics());
  }
}
