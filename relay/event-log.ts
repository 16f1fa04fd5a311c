// Writes realtime_events in batches off the hot path: events are buffered and flushed every second
// (or at 500), in one call of realtime_log_events. While the database is unreachable the buffer
// keeps up to maxBuffered events; older ones are dropped and counted.
import type { Db } from "./db.js";
import type { EventLogType } from "./config.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { jsonParam, NUL_OR_LONE_SURROGATE } from "./batcher.js";
import { toRealtimeError } from "./protocol.js";

// Refused for a reason that passes (a statement timeout is already UNAVAILABLE).
const TRANSIENT_SQLSTATES = new Set(["40P01", "40001", "55P03"]);

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
          await this.db.query("log_events", "select realtime_log_events($1::jsonb)", [
            // A refusal's message can quote client input (a key of customStatus, say): NUL and lone
            // surrogates become U+FFFD rather than fail the whole batch.
            jsonParam(batch, NUL_OR_LONE_SURROGATE),
          ]);
        } catch (err) {
          // Unreachable, or refused for a reason that passes (statement timeout, deadlock,
          // serialization failure, lock): keep the batch for the next attempt.
          if (toRealtimeError(err).code === "UNAVAILABLE" || TRANSIENT_SQLSTATES.has((err as { code?: string }).code ?? "")) {
            this.log.warn({ err: (err as Error).message, buffered: this.buffer.length }, "event log write failed; will retry");
            break;
          }
          // The database refused the batch itself: retrying it would wedge the log for good.
          this.log.error({ err: (err as Error).message, dropped: batch.length }, "event log batch refused; dropped");
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
  }

  get buffered(): number {
    return this.buffer.length;
  }
}
