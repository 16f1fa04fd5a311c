// Real faults for the fault-injection suite (test/faults): a private PostgreSQL cluster (initdb into
// a temporary directory, run as the postgres OS user, stopped and started with pg_ctl) and a
// private redis-server child process, both on free ports. The shared services on 5432 and 6379 are
// never touched. Everything started here is stopped in afterAll and, as a last resort, when the
// test process exits.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { migrateDatabase } from "../../lib/migrate.js";
import { canConnect, freePort } from "./ports.js";
import { until } from "./wait.js";

export const PG_BIN = process.env.TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const PG_USER = "postgres";

// ---- cleanup of last resort --------------------------------------------------------------------

const exitHooks = new Set<() => void>();
let exitHookInstalled = false;
function onExit(hook: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const h of [...exitHooks]) {
        try {
          h();
        } catch {
          // best effort
        }
      }
    });
  }
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

// ---- PostgreSQL --------------------------------------------------------------------------------

/** Runs a command as the postgres OS user (without blocking the event loop: clients keep running). */
function asPostgres(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("runuser", ["-u", PG_USER, "--", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${args.join(" ")} failed (${code}): ${output}`));
    });
  });
}

function pgIds(): { uid: number; gid: number } {
  const r = spawnSync("id", ["-u", PG_USER], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", PG_USER], { encoding: "utf8" });
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:PORT/realtime, migrated. */
  url: string;
  port: number;
  dataDir: string;
  /** pg_ctl stop -m fast|immediate (waits until the server is down). */
  stop(mode: "fast" | "immediate"): Promise<void>;
  /** pg_ctl start (waits until it accepts connections). */
  start(): Promise<void>;
  restart(mode: "fast" | "immediate"): Promise<void>;
  /** One statement on a short-lived connection to the realtime database. */
  sql<T = Record<string, any>>(query: string, values?: unknown[]): Promise<T[]>;
  /** A connection of the caller's own (for transactions), to `realtime` or another database; the caller ends it. */
  client(database?: string): Promise<pg.Client>;
  /** Server log so far (for failure messages). */
  log(): string;
  /** Stops the server, unmounts a small file system when there is one, removes the directory. */
  destroy(): Promise<void>;
}

export interface PrivatePostgresOptions {
  /**
   * Puts the data directory on a tmpfs of this many MiB (the write-ahead log stays outside it, on
   * the ordinary disk): the way to fill the cluster's disk for real.
   */
  tmpfsMb?: number;
  /** Extra server settings (`-c name=value`). */
  settings?: Record<string, string | number>;
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  if (process.getuid?.() !== 0) {
    throw new Error("the fault suite runs as root: it runs initdb and pg_ctl as the postgres user (runuser) and mounts a tmpfs");
  }
  if (!fs.existsSync(`${PG_BIN}/initdb`)) throw new Error(`no initdb in ${PG_BIN} (set TEST_PG_BIN to PostgreSQL's bin directory)`);
  const { uid, gid } = pgIds();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rt-fault-pg-"));
  fs.chmodSync(dir, 0o755);
  fs.chownSync(dir, uid, gid);
  const dataDir = path.join(dir, "data");
  const walDir = path.join(dir, "wal");
  const logFile = path.join(dir, "server.log");
  fs.mkdirSync(dataDir, { mode: 0o700 });
  fs.chownSync(dataDir, uid, gid);
  let mounted = false;
  if (options.tmpfsMb) {
    const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${options.tmpfsMb}m,uid=${uid},gid=${gid},mode=0700`, "tmpfs", dataDir], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cannot mount a tmpfs for the data directory: ${r.stderr}`);
    mounted = true;
  }
  const port = await freePort();
  const settings: Record<string, string | number> = {
    listen_addresses: "127.0.0.1",
    port,
    unix_socket_directories: dir,
    max_connections: 100,
    ...options.settings,
  };
  const serverOptions = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(" ");

  const state = { running: false, destroyed: false };
  const forceStop = () => {
    if (state.running) spawnSync("runuser", ["-u", PG_USER, "--", `${PG_BIN}/pg_ctl`, "stop", "-D", dataDir, "-m", "immediate", "-w"], { timeout: 20_000 });
    state.running = false;
    if (mounted) spawnSync("umount", ["-l", dataDir]);
    mounted = false;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const removeHook = onExit(forceStop);

  const start = async () => {
    await asPostgres([`${PG_BIN}/pg_ctl`, "start", "-D", dataDir, "-l", logFile, "-w", "-t", "60", "-o", serverOptions]);
    state.running = true;
  };
  const stop = async (mode: "fast" | "immediate") => {
    await asPostgres([`${PG_BIN}/pg_ctl`, "stop", "-D", dataDir, "-m", mode, "-w", "-t", "60"]);
    state.running = false;
  };

  try {
    const initArgs = [`${PG_BIN}/initdb`, "-D", dataDir, "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"];
    if (mounted) initArgs.push("--waldir", walDir);
    await asPostgres(initArgs);
    await start();
  } catch (err) {
    removeHook();
    forceStop();
    throw err;
  }
  const url = `postgres://${PG_USER}@127.0.0.1:${port}/realtime`;
  const client = async (database = "realtime") => {
    const c = new pg.Client({ connectionString: url.replace(/\/realtime$/, `/${database}`), connectionTimeoutMillis: 5000 });
    c.on("error", () => {});
    await c.connect();
    return c;
  };
  try {
    const admin = new pg.Client({ connectionString: url.replace(/\/realtime$/, "/postgres"), connectionTimeoutMillis: 5000 });
    await admin.connect();
    await admin.query("create database realtime").finally(() => admin.end());
    await migrateDatabase(url);
  } catch (err) {
    removeHook();
    forceStop();
    throw err;
  }
  return {
    url,
    port,
    dataDir,
    stop,
    start,
    async restart(mode) {
      await stop(mode);
      await start();
    },
    async sql<T = Record<string, any>>(query: string, values: unknown[] = []): Promise<T[]> {
      const c = await client();
      try {
        return (await c.query(query, values)).rows as T[];
      } finally {
        await c.end().catch(() => {});
      }
    },
    client,
    log() {
      try {
        return fs.readFileSync(logFile, "utf8");
      } catch {
        return "";
      }
    },
    async destroy() {
      if (state.destroyed) return;
      state.destroyed = true;
      removeHook();
      forceStop();
    },
  };
}

// ---- Redis -------------------------------------------------------------------------------------

export interface PrivateRedis {
  url: string;
  port: number;
  /** Kills the redis-server process with the signal and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (empty: nothing is saved). */
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const launch = async () => {
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
      { stdio: "ignore" },
    );
    proc = child;
    await until(() => canConnect(port), 10_000, { stepMs: 50, what: `redis-server to listen on ${port}` });
  };
  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    const child = proc;
    proc = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  };
  const removeHook = onExit(() => proc?.kill("SIGKILL"));
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    async restart() {
      await kill("SIGKILL");
      await launch();
    },
    async destroy() {
      removeHook();
      await kill("SIGKILL");
    },
  };
}

// ---- a TCP load balancer -----------------------------------------------------------------------

export interface Balancer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * A TCP load balancer in front of several relays, as clients meet them in production: each new
 * connection goes to the next backend in turn, and to the one after it when that one refuses the
 * connection (a dead relay). Websocket clients need no stickiness.
 */
export async function startBalancer(backends: () => number[]): Promise<Balancer> {
  let next = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => {});
    client.pause();
    const ports = backends();
    const first = next++;
    const attempt = (i: number) => {
      if (i >= ports.length) {
        client.destroy();
        return;
      }
      const upstream = net.connect(ports[(first + i) % ports.length], "127.0.0.1");
      const refused = () => attempt(i + 1);
      upstream.once("error", refused);
      upstream.once("connect", () => {
        upstream.off("error", refused);
        open.add(upstream);
        upstream.on("close", () => {
          open.delete(upstream);
          client.destroy();
        });
        client.on("close", () => upstream.destroy());
        upstream.on("error", () => {});
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
