// A JSON answer over plain node:http, never cached: the relay's /health, /metrics errors and the
// demo page's routes.
import type http from "node:http";

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}
