// The embedded default database (lib/embedded.ts): real PostgreSQL processes, no mocks.
// One data directory is initialised once and reused by the tests that follow (they run in order).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  EmbeddedPostgresError,
  RELOCATED_CLUSTERS_DIR,
  loadOrCreateDevSecret,
  runningEmbeddedUrl,
  startEmbeddedPostgres,
  type EmbeddedDatabase,
} from "../../lib/embedded.js";
import { query } from "../helpers/db.js";
import { freePort } from "../helpers/ports.js";
import { alive, processesMentioning } from "../helpers/processes.js";
import { until } from "../helpers/wait.js";

const ROOT = process.getuid?.() === 0;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const embeddedModule = pathToFileURL(path.join(repoRoot, "lib/embedded.ts")).href;

// As root PostgreSQL runs as the postgres OS user, which must be able to traverse to the data dir
// (mkdtemp makes it 0700).
const base = fs.mkdtempSync(path.join(os.tmpdir(), "realtime-embedded-"));
fs.chmodSync(base, 0o711);
const dataDir = path.join(base, "data");
const pgDir = path.join(dataDir, "pg");

const started: EmbeddedDatabase[] = [];
const children: ChildProcess[] = [];
const logs: string[] = [];
const log = (m: string) => logs.push(m);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const db of started) await db.stop().catch(() => {});
  // A postmaster a killed child left behind, if a test failed half-way.
  const pid = postmasterPid(pgDir);
  if (pid !== undefined && alive(pid)) process.kill(pid, "SIGINT");
  await until(() => pid === undefined || !alive(pid), 10_000).catch(() => {});
  fs.rmSync(base, { recursive: true, force: true });
});

function postmasterPid(dir: string): number | undefined {
  try {
    return Number.parseInt(fs.readFileSync(path.join(dir, "postmaster.pid"), "utf8").split("\n")[0], 10);
  } catch {
    return undefined;
  }
}

/** Starts on a free port, retrying when the port was taken between the check and the bind. */
async function start(dir = dataDir): Promise<EmbeddedDatabase> {
  for (let attempt = 0; ; attempt++) {
    try {
      const db = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), log });
      started.push(db);
      return db;
    } catch (err) {
      if (attempt < 3 && /could not listen/.test((err as Error).message)) continue;
      throw err;
    }
  }
}

