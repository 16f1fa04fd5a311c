// The protocol's error codes, and how the SQLSTATEs raised by the database map to them.

export const ERROR_CODES = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "TOKEN_EXPIRED",
  "FORBIDDEN",
  "NOT_FOUND",
  "RATE_LIMITED",
  "LIMIT_EXCEEDED",
  "PAYLOAD_TOO_LARGE",
  "SERVER_FULL",
  "UNAVAILABLE",
  "BUSY",
  "INTERNAL",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error a client (or a CLI user) may see: a protocol code and a message. */
export class RealtimeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "RealtimeError";
  }
}

/** SQLSTATEs raised by the SQL functions (RTxxx) and standard ones, mapped once. */
const SQLSTATE_CODES: Record<string, ErrorCode> = {
  RT400: "BAD_REQUEST",
  RT401: "UNAUTHORIZED",
  RT403: "FORBIDDEN",
  RT404: "NOT_FOUND",
  RT409: "BAD_REQUEST",
  RT429: "LIMIT_EXCEEDED",
  "22001": "BAD_REQUEST", // string too long
  "22P02": "BAD_REQUEST", // invalid text representation
  "22007": "BAD_REQUEST", // invalid datetime format
  "22008": "BAD_REQUEST", // datetime out of range
  "23502": "BAD_REQUEST", // not null violation
  "23505": "BAD_REQUEST", // unique violation
  "23514": "BAD_REQUEST", // check violation
  // The database is reachable but a lock or the statement timeout stopped the call: retry soon.
  // A batch that fails this way is not retried row by row (every row would wait again).
  "55P03": "BUSY", // lock_not_available (lock_timeout, NOWAIT)
  "57014": "BUSY", // query_canceled (statement_timeout, pg_cancel_backend)
};

/** Short messages of the answers that are not the database's own words. */
const BUSY_MESSAGES: Record<string, string> = {
  "55P03": "database busy: a lock is held, retry",
  "57014": "database busy: the statement timed out, retry",
};
const RESOURCE_MESSAGES: Record<string, string> = {
  "53000": "database unavailable: out of resources",
  "53100": "database unavailable: disk full",
  "53200": "database unavailable: out of memory",
  "53300": "database unavailable: too many connections",
  "53400": "database unavailable: a configuration limit was exceeded",
};

/**
 * The SQLSTATE classes that mean "the database cannot serve this now" rather than "this call is
 * wrong": connection exceptions (08), insufficient resources (53: disk full, out of memory, too
 * many connections), operator intervention other than a cancel (57P01 admin shutdown, 57P02 crash
 * shutdown, 57P03 cannot connect now, 57P04 database dropped), system errors (58: I/O).
 */
export function isUnavailableSqlState(code: string | undefined): boolean {
  if (!code || code.length !== 5) return false;
  const cls = code.slice(0, 2);
  return cls === "08" || cls === "53" || cls === "58" || (cls === "57" && code.startsWith("57P"));
}

/** Class 53 (insufficient resources): disk full, out of memory, too many connections, limits. */
export function isResourceSqlState(code: string | undefined): boolean {
  return !!code && code.length === 5 && code.startsWith("53");
}

/**
 * Refusals that pass with time (the database is unreachable, out of resources, busy, or chose this
 * transaction as a deadlock or serialization victim): a writer that batches keeps the batch and
 * tries again later instead of dropping it.
 */
export function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === "40P01" || code === "40001") return true;
  const mapped = toRealtimeError(err).code;
  return mapped === "UNAVAILABLE" || mapped === "BUSY";
}

const NETWORK_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "EAI_AGAIN"]);

/** Maps anything thrown by a database call to a RealtimeError. */
export function toRealtimeError(err: unknown): RealtimeError {
  if (err instanceof RealtimeError) return err;
  const e = err as { code?: string; message?: string };
  const code = e?.code;
  const mapped = code ? SQLSTATE_CODES[code] : undefined;
  if (mapped === "BUSY") return new RealtimeError("BUSY", BUSY_MESSAGES[code!]);
  if (mapped) return new RealtimeError(mapped, e.message ?? "bad request", code === "RT409" ? { reason: "CONFLICT" } : undefined);
  if (isUnavailableSqlState(code)) {
    return new RealtimeError("UNAVAILABLE", RESOURCE_MESSAGES[code!] ?? (isResourceSqlState(code) ? RESOURCE_MESSAGES["53000"] : "database unavailable"));
  }
  if ((code && NETWORK_ERRNOS.has(code)) || /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e?.message ?? "")) {
    return new RealtimeError("UNAVAILABLE", "database unavailable");
  }
  return new RealtimeError("INTERNAL", "internal error");
}
