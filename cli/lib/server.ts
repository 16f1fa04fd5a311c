// The server process as the CLI sees it: pid file, log file and GET /health, all under the data dir.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../../relay/config.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The package root: cli/lib in source, dist/cli/lib when built. */
export const PACKAGE_ROOT =
  path.basename(path.resolve(here, "../..")) === "dist" ? path.resolve(here, "../../..") : path.resolve(here, "../..");
export const BIN_RUN = path.join(PACKAGE_ROOT, "bin", "run.js");

export function pidFile(config: Readonly<Config>): string {
  return path.join(config.dataDir, "server.pid");
}

export function logFile(config: Readonly<Config>): string {
  return path.join(config.dataDir, "server.log");
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc (macOS): kill(0) is the answer
  }
}

/**
 * False when the process is known to be something other than `realtime server start` (a pid file
 * outliving a reboot may name a recycled pid). True when it cannot tell (no /proc).
 */
export function isServerProcess(pid: number): boolean {
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const i = args.indexOf("server");
    return i >= 0 && args[i + 1] === "start";
  } catch {
    return true;
  }
}

/** The pid in the pid file when that process is a live server; removes a stale pid file. */
export function livePid(config: Readonly<Config>): number | undefined {
  const file = pidFile(config);
  const pid = readPid(file);
  if (pid === undefined) return undefined;
  if (isAlive(pid) && isServerProcess(pid)) return pid;
  removePidFile(config, pid);
  return undefined;
}

export function writePidFile(config: Readonly<Config>, pid: number): void {
  fs.mkdirSync(config.dataDir, { recursive: true });
  fs.writeFileSync(pidFile(config), `${pid}\n`);
}

/** Removes the pid file when it still names `pid` (or whatever it names, when pid is omitted). */
export function removePidFile(config: Readonly<Config>, pid?: number): void {
  const file = pidFile(config);
  if (pid !== undefined && readPid(file) !== pid) return;
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone
  }
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
