// Names shared by the relay, the CLI and the tests: protocol version, NOTIFY channel, error codes.

export const PROTOCOL_VERSION = 1;

/** The one NOTIFY channel; payloads are {"v":1,"kind":...}. */
export const NOTIFY_CHANNEL = "realtime";

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
  "57P01": "UNAVAILABLE", // admin shutdown
  "57P02": "UNAVAILABLE",
  "57P03": "UNAVAILABLE", // cannot connect now
  "08000": "UNAVAILABLE",
  "08003": "UNAVAILABLE",
  "08006": "UNAVAILABLE",
  "08001": "UNAVAILABLE",
  "08004": "UNAVAILABLE",
  "53300": "UNAVAILABLE", // too many connections
  // A statement that ran out of time means the database is overloaded: a client should retry
  // later, and a batch must not be retried row by row.
  "57014": "UNAVAILABLE", // statement timeout
};

const NETWORK_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "EAI_AGAIN"]);

/** Maps anything thrown by a database call to a RealtimeError. */
export function toRealtimeError(err: unknown): RealtimeError {
  if (err instanceof RealtimeError) return err;
  const e = err as { code?: string; message?: string };
  const mapped = e?.code ? SQLSTATE_CODES[e.code] : undefined;
  if (mapped) {
    const message =
      e.code === "57014" ? "database busy (statement timeout)" : mapped === "UNAVAILABLE" ? "database unavailable" : (e.message ?? "bad request");
    return new RealtimeError(mapped, message, e.code === "RT409" ? { reason: "CONFLICT" } : undefined);
  }
  if ((e?.code && NETWORK_ERRNOS.has(e.code)) || /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e?.message ?? "")) {
    return new RealtimeError("UNAVAILABLE", "database unavailable");
  }
  return new RealtimeError("INTERNAL", "internal error");
}
