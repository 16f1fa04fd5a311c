// Writes realtime_events in batches off the hot path: events are buffered and flushed every second
// (or at 500), in one call of realtime_log_events. While the database is unreachable the buffer
// keeps up to maxBuffered events; older ones are dropped and counted. So does a database that is
// busy (a held lock, a statement timeout) or out of resources (disk full, out of memory): the
// batch is kept and tried again, and the warning about it is written at most once per 10 s.
import type { Db } from "../lib/db.js";
import type { EventLogType } from "../lib/config.js";
import type { Logger } from "../lib/logger.js";
import type { Metrics } from "./metrics.js";
import { logEvents } from "../lib/sql/events.js";
import { isTransientDbError } from "../protocol/index.js";
import { RateLimitedLog } from "../lib/rate-limited-log.js";

export interface LoggedEvent {
  type: EventLogType | "error";
  userId?: string | null;
  roomName?: string | null;
  data?: unknown;
  createdAt: string;
}

export class EventLog {
  private buffer: LoggedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly enabled: Set<string>;
  private readonly warnings: RateLimitedLog;

  constructor(
    private readonly db: Db,
    types: readonly string[],
    enabled: boolean,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly maxBuffered = 10_000,
    private readonly batchSize = 500,
  ) {
    this.enabled = new Set(enabled ? types : []);
    this.warnings = new RateLimitedLog(log);
  }

  wants(type: string): boolean {
    return this.enabled.has(type);
  }

  record(type: LoggedEvent["type"], userId: string | null | undefined, roomName: string | null | undefined, data?: unknown): void {
    if (!this.enabled.has(type)) return;
    this.buffer.push({ type, userId, roomName, data, createdAt: new Date().toISOString() });
    if (this.buffer.length > this.maxBuffered) {
      const excess = this.buffer.length - this.maxBuffered;
      this.buffer.splice(0, excess);
      this.metrics.eventLogDropped.inc(excess);
    }
    this.metrics.eventLogBuffered.set(this.buffer.length);
    if (this.buffer.length >= this.batchSize) void this.flush();
  }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Writes what is buffered; while the database is unreachable the events stay buffered for the next attempt. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.length === 0) return;
    this.flushing = (async () => {
      while (this.buffer.length > 0) {
        const batch = this.buffer.slice(0, this.batchSize);
        try {
          // A refusal's message can quote client input (a key of customStatus, say): logEvents makes
          // NUL and lone surrogates U+FFFD rather than fail the whole batch.
          await logEvents(this.db, batch);
        } catch (err) {
          // Unreachable (class 08, 57P01-57P04), out of resources (class 53: disk full, out of
          // memory, too many connections) or busy (lock, statement timeout), or a deadlock or
          // serialization victim: keep the batch for the next attempt.
          const cause = (err as { cause?: { code?: string; message?: string } }).cause ?? (err as { code?: string; message?: string });
          if (isTransientDbError(err) || isTransientDbError(cause)) {
            this.warnings.warn("event-log-retry", { err: (err as Error).message, code: cause?.code, buffered: this.buffer.length }, "event log write failed; will retry");
            break;
          }
          // The database refused the batch itself: retrying it would wedge the log for good.
          this.warnings.error("event-log-refused", { err: (err as Error).message, code: cause?.code, dropped: batch.length }, "event log batch refused; dropped");
          this.metrics.eventLogDropped.inc(batch.length);
          this.buffer.splice(0, batch.length);
          continue;
        }
        this.buffer.splice(0, batch.length);
        this.metrics.eventLogWritten.inc(batch.length);
      }
      this.metrics.eventLogBuffered.set(this.buffer.length);
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.warnings.flush();
  }

  get buffered(): number {
    return this.buffer.length;
  }
}
