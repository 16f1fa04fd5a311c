// Warnings that repeat during an outage, at most one per kind per interval (10 s by default).
// The first occurrence of a kind is written at once; later ones within the interval are counted,
// and when the interval ends with some counted, one line says "N more since <time>" (it carries the
// last occurrence's fields). A kind is a short fixed label ("event-log", "db-busy"), never client
// input, so the number of kinds stays small.
import type { Logger } from "./logger.js";

type Level = "warn" | "error" | "info";

interface KindState {
  /** When the current interval started (the last line written for this kind). */
  since: number;
  suppressed: number;
  level: Level;
  message: string;
  fields: Record<string, unknown>;
  timer: NodeJS.Timeout | undefined;
}

export interface RateLimitedLogOptions {
  /** The most one kind writes: one line per interval, then a count. Default 10,000 ms. */
  intervalMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

export class RateLimitedLog {
  private readonly kinds = new Map<string, KindState>();
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly log: Logger,
    options: RateLimitedLogOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    this.write("warn", kind, fields, message);
  }

  error(kind: string, fields: Record<string, unknown>, message: string): void {
    this.write("error", kind, fields, message);
  }

  info(kind: string, fields: Record<string, unknown>, message: string): void {
    this.write("info", kind, fields, message);
  }

  /** How many occurrences of `kind` are counted and not yet written. */
  pending(kind: string): number {
    return this.kinds.get(kind)?.suppressed ?? 0;
  }

  /** Writes the counts still pending and stops the timers (at shutdown). */
  flush(): void {
    for (const [kind, state] of this.kinds) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
      if (state.suppressed > 0) this.summarise(kind, state);
    }
  }

  private write(level: Level, kind: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    const state = this.kinds.get(kind);
    if (!state || now - state.since >= this.intervalMs) {
      // A new interval: whatever was counted in the previous one goes out first, then this line.
      if (state?.timer) clearTimeout(state.timer);
      if (state && state.suppressed > 0) this.summarise(kind, state);
      this.kinds.set(kind, { since: now, suppressed: 0, level, message, fields, timer: undefined });
      this.log[level]({ ...fields, kind }, message);
      return;
    }
    state.suppressed++;
    state.level = level;
    state.message = message;
    state.fields = fields;
    if (!state.timer) {
      // The count is written when the interval ends even if nothing else of this kind comes.
      state.timer = setTimeout(() => {
        state.timer = undefined;
        if (state.suppressed > 0 && this.kinds.get(kind) === state) {
          this.summarise(kind, state);
          state.since = this.now();
        }
      }, Math.max(0, state.since + this.intervalMs - now));
      state.timer.unref();
    }
  }

  private summarise(kind: string, state: KindState): void {
    const n = state.suppressed;
    const since = new Date(state.since).toISOString();
    state.suppressed = 0;
    this.log[state.level]({ ...state.fields, kind, repeated: n, since }, `${state.message} (${n} more since ${since})`);
  }
}
