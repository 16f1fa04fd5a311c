// The server processes as the CLI sees them: pid, state and log files under the data dir, and GET /health.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../../lib/config.js";
import { commandLine, isAlive } from "../../lib/process.js";

// Several relays can run from one directory (docs/operations.md, "Several relays"): each has its own files in
// <data dir>/run/, named after its node (REALTIME_NODE_ID, or port-<REALTIME_PORT> without one):
//   <name>.pid   the server's pid (written by `server start`, removed when it exits)
//   <name>.json  what the running server tells other shells: URL, port, embedded database port
//   <name>.log   its log (JSON lines): a detached server's whole output, a foreground server's log too

export interface ServerState {
  name: string;
  nodeId: string;
  pid: number;
  url: string;
  port: number;
  host: string;
  /** The embedded PostgreSQL's port, when this server runs it. */
  embeddedPort: number | null;
  /** The database URL, password masked. */
  database: string;
  startedAt: string;
}

export interface ServerInstance {
  name: string;
  /** The pid of a live server with this name; null when none runs. */
  pid: number | null;
  state: ServerState | null;
  pidFile: string;
  logFile: string;
  hasLog: boolean;
}

export function runDir(config: Readonly<Config>): string {
  return path.join(config.dataDir, "run");
}

/** The file-name-safe name of this configuration's server: its node id, else port-<port>. */
export function serverName(config: Readonly<Config>, env: Record<string, string | undefined> = process.env): string {
  const explicit = env.REALTIME_NODE_ID?.trim();
  if (!explicit) return `port-${config.port}`;
  const safe = explicit.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  return safe === explicit ? safe : `${safe}-${crypto.createHash("sha256").update(explicit).digest("hex").slice(0, 8)}`;
}

export function pidFile(config: Readonly<Config>, name = serverName(config)): string {
  return path.join(runDir(config), `${name}.pid`);
}

export function stateFile(config: Readonly<Config>, name = serverName(config)): string {
  return path.join(runDir(config), `${name}.json`);
}

export function logFile(config: Readonly<Config>, name = serverName(config)): string {
  return path.join(runDir(config), `${name}.log`);
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * False when the process is known to be something other than `realtime server start` (a pid file
 * outliving a reboot may name a recycled pid). True when it cannot tell (no /proc).
 */
export function isServerProcess(pid: number): boolean {
  const args = commandLine(pid);
  if (!args) return true;
  const i = args.indexOf("server");
  return i >= 0 && args[i + 1] === "start";
}

/** The pid in the named server's pid file when that process is a live server; removes stale files. */
export function livePid(config: Readonly<Config>, name = serverName(config)): number | undefined {
  const pid = readPid(pidFile(config, name));
  if (pid === undefined) return undefined;
  if (isAlive(pid) && isServerProcess(pid)) return pid;
  removeRunFiles(config, name, pid);
  return undefined;
}

export function writePidFile(config: Readonly<Config>, pid: number, name = serverName(config)): void {
  fs.mkdirSync(runDir(config), { recursive: true });
  fs.writeFileSync(pidFile(config, name), `${pid}\n`);
}

export function writeState(config: Readonly<Config>, state: ServerState): void {
  fs.mkdirSync(runDir(config), { recursive: true });
  const file = stateFile(config, state.name);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  fs.renameSync(tmp, file);
}

export function readState(config: Readonly<Config>, name: string): ServerState | null {
  try {
    const state = JSON.parse(fs.readFileSync(stateFile(config, name), "utf8")) as ServerState;
    return typeof state.pid === "number" && typeof state.url === "string" ? state : null;
  } catch {
    return null;
  }
}

/** Removes the pid and state files when they still name `pid` (or whatever they name, when omitted). */
export function removeRunFiles(config: Readonly<Config>, name = serverName(config), pid?: number): void {
  const file = pidFile(config, name);
  if (pid !== undefined && readPid(file) !== undefined && readPid(file) !== pid) return;
  fs.rmSync(file, { force: true });
  const state = readState(config, name);
  if (pid === undefined || !state || state.pid === pid) fs.rmSync(stateFile(config, name), { force: true });
}

/** Every server this data directory knows of (a pid file or a log), sorted by name; stale files removed. */
export function listServers(config: Readonly<Config>): ServerInstance[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(runDir(config));
  } catch {
    return [];
  }
  const names = new Set<string>();
  for (const entry of entries) {
    const m = /^(.+)\.(pid|log|json)$/.exec(entry);
    if (m) names.add(m[1]);
  }
  return [...names].sort().map((name) => {
    const pid = livePid(config, name) ?? null;
    const state = pid !== null ? readState(config, name) : null;
    const log = logFile(config, name);
    return {
      name,
      pid,
      state: state && state.pid === pid ? state : null,
      pidFile: pidFile(config, name),
      logFile: log,
      hasLog: fs.existsSync(log),
    };
  });
}

/** Where the CLI asks a local server for its health: 127.0.0.1 when it listens on every interface. */
export function baseUrl(config: Readonly<Config>, port = config.port): string {
  const host = ["0.0.0.0", "::", "", "[::]"].includes(config.host) ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}

export interface HealthProbe {
  /** True when something answered HTTP at all (200 healthy, 503 database unreachable). */
  answered: boolean;
  status?: number;
  body?: Record<string, unknown>;
  error?: string;
}

export async function probeHealth(url: string, timeoutMs = 2000): Promise<HealthProbe> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
    const text = await res.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    return { answered: true, status: res.status, body };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const code = e.cause?.code;
    return {
      answered: false,
      error: code === "ECONNREFUSED" ? "connection refused" : e.name === "TimeoutError" ? "timed out" : (code ?? e.message),
    };
  }
}

/** The last `lines` lines of a file, reading from its end. */
export function tailLines(file: string, lines: number): string[] {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const chunk = 64 * 1024;
    let position = size;
    let text = "";
    while (position > 0) {
      const length = Math.min(chunk, position);
      position -= length;
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, position);
      text = buffer.toString("utf8") + text;
      // One more newline than wanted: the trailing one ends the last line.
      if ((text.match(/\n/g)?.length ?? 0) > lines) break;
    }
    const all = text.split("\n");
    if (all[all.length - 1] === "") all.pop();
    return lines === 0 ? [] : all.slice(-lines);
  } finally {
    fs.closeSync(fd);
  }
}
