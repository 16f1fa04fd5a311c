// The browser bundle as a page gets it: the relay serves it at /client.js, and in Chromium it
// connects, joins, sends and receives (with a Node SDK client on the other side).
import fs from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { recordMessages, sdkClient, sign, uniq, waitFor, SECRET, type Recorded } from "./support.js";

const BUNDLE = path.resolve("dist/client/realtime-client.js");
const CHROMIUM = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => p && fs.existsSync(p));

let db: TestDatabase;
let relay: TestRelay;
let browser: Browser | undefined;
const clients: Recorded[] = [];

beforeAll(async () => {
  // `npm test` builds first; a run of this file alone builds the bundle the same way when missing.
  if (!fs.existsSync(BUNDLE)) {
    await build({ entryPoints: ["client/index.ts"], bundle: true, format: "esm", platform: "browser", target: "es2020", minify: true, outfile: BUNDLE, logLevel: "silent" });
  }
  db = await createTestDatabase();
  relay = await startRelay({ REALTIME_JWT_SECRET: SECRET }, { db });
  if (CHROMIUM) {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"] });
  }
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.client.close();
  await browser?.close();
  await relay?.dispose();
});

describe("GET /client.js", () => {
  it("serves the SDK bundle as JavaScript (HEAD too)", async () => {
    const res = await fetch(`${relay.url}/client.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/javascript/);
    const body = await res.text();
    expect(body).toBe(fs.readFileSync(BUNDLE, "utf8"));
    const head = await fetch(`${relay.url}/client.js`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it.skipIf(!CHROMIUM)("works in Chromium: connect, join, send, receive", async () => {
    const room = uniq("browser-room");
    await db.q("select realtime_create_room($1)", [room]);
    const node = sdkClient(relay.url, uniq("node"));
    clients.push(node);
    await node.client.connect();
    const nodeRoom = await node.client.join(room);
    const got = recordMessages(nodeRoom);

    const page = await browser!.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${relay.url}/health`); // any page of the relay's origin
    const browserUser = uniq("browser");
    // A string, so that the test runner does not rewrite its import().
    const script = `(async ({ token, room, url }) => {
      const { RealtimeClient } = await import(url + "/client.js");
      const client = new RealtimeClient({ url, token: () => token });
      const states = [];
      client.on("state", (s) => states.push(s));
      await client.connect();
      const r = await client.join(room);
      const received = [];
      r.on("message", (m) => received.push(m.content));
      const sent = await r.send("hello from the browser");
      window.sdk = { client, received };
      return { userId: client.userId, states, sentId: sent.id, members: [...r.members.keys()] };
    })(${JSON.stringify({ token: sign(browserUser), room, url: relay.url })})`;
    const result = (await page.evaluate(script)) as { userId: string; states: string[]; sentId: number; members: string[] };
    expect(result.userId).toBe(browserUser);
    expect(result.states).toEqual(["connecting", "connected"]);
    expect(result.members).toContain(node.userId);
    await waitFor(() => got.some((m) => m.id === result.sentId), 5000, "the node client got the browser's message");

    await nodeRoom.send("hello from node");
    await page.waitForFunction(() => (window as unknown as { sdk: { received: string[] } }).sdk.received.includes("hello from node"), null, { timeout: 5000 });
    const received = await page.evaluate(() => (window as unknown as { sdk: { received: string[] } }).sdk.received);
    expect(received).toEqual(["hello from the browser", "hello from node"]);
    await page.evaluate(() => (window as unknown as { sdk: { client: { close(): void } } }).sdk.client.close());
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);
});
