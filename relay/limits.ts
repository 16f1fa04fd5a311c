// Per-socket abuse limits, all in memory: they protect the relay and the database from one client,
// so they must cost nothing on the well-behaved path and never call SQL.
import type { Config } from "../lib/config.js";

/** Room names and thread ids hold no control characters, so NUL separates them safely. */
export const typingKey = (roomName: string, threadId: string | null | undefined) => `${roomName}\u0000${threadId ?? ""}`;

/** A token bucket: `capacity` tokens, refilled at `perSec` per second. */
export class TokenBucket {
  private tokens: number;
  private updated = Date.now();

  constructor(
    private readonly perSec: number,
    private readonly capacity: number,
  ) {
    this.tokens = capacity;
  }

  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updated) / 1000) * this.perSec);
    this.updated = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token (0 when one is there). */
  msUntilToken(): number {
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSec) * 1000);
  }
}

/**
 * Undefined: allowed. Otherwise the bucket that refused, whether the socket must now go, and how
 * long until that bucket has a token again (a client can wait that long before retrying).
 */
export type Refusal = { limit: "general" | "presence" | "typing"; disconnect: boolean; retryAfterMs: number } | undefined;

/**
 * The limits of one socket. Every event takes a token from the general bucket, valid presence
 * and typing updates also from their own, smaller ones. A refused event takes a "strike"; strikes
 * refill at the general rate, so a client that keeps sending at more than about twice its limit
 * after being told RATE_LIMITED runs out of strikes and is disconnected.
 */
export class SocketLimits {
  private readonly general: TokenBucket;
  private readonly presence: TokenBucket;
  private readonly typing: TokenBucket;
  private readonly strikes: TokenBucket;
  /** Last accepted typing:start per room and thread: repeats inside the throttle skip SQL. Made on first use: most sockets never type. */
  private typingSince: Map<string, number> | undefined;

  constructor(private readonly config: Config) {
    this.general = new TokenBucket(config.rateLimitPerSec, config.rateLimitBurst);
    this.presence = new TokenBucket(config.presenceRateLimitPerSec, config.presenceRateLimitPerSec * 5);
    this.typing = new TokenBucket(config.typingRateLimitPerSec, config.typingRateLimitPerSec * 2);
    this.strikes = new TokenBucket(config.rateLimitPerSec, config.rateStrikes);
  }

  /**
   * Takes a token for an event ("general", on arrival) or for a valid presence or typing update
   * (after validation: garbage costs the general bucket only, updates cost both).
   */
  check(limit: "general" | "presence" | "typing", now = Date.now()): Refusal {
    if (this[limit].take(now)) return undefined;
    return { limit, disconnect: !this.strikes.take(now), retryAfterMs: this[limit].msUntilToken() };
  }

  /** True when a typing:start for this key was accepted within the throttle: answer it from memory. */
  typingThrottled(key: string, now = Date.now()): boolean {
    const since = this.typingSince?.get(key);
    return since !== undefined && now - since < this.config.typingThrottleMs;
  }

  typingStarted(key: string, now = Date.now()): void {
    this.typingSince ??= new Map();
    if (this.typingSince.size >= 1000) this.typingSince.clear(); // bounded: one socket, many rooms
    this.typingSince.set(key, now);
  }

  typingStopped(key: string): void {
    this.typingSince?.delete(key);
  }
}
