// One pino logger; modules take children with scoped fields (socketId, userId, room).
//
// Output: JSON lines (one object per line, what log collectors read), or, in a terminal, one
// readable line per entry: `12:00:01.234 INFO  relay listening port=3101 host=0.0.0.0`. `auto`
// (the default) picks the readable form when stdout is a TTY. A server can also append the JSON
// lines to a file (the per-node log file the CLI's `server logs` reads).
import fs from "node:fs";
import path from "node:path";
import pino from "pino";

export type Logger = pino.Logger;
export type LogFormat = "auto" | "pretty" | "json";

export interface LoggerOptions {
  /** auto (pretty on a TTY, else JSON), pretty or json. */
  format?: LogFormat;
  /** Where the console output goes (default process.stdout); a test passes its own. */
  stream?: { write(chunk: string): unknown; isTTY?: boolean };
  /** Also append JSON lines to this file. */
  file?: string;
}

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const LEVEL_COLORS: Record<number, string> = { 10: "90", 20: "90", 30: "32", 40: "33", 50: "31", 60: "35" };
/** Fields every line carries in JSON; the pretty form leaves them out (they are the same on every line). */
const QUIET_KEYS = new Set(["level", "time", "msg", "pid", "hostname", "nodeId", "v"]);

function formatValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") return value === "" || /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value);
}

function twoDigits(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/**
 * One JSON log line as `HH:MM:SS.mmm LEVEL msg key=value ...`; lines that are not pino JSON come
 * back unchanged. `color` adds ANSI colours to the level.
 */
export function prettyLine(line: string, color = false): string {
  const text = line.trimEnd();
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || typeof (parsed as { level?: unknown }).level !== "number") {
      return text;
    }
    entry = parsed as Record<string, unknown>;
  } catch {
    return text;
  }
  const level = entry.level as number;
  const date = typeof entry.time === "number" ? new Date(entry.time) : undefined;
  const time = date
    ? `${twoDigits(date.getHours())}:${twoDigits(date.getMinutes())}:${twoDigits(date.getSeconds())}.${twoDigits(date.getMilliseconds(), 3)}`
    : "--:--:--.---";
  const name = (LEVEL_NAMES[level] ?? `L${level}`).padEnd(5);
  const levelText = color ? `\x1b[${LEVEL_COLORS[level] ?? "0"}m${name}\x1b[0m` : name;
  const parts = [time, levelText];
  if (typeof entry.msg === "string" && entry.msg !== "") parts.push(entry.msg);
  for (const [key, value] of Object.entries(entry)) {
    if (QUIET_KEYS.has(key)) continue;
    if (key === "err" && value && typeof value === "object") {
      const err = value as { message?: unknown; type?: unknown; stack?: unknown };
      parts.push(`err=${formatValue(err.message ?? err.type ?? value)}`);
      continue;
    }
    parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(" ");
}

/** True when LOG_FORMAT=auto would print readable lines to this stream. */
export function wantsPretty(format: LogFormat, stream: { isTTY?: boolean } = process.stdout): boolean {
  return format === "pretty" || (format === "auto" && stream.isTTY === true);
}

function prettyStream(target: { write(chunk: string): unknown }, color: boolean): pino.DestinationStream {
  return {
    write(chunk: string) {
      let out = "";
      for (const line of chunk.split("\n")) if (line !== "") out += prettyLine(line, color) + "\n";
      target.write(out);
    },
  };
}

export function createLogger(level: string, fields: Record<string, unknown> = {}, options: LoggerOptions = {}): Logger {
  const base: Record<string, unknown> = { pid: process.pid, ...fields };
  const target = options.stream ?? process.stdout;
  const pretty = wantsPretty(options.format ?? "auto", target);
  const color = pretty && target.isTTY === true && !process.env.NO_COLOR;
  const console: pino.DestinationStream = pretty ? prettyStream(target, color) : (target as pino.DestinationStream);
  let destination: pino.DestinationStream = console;
  if (options.file) {
    fs.mkdirSync(path.dirname(options.file), { recursive: true });
    const file = pino.destination({ dest: options.file, append: true, sync: true, mkdir: true });
    destination = pino.multistream([
      { level: "trace", stream: console },
      { level: "trace", stream: file },
    ]);
  }
  return pino(
    {
      level,
      base,
      // Tokens and secrets never reach the log, even when a handshake object is logged whole.
      redact: ["token", "auth.token", "*.token", "headers.authorization", "*.authorization", "password", "secret"],
      formatters: {
        // A field the base already carries with the same value (e.g. nodeId) is not written twice:
        // JSON with a duplicated key is ambiguous to log collectors.
        log(object) {
          if (!Object.keys(object).some((key) => key in base && object[key] === base[key])) return object;
          return Object.fromEntries(Object.entries(object).filter(([key, value]) => !(key in base && value === base[key])));
        },
      },
    },
    destination,
  );
}
