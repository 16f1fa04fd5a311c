// The one error type the SDK rejects with: the server's code and message, or a local code.
import type { ErrorCode, ErrorPayload } from "./wire.js";

/**
 * Codes the SDK gives on its own, besides the server's:
 * - TIMEOUT: no answer in time (a request that cannot be retried safely);
 * - CLOSED: client.close() was called, or the server ended the connection for good;
 * - NOT_SUPPORTED: the server does not know this event (an older relay);
 * - LIMIT_EXCEEDED (a server code too) with details.limit "pendingSends": too many unsent messages.
 */
export type LocalErrorCode = "TIMEOUT" | "CLOSED" | "NOT_SUPPORTED";
export type RealtimeErrorCode = ErrorCode | LocalErrorCode;

export class RealtimeError extends Error {
  readonly code: RealtimeErrorCode;
  readonly details?: unknown;

  constructor(code: RealtimeErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = "RealtimeError";
    this.code = code;
    if (details !== undefined) this.details = details;
  }

  static from(payload: ErrorPayload | undefined | null): RealtimeError {
    if (!payload || typeof payload !== "object") return new RealtimeError("INTERNAL", "malformed error from the server");
    return new RealtimeError(payload.code, payload.message ?? payload.code, payload.details);
  }
}

/** Refusals that pass with time: the same request may be sent again (sends keep their id). */
export function isTransient(code: RealtimeErrorCode): boolean {
  return code === "UNAVAILABLE" || code === "BUSY" || code === "RATE_LIMITED" || code === "TIMEOUT";
}

/** How long to wait before retrying after a refusal (RATE_LIMITED may advertise a delay). */
export function retryDelayMs(err: RealtimeError, attempt: number): number {
  const d = err.details as { retryAfterMs?: unknown; retryAfter?: unknown } | undefined;
  if (typeof d?.retryAfterMs === "number" && d.retryAfterMs >= 0) return Math.min(d.retryAfterMs, 60_000);
  if (typeof d?.retryAfter === "number" && d.retryAfter >= 0) return Math.min(d.retryAfter * 1000, 60_000);
  const base = err.code === "RATE_LIMITED" ? 1000 : 250;
  return Math.min(base * 2 ** Math.min(attempt, 6), 10_000) * (0.75 + Math.random() * 0.5);
}
