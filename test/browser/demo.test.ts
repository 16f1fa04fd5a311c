// The demo page in two real headless Chromium pages: join, typing indicator, messages, presence,
// and going offline when a page closes. Saves test/artifacts/demo.png. The relay runs with
// REALTIME_CORS_ORIGIN set to other origins, as a typical .env does: the page is same-origin and works.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { runServer, type RunningServer } from "../../relay/main.js";

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

beforeAll(async () => {
  db = await createTestDatabase();
  await db.q("select realtime_create_room('general', 'channel', 'public')");
  server = await runServer({
    installSignalHandlers: false,
    env: {
      DATABASE_URL: db.url,
      REALTIME_JWT_SECRET: "browser-test-secret-0123456789",
      REALTIME_DEMO: "true",
      REALTIME_DEMO_TOKENS: "true",
      REALTIME_CORS_ORIGIN: "http://localhost:3000,http://localhost:3001",
      REALTIME_PORT: "0",
      REALTIME_HOST: "127.0.0.1",
      REALTIME_PRESENCE_GRACE: "0",
      REALTIME_TYPING_TIMEOUT: "5000",
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    },
  });
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

async function open(user: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 900, height: 480 } });
  await page.goto(`${server.url}/?user=${user}&room=general&autoconnect=1`);
  page.on("pageerror", (e) => console.log(user, "pageerror:", e.message));
  await page.waitForSelector('body[data-joined="general"]', { timeout: 10_000 }).catch(async (e) => { console.log(user, await page.textContent("#status-line")); throw e; });
  return page;
}

describe("demo page in Chromium", () => {
  it("shows members, typing, messages and presence between two users", async () => {
    const alice = await open("alice");
    const bob = await open("bob");

    // Both see each other online.
    await alice.waitForSelector('#members li[data-user="bob"][data-status="online"]');
    await bob.waitForSelector('#members li[data-user="alice"][data-status="online"]');

    // Alice types: Bob sees the indicator.
    await alice.fill("#text", "hel");
    await bob.waitForFunction(() => document.getElementById("typing")!.textContent!.includes("alice is typing"));

    // Alice sends: Bob receives it and the indicator clears.
    await alice.fill("#text", "hello bob");
    await alice.press("#text", "Enter");
    await bob.waitForFunction(() => [...document.querySelectorAll("#messages li")].some((li) => li.textContent === "alicehello bob"));
    await bob.waitForFunction(() => document.getElementById("typing")!.textContent === "");

    // Bob answers and goes busy with a custom status: Alice sees both.
    await bob.fill("#custom", "in a meeting");
    await bob.selectOption("#status", "busy");
    await alice.waitForSelector('#members li[data-user="bob"][data-status="busy"]');
    await bob.fill("#text", "hi alice");
    await bob.press("#text", "Enter");
    await alice.waitForFunction(() => [...document.querySelectorAll("#messages li")].some((li) => li.textContent === "bobhi alice"));

    // A screenshot with two users, presence, a typing indicator and messages.
    await alice.fill("#text", "one more th");
    await bob.waitForFunction(() => document.getElementById("typing")!.textContent!.includes("alice is typing"));
    fs.mkdirSync(path.resolve("test/artifacts"), { recursive: true });
    const shot = path.resolve("test/artifacts/demo.png");
    await bob.screenshot({ path: shot });
    expect(fs.statSync(shot).size).toBeGreaterThan(5000);

    // Alice closes her page: Bob sees her go offline and her typing indicator clear.
    await alice.close();
    await bob.waitForSelector('#members li[data-user="alice"][data-status="offline"]', { timeout: 10_000 });
    await bob.waitForFunction(() => document.getElementById("typing")!.textContent === "");
    await bob.close();
  }, 60_000);
});
