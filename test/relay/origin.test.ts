// Browser origins on every transport (same-origin always, plus REALTIME_CORS_ORIGIN), and the demo
// token endpoint limited to this machine when the server signs with its development secret.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { originAllowed } from "../../relay/origin.js";
import { uid } from "../helpers/names.js";
import { spawnRelay } from "../helpers/processes.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { connect, connectError } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { sleep } from "../helpers/wait.js";

let open: TestRelay;
let restricted: TestRelay;

beforeAll(async () => {
  open = await startRelay();
  restricted = await startRelay({ REALTIME_CORS_ORIGIN: "http://app.example" }, { db: open.db });
});
afterAll(async () => {
  await restricted?.stop();
  await open?.dispose();
});

const withOrigin = (origin: string) => ({ extraHeaders: { origin } });

describe("origin checks", () => {
  it("decides by the configured list, else by the request's own host", () => {
    expect(originAllowed(undefined, "h:1", undefined)).toBe(true);
    expect(originAllowed("http://h:1", "h:1", undefined)).toBe(true);
    expect(originAllowed("http://evil:1", "h:1", undefined)).toBe(false);
    expect(originAllowed("not a url", "h:1", undefined)).toBe(false);
    expect(originAllowed("http://a", "h:1", ["http://a"])).toBe(true);
    expect(originAllowed("http://b", "h:1", ["http://a"])).toBe(false);
    expect(originAllowed("http://b", "h:1", ["*"])).toBe(true);
    // Same-origin is allowed whatever the list says (the demo page, python-socketio's own Origin).
    expect(originAllowed("http://h:1", "h:1", ["http://a"])).toBe(true);
  });

  it("refuses a websocket from a foreign origin when none is configured, and accepts same-origin and non-browser clients", async () => {
    await connectError(open.url, token(uid()), withOrigin("http://evil.example"));
    const sameOrigin = await connect(open.url, token(uid()), withOrigin(open.url));
    const native = await connect(open.url, token(uid()));
    expect(sameOrigin.connected && native.connected).toBe(true);
    sameOrigin.disconnect();
    native.disconnect();
  });

  it("accepts only the configured origins", async () => {
    await connectError(restricted.url, token(uid()), withOrigin("http://evil.example"));
    const allowed = await connect(restricted.url, token(uid()), withOrigin("http://app.example"));
    const sameOrigin = await connect(restricted.url, token(uid()), withOrigin(restricted.url));
    expect(allowed.connected && sameOrigin.connected).toBe(true);
    allowed.disconnect();
    sameOrigin.disconnect();
  });

  it("logs a refused origin with the origin, once per interval however many arrive", async () => {
    const relay = await spawnRelay({ DATABASE_URL: open.db.url, REALTIME_CORS_ORIGIN: "http://app.example" });
    try {
      for (let i = 0; i < 5; i++) await connectError(relay.url, token(uid()), withOrigin("http://evil.example"));
      await sleep(200);
      const lines = relay.logs.filter((l) => l.includes("REALTIME_CORS_ORIGIN"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("http://evil.example");
    } finally {
      await relay.kill();
    }
  });
});

describe("demo tokens", () => {
  it("are not minted with a configured secret unless REALTIME_DEMO_TOKENS=true", async () => {
    const demo = await startRelay({ REALTIME_DEMO: "true" }, { db: open.db });
    try {
      const page = await fetch(`${demo.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("/client.js");
      const res = await fetch(`${demo.url}/demo/token`, { method: "POST", body: JSON.stringify({ userId: "mallory" }) });
      expect(res.status).toBe(403);
      expect((await res.json()).error.code).toBe("FORBIDDEN");
    } finally {
      await demo.stop();
    }
    // Off entirely in production unless asked for.
    const prod = await startRelay({ NODE_ENV: "production", REALTIME_DEMO: undefined }, { db: open.db });
    try {
      expect((await fetch(`${prod.url}/`)).status).toBe(404);
    } finally {
      await prod.stop();
    }
  });
});
