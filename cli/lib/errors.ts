// One-line failures. Every error a command can hit is turned into a CliError whose message is the
// line printed on stderr (no stack trace unless LOG_LEVEL=debug).
import { ConfigError } from "../../lib/config.js";
import { RealtimeError, toRealtimeError } from "../../protocol/index.js";
import { maskUrl } from "../../lib/mask.js";

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Where a command was trying to reach the database; used to explain a failure. */
export interface DbTarget {
  url: string;
  /** True when the URL is the embedded PostgreSQL (no DATABASE_URL). */
  embedded: boolean;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EPIPE: "connection closed",
};

type RawError = { code?: string; message?: string; errors?: RawError[]; cause?: unknown };

/** The underlying driver error: RealtimeErrors from lib/db.ts keep it as `cause`. */
function rawOf(err: unknown): RawError {
  if (err instanceof RealtimeError && err.cause) return err.cause as RawError;
  return (err ?? {}) as RawError;
}

function networkReason(raw: RawError): string | undefined {
  const code = raw.code ?? raw.errors?.find((e) => e.code)?.code;
  if (code && NETWORK_REASONS[code]) return NETWORK_REASONS[code];
  const message = raw.message ?? "";
  if (/timeout|timed out/i.test(message)) return "timed out";
  if (/Connection terminated|connection error/i.test(message)) return "connection closed";
  return undefined;
}

function unreachable(target: DbTarget, reason: string): CliError {
  const where = maskUrl(target.url);
  if (target.embedded) {
    return new CliError(
      `cannot reach the embedded database at ${where} (${reason}); is the server running? Start it with npx realtime server start --detach, or set DATABASE_URL`,
    );
  }
  return new CliError(
    `cannot reach the database at ${where} (${reason}); is PostgreSQL running? Check DATABASE_URL`,
  );
}

/** Turns anything a database call threw into one clear line (the original error is its cause). */
export function describeDbError(err: unknown, target: DbTarget): CliError {
  if (err instanceof CliError) return err;
  return Object.assign(dbErrorLine(err, target), { cause: err });
}

function dbErrorLine(err: unknown, target: DbTarget): CliError {
  const raw = rawOf(err);
  const code = raw.code ?? "";
  const where = maskUrl(target.url);

  if (code === "3D000") {
    return new CliError(`the database at ${where} does not exist; create it and its schema with npx realtime init`);
  }
  if (code === "28P01" || code === "28000") {
    return new CliError(`cannot log in to the database at ${where} (${raw.message ?? "authentication failed"}); check DATABASE_URL`);
  }
  if (code === "42P01" || code === "42883" || code === "3F000") {
    return new CliError(
      `the database at ${where} has no realtime schema (${raw.message ?? code}); run npx realtime init`,
    );
  }
  if (code === "57P03") return unreachable(target, "the database is starting up");
  if (code === "53300") return unreachable(target, "too many connections");

  const reason = networkReason(raw);
  if (reason) return unreachable(target, reason);

  const rt = err instanceof RealtimeError ? err : toRealtimeError(raw);
  if (rt.code === "UNAVAILABLE") return unreachable(target, raw.message || "unavailable");
  if (rt.code !== "INTERNAL") return new CliError(rt.message);
  return new CliError(`database error: ${raw.message ?? String(err)}${code ? ` (SQLSTATE ${code})` : ""}`);
}

/** The one line printed for an error that reached a command's catch. */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError) return { message: err.message, exitCode: 1 };
  const e = err as { message?: string; oclif?: { exit?: number | false }; parse?: unknown; args?: Array<{ name?: string }> };
  // oclif's parser errors (bad flags, missing arguments): exit 2, message without the help hint.
  if (e?.oclif && typeof e.oclif.exit === "number") {
    // Missing arguments: their names only (oclif's message adds a table and notes on multiple flags).
    const missingArgs = Array.isArray(e.args) ? e.args.map((a) => a.name).filter((n): n is string => !!n) : [];
    if (/^Missing \d+ required args?/.test(e.message ?? "") && missingArgs.length > 0) {
      return {
        message: `missing required argument${missingArgs.length > 1 ? "s" : ""}: ${missingArgs.map((n) => n.toUpperCase()).join(", ")} (see --help)`,
        exitCode: e.oclif.exit,
      };
    }
    const lines = (e.message ?? "")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && l !== "See more help with --help");
    const missing = /^Missing \d+ required args?:?$/.exec(lines[0] ?? "");
    const text = missing
      ? `missing required argument${lines.length > 2 ? "s" : ""}: ${lines.slice(1).map((l) => l.split(/\s+/)[0].toUpperCase()).join(", ")}`
      : lines.join(" ").replace(/^Parsing (--\S+)\s+/, "$1: ");
    return { message: `${text} (see --help)`, exitCode: e.oclif.exit };
  }
  if (err instanceof RealtimeError) return { message: err.message, exitCode: 1 };
  return { message: e?.message ? e.message.split("\n")[0] : String(err), exitCode: 1 };
}

/** True when an error thrown while starting the server came from the database at `url`. */
export function isDatabaseError(err: unknown, url: string): boolean {
  const raw = rawOf(err);
  const code = raw.code ?? raw.errors?.find((e) => e.code)?.code ?? "";
  if (/^[0-9A-Z]{5}$/.test(code) && !code.startsWith("E")) return true;
  if (!NETWORK_REASONS[code]) return false;
  try {
    const { hostname, port } = new URL(url);
    const text = [raw.message ?? "", ...(raw.errors ?? []).map((e) => e.message ?? "")].join(" ");
    return text.includes(`:${port || "5432"}`) || (hostname !== "" && text.includes(hostname) && code === "ENOTFOUND");
  } catch {
    return false;
  }
}