/** A separate Node process that starts the embedded database in dataDir and then idles. */
async function startChild(): Promise<{ child: ChildProcess; url: string; pid: number }> {
  const port = await freePort();
  const code = `
    const { startEmbeddedPostgres } = await import(${JSON.stringify(embeddedModule)});
    const db = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${port} });
    process.stdout.write(JSON.stringify({ url: db.url, pid: db.pid }) + "\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not start: ${stderr}`)), 20_000);
    child.stdout!.on("data", (c) => {
      stdout += c;
      const nl = stdout.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ child, ...(JSON.parse(stdout.slice(0, nl)) as { url: string; pid: number }) });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}): ${stderr}`));
    });
  });
}

describe("embedded PostgreSQL", () => {
  it("initialises a data dir, serves queries and NOTIFY across connections, and reports its URL", async () => {
    const t0 = Date.now();
    const db = await start();
    const ms = Date.now() - t0;
    expect(db.initialised).toBe(true);
    expect(db.dataDir).toBe(dataDir);
    expect(db.url).toMatch(/^postgres:\/\/postgres:[0-9a-f]{48}@127\.0\.0\.1:\d+\/realtime$/);
    expect(ms).toBeLessThan(20_000);
    // The package's chatter went to the log callback, not stdout.
    expect(logs.some((l) => l.includes("ready to accept connections"))).toBe(true);

    expect(await query(db.url, "select 1 as one")).toEqual([{ one: 1 }]);
    await query(db.url, "create table marker (id int)");

    const listener = new pg.Client({ connectionString: db.url });
    const sender = new pg.Client({ connectionString: db.url });
    await listener.connect();
    await sender.connect();
    try {
      const got = new Promise<pg.Notification>((resolve) => listener.once("notification", resolve));
      await listener.query("listen realtime_test");
      await sender.query("select pg_notify('realtime_test', 'hello')");
      const n = await got;
      expect(n.channel).toBe("realtime_test");
      expect(n.payload).toBe("hello");
    } finally {
      await listener.end();
      await sender.end();
    }

    expect(await runningEmbeddedUrl(dataDir)).toBe(db.url);
    expect(fs.statSync(path.join(dataDir, "pg-password")).mode & 0o777).toBe(0o600);
    if (ROOT) expect(fs.statSync(pgDir).uid).not.toBe(0); // owned by the postgres OS user

    const pid = db.pid;
    expect(postmasterPid(pgDir)).toBe(pid);
    await db.stop();
    await db.stop(); // idempotent
    expect(alive(pid)).toBe(false);
    expect(fs.existsSync(path.join(pgDir, "postmaster.pid"))).toBe(false);
    expect(processesMentioning(pgDir)).toEqual([]);
    expect(await runningEmbeddedUrl(dataDir)).toBeUndefined();
  });

  it("starts again fast on the initialised data dir, keeping its data", async () => {
    const t0 = Date.now();
    const db = await start();
    const ms = Date.now() - t0;
    expect(db.initialised).toBe(false);
    expect(db.recovered).toBe(false);
    expect(ms).toBeLessThan(5_000);
    expect(await query(db.url, "select count(*)::int as n from marker")).toEqual([{ n: 0 }]);
    await db.stop();
    expect(processesMentioning(pgDir)).toEqual([]);
  });

  it("leaves a database a live process owns alone, and takes over after that process is SIGKILLed", async () => {
    const { child, url, pid } = await startChild();
    expect(alive(pid)).toBe(true);
    expect(await runningEmbeddedUrl(dataDir)).toBe(url);
    await expect(startEmbeddedPostgres({ dataDir, port: await freePort(), log })).rejects.toThrow(/in use by process/);
    expect(alive(pid)).toBe(true);

    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // The postmaster survives its owner, still serving...
    expect(alive(pid)).toBe(true);
    expect(await query(url, "select 1 as one")).toEqual([{ one: 1 }]);
    // ...but no running server owns it.
    expect(await runningEmbeddedUrl(dataDir)).toBeUndefined();

    const t0 = Date.now();
    const db = await start();
    const ms = Date.now() - t0;
    expect(db.recovered).toBe(true);
    expect(ms).toBeLessThan(10_000);
    expect(alive(pid)).toBe(false);
    expect(db.pid).not.toBe(pid);
    expect(await query(db.url, "select count(*)::int as n from marker")).toEqual([{ n: 0 }]);
    expect(await runningEmbeddedUrl(dataDir)).toBe(db.url);
    await db.stop();
    expect(processesMentioning(pgDir)).toEqual([]);
  });

  it("removes a stale postmaster.pid (dead pid, or a pid that is another program now)", async () => {
    const pidFile = path.join(pgDir, "postmaster.pid");
    const write = (pid: number) =>
      fs.writeFileSync(pidFile, `${pid}\n${pgDir}\n1700000000\n54329\n\n127.0.0.1\n  0 0\nready   \n`);

    const gone = spawn("true");
    await new Promise((r) => gone.once("exit", r));
    write(gone.pid!);
    let db = await start();
    expect(db.recovered).toBe(false);
    await db.stop();

    write(process.pid); // alive, but not a postgres
    db = await start();
    expect(db.recovered).toBe(false);
    expect(await query(db.url, "select 1 as one")).toEqual([{ one: 1 }]);
    await db.stop();
    expect(processesMentioning(pgDir)).toEqual([]);
  });

  it("fails with a clear error when the port is taken, leaving no process", async () => {
    const server = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    try {
      const err = await startEmbeddedPostgres({ dataDir, port, log }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EmbeddedPostgresError);
      expect((err as Error).message).toMatch(/could not listen on 127\.0\.0\.1:\d+ .*REALTIME_EMBEDDED_PG_PORT/);
    } finally {
      server.close();
    }
    expect(processesMentioning(pgDir)).toEqual([]);
    expect(await runningEmbeddedUrl(dataDir)).toBeUndefined();
  });

  it.skipIf(!ROOT)("as root, works in a data dir the postgres OS user cannot reach (a mktemp -d parent, mode 700): the cluster moves, linked from <data dir>/pg", async () => {
    // Setup: a private folder (mode 700), as `mktemp -d` makes it, holding the checkout's data dir.
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), "realtime-closed-"));
    expect(fs.statSync(closed).mode & 0o777).toBe(0o700);
    const dir = path.join(closed, "checkout", ".realtime");
    const link = path.join(dir, "pg");
    let home: string | undefined;
    try {
      const db = await start(dir);
      started.push(db);
      home = path.dirname(db.pgDataDir);

      // The cluster lives where the postgres user can reach it; the data dir links to it.
      expect(db.pgDataDir.startsWith(`${RELOCATED_CLUSTERS_DIR}/`)).toBe(true);
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
      expect(fs.realpathSync(link)).toBe(db.pgDataDir);
      expect(fs.statSync(db.pgDataDir).uid).not.toBe(0);
      // The user's folders keep their modes; the secrets stay in the data dir.
      expect(fs.statSync(closed).mode & 0o777).toBe(0o700);
      expect(fs.statSync(path.join(dir, "pg-password")).mode & 0o777).toBe(0o600);
      expect(logs.some((l) => l.includes(`cannot reach ${dir}`) && l.includes(`${closed} (mode 700)`))).toBe(true);

      await query(db.url, "create table relocated (id int)");
      expect(await runningEmbeddedUrl(dir)).toBe(db.url);
      await db.stop();
      expect(await runningEmbeddedUrl(dir)).toBeUndefined();

      // A second start finds the same cluster through the link, data kept.
      const again = await start(dir);
      started.push(again);
      expect(again.initialised).toBe(false);
      expect(again.pgDataDir).toBe(db.pgDataDir);
      expect(await query(again.url, "select count(*)::int as n from relocated")).toEqual([{ n: 0 }]);
      await again.stop();
      expect(processesMentioning(db.pgDataDir)).toEqual([]);
    } finally {
      fs.rmSync(closed, { recursive: true, force: true });
      if (home) fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("keeps a development JWT secret in the data dir, mode 0600", () => {
    const dir = path.join(base, "secret");
    const a = loadOrCreateDevSecret(dir);
    const b = loadOrCreateDevSecret(dir);
    expect(a).toBe(b);
    expect(a.length).toBeGreaterThanOrEqual(32);
    const file = fs.readdirSync(dir).map((f) => path.join(dir, f));
    expect(file).toHaveLength(1);
    expect(fs.statSync(file[0]).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file[0], "utf8")).toContain(a);
  });
});
