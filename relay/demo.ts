// The demo page (GET /): placeholder until the demo issue lands.
import type http from "node:http";
import type { Relay } from "./server.js";

export async function serveDemo(_relay: Relay, url: URL, res: http.ServerResponse): Promise<boolean> {
  if (url.pathname !== "/") return false;
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
  res.end("Realtime relay. See /health and /metrics.\n");
  return true;
}
