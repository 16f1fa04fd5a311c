// The demo page (relay/demo/, on the client SDK served at /client.js) in real headless Chromium
// pages: two users chat (members, typing, messages, presence), a late joiner gets the history, the
// status picker moves the user's own dot and the other page's, the page rides out a relay restart on
// the same port (reconnecting banner, recovery by itself, a message sent during the outage arrives
// once), a 390 px wide phone layout, and a server that mints no demo tokens. The relay runs with
// REALTIME_CORS_ORIGIN set to other origins, as a typical .env does: the page is same-origin and works.
// Saves test/artifacts/demo.png, demo-reconnecting.png, demo-mobile.png and demo-paste-token.png.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { freePort } from "../helpers/ports.js";
import { runServer, type RunningServer } from "../../relay/main.js";

const BUNDLE = path.resolve("dist/client/realtime-client.js");
const ARTIFACTS = path.resolve("test/artifacts");
const SECRET = "browser-test-secret-0123456789";

function findChromium(): string {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(Boolean) as string[];
  const found = candidates.find((p) => fs.existsSync(p));
  if (found) return found;
  if (process.getuid?.() === 0) {
    execFileSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"], { stdio: "inherit", timeout: 600_000 });
    if (fs.existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  }
  throw new Error("Chromium not found: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH");
}

let db: TestDatabase;
let server: RunningServer;
let browser: Browser;
let env: Record<string, string>;
const pages = new Map<string, Page>();
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first (npm test does)`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  db = await createTestDatabase();
  await db.q("select realtime_create_room('general', 'channel', 'public')");
  // A fixed port: the restart test starts the next relay on the same one.
  const port = await freePort();
  env = {
    DATABASE_URL: db.url,
    REALTIME_JWT_SECRET: SECRET,
    REALTIME_DEMO: "true",
    REALTIME_DEMO_TOKENS: "true",
    REALTIME_CORS_ORIGIN: "http://localhost:3000,http://localhost:3001",
    REALTIME_PORT: String(port),
    REALTIME_HOST: "127.0.0.1",
    REALTIME_PRESENCE_GRACE: "0",
    REALTIME_TYPING_TIMEOUT: "5000",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
  };
  server = await runServer({ installSignalHandlers: false, env });
  browser = await chromium.launch({
    executablePath: findChromium(),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await db?.drop();
});

async function open(user: string, viewport = { width: 900, height: 520 }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on("pageerror", (e) => pageErrors.push(`${user}: ${e.message}`));
  await page.goto(`${server.url}/?user=${user}&room=general&autoconnect=1`);
  await page.waitForSelector('body[data-joined="general"][data-ready="true"]', { timeout: 10_000 }).catch(async (e) => {
    console.log(user, await page.textContent("#login-error"));
    throw e;
  });
  pages.set(user, page);
  return page;
}

/** The contents of the messages a page shows (stored ones, in order). */
function shown(page: Page): Promise<string[]> {
  return page.$$eval("#messages li[data-id] .text", (els) => els.map((e) => e.textContent ?? ""));
}

function waitForMessage(page: Page, content: string, timeout = 10_000) {
  return page.waitForFunction(
    (c) => [...document.querySelectorAll("#messages li[data-id] .text")].some((e) => e.textContent === c),
    content,
    { timeout },
  );
}

function waitForTyping(page: Page, text: string, timeout = 10_000) {
  return page.waitForFunction((t) => (t === "" ? document.getElementById("typing")!.textContent === "" : document.getElementById("typing")!.textContent!.includes(t)), text, {
    timeout,
  });
}

const HOSTILE = `<img src=x onerror="window.pwned=1"><b>bold</b>`;

describe("demo page in Chromium", () => {
  it("two pages chat: members, typing, messages with timestamps, presence", async () => {
    const alice = await open("alice");
    const bob = await open("bob");

    // Both see each other online, and their own name.
    await alice.waitForSelector('#members li[data-user="bob"][data-status="online"]');
    await bob.waitForSelector('#members li[data-user="alice"][data-status="online"]');
    expect(await alice.textContent("#my-name")).toBe("alice");
    expect(await alice.getAttribute("#my-dot", "data-status")).toBe("online");

    // Alice types: Bob sees the indicator.
    await alice.fill("#text", "hel");
    await waitForTyping(bob, "alice is typing");

    // Alice sends: Bob receives it with its sender and time, and the indicator clears.
    await alice.fill("#text", "hello bob");
    await alice.press("#text", "Enter");
    await waitForMessage(bob, "hello bob");
    await waitForTyping(bob, "");
    const item = bob.locator("#messages li[data-id]", { hasText: "hello bob" });
    expect(await item.locator(".who").textContent()).toBe("alice");
    const datetime = await item.locator("time").getAttribute("datetime");
    expect(Math.abs(Date.parse(datetime!) - Date.now())).toBeLessThan(60_000);
    expect(await item.locator("time").textContent()).toMatch(/\d/);

    // User text is text, never markup.
    await alice.fill("#text", HOSTILE);
    await alice.press("#text", "Enter");
    await waitForMessage(bob, HOSTILE);
    expect(await bob.locator("#messages img, #messages b").count()).toBe(0);
    expect(await bob.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();

    // Bob answers and goes busy with a custom status: Alice sees both.
    await bob.fill("#custom", "in a meeting");
    await bob.selectOption("#status", "busy");
    await alice.waitForSelector('#members li[data-user="bob"][data-status="busy"]');
    expect(await alice.textContent('#members li[data-user="bob"] .custom')).toBe("in a meeting");
    await bob.fill("#text", "hi alice");
    await bob.press("#text", "Enter");
    await waitForMessage(alice, "hi alice");
    expect(await shown(alice)).toEqual(["hello bob", HOSTILE, "hi alice"]);
    expect(await shown(bob)).toEqual(["hello bob", HOSTILE, "hi alice"]);

    // A screenshot with two users, presence, a typing indicator and messages.
    await alice.fill("#text", "one more th");
    await waitForTyping(bob, "alice is typing");
    const shot = path.join(ARTIFACTS, "demo.png");
    await bob.screenshot({ path: shot });
    expect(fs.statSync(shot).size).toBeGreaterThan(5000);
    // Emptying the field ends the indicator.
    await alice.fill("#text", "");
    await waitForTyping(bob, "");
  }, 60_000);

  it("a late joiner gets the history on join", async () => {
    const carol = await open("carol");
    // Before anything new is sent: these come from room.history().
    expect(await shown(carol)).toEqual(["hello bob", HOSTILE, "hi alice"]);
    const senders = await carol.$$eval("#messages li[data-id] .who", (els) => els.map((e) => e.textContent));
    expect(senders).toEqual(["alice", "alice", "bob"]);
    expect(await carol.locator("#messages li[data-id] time[datetime]").count()).toBe(3);
    await carol.waitForSelector('#members li[data-user="bob"][data-status="busy"]');
    // The others see her arrive, and leave.
    await pages.get("alice")!.waitForSelector('#members li[data-user="carol"][data-status="online"]');
    await carol.close();
    await pages.get("alice")!.waitForSelector('#members li[data-user="carol"][data-status="offline"]', { timeout: 10_000 });
  }, 30_000);

  it("the status picker moves the user's own dot and the other page's", async () => {
    const alice = pages.get("alice")!;
    const bob = pages.get("bob")!;
    for (const [status, custom] of [["away", "lunch"], ["offline", ""], ["online", "back"]] as const) {
      await bob.fill("#custom", custom);
      await bob.selectOption("#status", status);
      // Bob's own dots (header, picker, his line in the list) follow the server's answer.
      await bob.waitForSelector(`#my-dot[data-status="${status}"]`);
      await bob.waitForSelector(`#picker-dot[data-status="${status}"]`);
      await bob.waitForSelector(`#members li[data-user="bob"][data-status="${status}"] .dot.${status}`);
      // Alice's page shows the same.
      await alice.waitForSelector(`#members li[data-user="bob"][data-status="${status}"] .dot.${status}`);
      const text = await alice.locator('#members li[data-user="bob"] .custom').textContent({ timeout: 500 }).catch(() => null);
      expect(text ?? "").toBe(custom);
    }
    expect(await bob.inputValue("#status")).toBe("online");
  }, 30_000);

  it("survives a relay restart on the same port: reconnecting, recovery, queued message once", async () => {
    const alice = pages.get("alice")!;
    const bob = pages.get("bob")!;
    const url = server.url;
    await server.stop();

    // Both pages say so.
    for (const page of [alice, bob]) {
      await page.waitForSelector('body[data-connection="reconnecting"] #banner:not([hidden])', { timeout: 10_000 });
      expect(await page.textContent("#banner")).toContain("Reconnecting…");
      expect(await page.textContent("#connection")).toBe("reconnecting…");
    }
    // Alice sends during the outage: the SDK holds it, the page shows it as sending.
    await alice.fill("#text", "sent during the outage");
    await alice.press("#text", "Enter");
    await alice.waitForSelector("#messages li.pending");
    await alice.screenshot({ path: path.join(ARTIFACTS, "demo-reconnecting.png") });
    await new Promise((r) => setTimeout(r, 1000));

    server = await runServer({ installSignalHandlers: false, env });
    expect(server.url).toBe(url);

    // They recover by themselves.
    for (const page of [alice, bob]) {
      await page.waitForSelector('body[data-connection="connected"] #banner[hidden]', { state: "attached", timeout: 20_000 });
    }
    await waitForMessage(bob, "sent during the outage", 15_000);
    await alice.waitForSelector("#messages li.pending", { state: "detached", timeout: 15_000 });

    // A message after the recovery reaches the other page.
    await bob.fill("#text", "after the restart");
    await bob.press("#text", "Enter");
    await waitForMessage(alice, "after the restart");
    await alice.waitForSelector('#members li[data-user="bob"][data-status="online"]');
    await bob.waitForSelector('#members li[data-user="alice"][data-status="online"]');

    // The queued one: stored once, shown once on both pages, before the later one.
    const stored = await db.v("select count(*)::int as v from realtime_events where type = 'message' and data->>'content' = 'sent during the outage'");
    expect(stored).toBe(1);
    for (const page of [alice, bob]) {
      const list = await shown(page);
      expect(list.filter((c) => c === "sent during the outage")).toHaveLength(1);
      expect(list.slice(-2)).toEqual(["sent during the outage", "after the restart"]);
      expect(await page.locator("#messages li.pending, #messages li.failed").count()).toBe(0);
    }
  }, 90_000);

  it("fits a 390 px wide phone screen", async () => {
    const alice = pages.get("alice")!;
    const dana = await open("dana", { width: 390, height: 844 });
    const long = "a long word that must wrap: " + "x".repeat(120);
    await dana.fill("#text", long);
    await dana.press("#text", "Enter");
    await waitForMessage(dana, long);
    await alice.fill("#text", "typ");
    await waitForTyping(dana, "alice is typing");
    await dana.fill("#custom", "on my phone, with a rather long custom status text");
    await dana.selectOption("#status", "away");
    await dana.waitForSelector('#my-dot[data-status="away"]');
    const widths = await dana.evaluate(() => ({ scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth }));
    expect(widths.scroll).toBeLessThanOrEqual(390);
    expect(widths.body).toBeLessThanOrEqual(390);
    // Every part of the page is on the screen.
    const offscreen = await dana.evaluate(() =>
      [...document.querySelectorAll("header, main, #side, #chat, #send, #text, #presence, #status, #messages li")]
        .filter((e) => e.getBoundingClientRect().right > 390.5)
        .map((e) => e.id || e.tagName),
    );
    expect(offscreen).toEqual([]);
    const shot = path.join(ARTIFACTS, "demo-mobile.png");
    await dana.screenshot({ path: shot });
    expect(fs.statSync(shot).size).toBeGreaterThan(5000);
    await alice.fill("#text", "");
    await waitForTyping(dana, "");
    await dana.close();
  }, 30_000);

  it("on a server that mints no demo tokens, explains how to get one and takes a pasted one", async () => {
    // The same database with REALTIME_DEMO_TOKENS off: POST /demo/token answers 403. Its own node
    // id: in this process it would otherwise take the first relay's and clear that node's rows.
    const plain = await runServer({
      installSignalHandlers: false,
      env: { ...env, REALTIME_DEMO_TOKENS: "false", REALTIME_PORT: "0", REALTIME_NODE_ID: `demo-plain-${process.pid}` },
    });
    try {
      const res = await fetch(`${plain.url}/demo/token`, { method: "POST", body: JSON.stringify({ userId: "erin" }) });
      expect(res.status).toBe(403);
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      page.on("pageerror", (e) => pageErrors.push(`erin: ${e.message}`));
      await page.goto(`${plain.url}/?room=general`);
      await page.waitForSelector('body[data-tokens="paste"] #token-help:not([hidden])');
      const text = async (selector: string) => ((await page.textContent(selector)) ?? "").replace(/\s+/g, " ");
      expect(await text("#token-help")).toContain("npx realtime token NAME");
      expect(await text("#rooms-help")).toContain("ask your administrator or run npx realtime rooms");
      expect(await page.isVisible("#token")).toBe(true);
      await page.screenshot({ path: path.join(ARTIFACTS, "demo-paste-token.png") });

      // Join without a token: told to paste one.
      await page.click("#connect");
      expect(await page.textContent("#login-error")).toContain("Paste a token");
      // A room that does not exist: told how to find the ones that do.
      await page.fill("#token", jwt.sign({ sub: "erin" }, SECRET, { algorithm: "HS256", expiresIn: "1h" }));
      await page.fill("#room", "no-such-room");
      await page.click("#connect");
      await page.waitForFunction(() => document.getElementById("login-error")!.textContent!.includes("npx realtime rooms"));
      // A token signed with another secret: refused.
      await page.fill("#token", jwt.sign({ sub: "erin" }, "another-secret-0123456789", { algorithm: "HS256" }));
      await page.fill("#room", "general");
      await page.click("#connect");
      await page.waitForFunction(() => document.getElementById("login-error")!.textContent!.includes("refused"));
      // The right token: in, with the history.
      await page.fill("#token", jwt.sign({ sub: "erin" }, SECRET, { algorithm: "HS256", expiresIn: "1h" }));
      await page.click("#connect");
      await page.waitForSelector('body[data-joined="general"][data-ready="true"]', { timeout: 10_000 });
      expect(await page.textContent("#my-name")).toBe("erin");
      await waitForMessage(page, "after the restart");
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.close();
    } finally {
      await plain.stop();
    }
  }, 60_000);

  it("a closed page goes offline for the others", async () => {
    const alice = pages.get("alice")!;
    const bob = pages.get("bob")!;
    await alice.fill("#text", "bye");
    await waitForTyping(bob, "alice is typing");
    await alice.close();
    await bob.waitForSelector('#members li[data-user="alice"][data-status="offline"]', { timeout: 10_000 });
    await waitForTyping(bob, "");
    await bob.close();
    expect(pageErrors).toEqual([]);
  }, 30_000);
});
