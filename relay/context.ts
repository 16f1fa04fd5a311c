// What the parts of the relay share: configuration, the pool, the Socket.io server, metrics, logs.
// Each part takes the slice it needs, never the whole relay.
import type { Config } from "../lib/config.js";
import type { Db } from "../lib/db.js";
import type { Logger } from "../lib/logger.js";
import type { RateLimitedLog } from "../lib/rate-limited-log.js";
import type { RealtimeError } from "../protocol/index.js";
import type { EventLog } from "./event-log.js";
import type { Metrics } from "./metrics.js";
import type { RelayServer, RelaySocket } from "./sockets.js";

export interface RelayContext {
  readonly config: Readonly<Config>;
  readonly db: Db;
  readonly io: RelayServer;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly eventLog: EventLog;
  /** Warnings a relay repeats during an outage, written at most once per kind per 10 s. */
  readonly warnings: RateLimitedLog;
}

/** Emits `error` to a socket, counted, and written to the event log (flood refusals excepted). */
export function sendError(ctx: Pick<RelayContext, "metrics" | "eventLog">, socket: RelaySocket, err: RealtimeError): void {
  ctx.metrics.errors.inc({ code: err.code });
  socket.emit("error", { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) });
  // A flooding client must not turn its refusals into event-log writes; its disconnect is logged.
  if (err.code === "RATE_LIMITED" && !(err.details as { disconnected?: boolean } | undefined)?.disconnected) return;
  if (ctx.eventLog.wants("error")) {
    ctx.eventLog.record("error", socket.data.identity?.anonymous ? null : socket.data.identity?.userId, null, { code: err.code, message: err.message });
  }
}
