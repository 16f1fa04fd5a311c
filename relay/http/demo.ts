// The demo page (GET /, files in relay/demo/ served as they are): a small chat client on the client
// SDK (GET /client.js), for a first look at the server and as a manual test tool. Off with
// REALTIME_DEMO=false and by default in production. Tokens: the page mints one through
// POST /demo/token only when the server signs with its own development secret (embedded mode) or
// REALTIME_DEMO_TOKENS=true; otherwise it explains how to get one and takes a pasted token. The page
// asks with an empty body whether it may mint: 403 (checked first) means no, 400 means yes.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type http from "node:http";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { mintToken } from "../../lib/token.js";
import { json } from "./json.js";

export interface DemoOptions {
  /** The HS256 secret the page may mint tokens with; undefined: it may not. */
  tokenSecret: string | undefined;
  /** REALTIME_DEMO_TOKENS: clients other than this machine's may mint tokens. */
  tokensForAnyone: boolean;
}

/** relay/demo/, from the sources (relay/http/) or from the build (dist/relay/http/). */
function demoDirectory(): string {
  for (const candidate of ["../demo/", "../../../relay/demo/"]) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  throw new Error("the demo page's files (relay/demo/) are missing");
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};
let files: Map<string, { file: string; type: string }> | undefined;
const cache = new Map<string, Buffer>();

/**
 * The routes: GET / is index.html, GET /demo/NAME every other file in relay/demo/ with a known type,
 * as listed once. Only listed names are served, so no path (../, %2F) reaches another file.
 */
function demoRoutes(): Map<string, { file: string; type: string }> {
  if (files) return files;
  const dir = demoDirectory();
  files = new Map();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = TYPES[extname(entry.name)];
    if (!entry.isFile() || !type || !/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(entry.name)) continue;
    files.set(entry.name === "index.html" ? "/" : `/demo/${entry.name}`, { file: entry.name, type });
  }
  return files;
}

function demoFile(name: string): Buffer {
  let body = cache.get(name);
  if (!body) {
    body = readFileSync(demoDirectory() + name);
    cache.set(name, body);
  }
  return body;
}

async function readBody(req: http.IncomingMessage, limit = 4096): Promise<string> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error("body too large");
  }
  return body;
}

function isLoopback(address: string | undefined): boolean {
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";
}

/** Serves the demo routes; returns false for other paths. */
export async function serveDemo(options: DemoOptions, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
  const page = req.method === "GET" && (url.pathname === "/" || url.pathname.startsWith("/demo/"));
  const file = page ? demoRoutes().get(url.pathname) : undefined;
  if (file) {
    res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" });
    res.end(demoFile(file.file));
    return true;
  }
  if (url.pathname === "/favicon.ico") {
    res.writeHead(204).end();
    return true;
  }
  if (url.pathname === "/demo/token" && req.method === "POST") {
    const secret = options.tokenSecret;
    if (!secret) {
      json(res, 403, { error: { code: "FORBIDDEN", message: "this server does not mint demo tokens; paste a token" } });
      return true;
    }
    // With the generated development secret, only this machine may mint tokens: the server listens
    // on all interfaces by default, and a token from here is anyone's identity.
    if (!options.tokensForAnyone && !isLoopback(req.socket.remoteAddress)) {
      json(res, 403, { error: { code: "FORBIDDEN", message: "demo tokens are minted for local clients only (REALTIME_DEMO_TOKENS=true allows others)" } });
      return true;
    }
    let userId: unknown;
    try {
      userId = JSON.parse(await readBody(req)).userId;
    } catch {
      json(res, 400, { error: { code: "BAD_REQUEST", message: "send {\"userId\": \"name\"}" } });
      return true;
    }
    if (typeof userId !== "string" || !/^[A-Za-z0-9_.@-]{1,64}$/.test(userId)) {
      json(res, 400, { error: { code: "BAD_REQUEST", message: "userId must be 1 to 64 letters, digits or _.@-" } });
      return true;
    }
    json(res, 200, { token: mintToken({ userId, secret, ttlMs: 12 * 3_600_000 }).token });
    return true;
  }
  return false;
}
