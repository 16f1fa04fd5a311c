// GET /health: the database as this relay sees it (ok, busy, unreachable), the LISTEN connection
// and Redis. Only an unreachable database answers 503.
import type http from "node:http";
import { POOL_BUSY_MESSAGE, type Db, type PoolState } from "../../lib/db.js";
import { ping } from "../../lib/sql/index.js";
import { PROTOCOL_VERSION, RealtimeError } from "../../protocol/index.js";
import { json } from "./json.js";

/** Calls answered BUSY this recently make /health say "busy" even while the pool has room. */
const RECENT_BUSY_MS = 10_000;

export interface HealthSources {
  readonly db: Db;
  readonly nodeId: string;
  readonly startedAt: number;
  readonly connections: number;
  /** undefined: no Redis configured (single node). */
  readonly redisReady: boolean | undefined;
  readonly listenConnected: boolean;
  readonly eventLogBuffered: number;
}

interface DatabaseState {
  /** Reachable: false only when the database cannot be reached (the 503 case). */
  ok: boolean;
  /** ok: serving; busy: reachable but calls wait or answer BUSY; unreachable: cannot connect. */
  state: "ok" | "busy" | "unreachable";
  latencyMs?: number;
  reason?: string;
  error?: string;
  pool: PoolState;
}

/**
 * The database as this relay sees it. A pool whose every connection is running a call is not
 * queued behind: a connection of its own (Db.probe) tells a busy database from an unreachable one.
 */
async function databaseState(db: Db): Promise<DatabaseState> {
  const pool = db.poolState();
  if (db.saturated) {
    const probe = await db.probe();
    // A database that refuses a new connection for want of slots is there; it is full.
    const reachable = probe.ok || probe.code === "53300";
    if (!reachable) return { ok: false, state: "unreachable", error: probe.error, pool };
    return {
      ok: true,
      state: "busy",
      latencyMs: probe.latencyMs,
      reason: `${POOL_BUSY_MESSAGE} (${pool.inUse} of ${pool.max} in use, ${pool.waiting} calls waiting)`,
      pool,
    };
  }
  const started = Date.now();
  try {
    await Promise.race([ping(db), new Promise((_, reject) => setTimeout(() => reject(new Error("timed out after 2 s")), 2000).unref())]);
  } catch (err) {
    if (err instanceof RealtimeError && err.code === "BUSY") {
      return { ok: true, state: "busy", reason: err.message, pool: db.poolState() };
    }
    return { ok: false, state: "unreachable", error: (err as Error).message, pool: db.poolState() };
  }
  const latencyMs = Date.now() - started;
  const recent = recentBusy(db);
  if (recent) return { ok: true, state: "busy", latencyMs, reason: recent, pool: db.poolState() };
  return { ok: true, state: "ok", latencyMs, pool: db.poolState() };
}

/** Calls answered BUSY within RECENT_BUSY_MS, as a reason, or undefined. */
function recentBusy(db: Db): string | undefined {
  const now = Date.now();
  const reasons: string[] = [];
  const at = (kind: "lock" | "statement_timeout" | "pool") => db.lastTrouble(kind);
  if (now - (at("lock") ?? 0) < RECENT_BUSY_MS) reasons.push("calls waited past lock_timeout for a lock");
  if (now - (at("statement_timeout") ?? 0) < RECENT_BUSY_MS) reasons.push("calls ran past statement_timeout");
  if (now - (at("pool") ?? 0) < RECENT_BUSY_MS) reasons.push("calls found no database connection free");
  return reasons.length ? `in the last ${RECENT_BUSY_MS / 1000} s: ${reasons.join("; ")}` : undefined;
}

export async function serveHealth(sources: HealthSources, res: http.ServerResponse): Promise<void> {
  const database = await databaseState(sources.db);
  const redis = sources.redisReady !== undefined ? { ok: sources.redisReady } : { ok: true, mode: "in-memory (single node)" };
  const listen = { ok: sources.listenConnected };
  // Only an unreachable database takes the relay out of a load balancer (503). A busy one (a
  // held lock, every pooled connection in use) is 200 "busy": every relay shares that database,
  // so pulling this one would only move its clients onto the others.
  const healthy = database.ok;
  json(res, healthy ? 200 : 503, {
    status: !healthy ? "unavailable" : !(redis.ok && listen.ok) ? "degraded" : database.state === "busy" ? "busy" : "ok",
    nodeId: sources.nodeId,
    connections: sources.connections,
    uptime: Math.round((Date.now() - sources.startedAt) / 1000),
    protocolVersion: PROTOCOL_VERSION,
    dependencies: { database, listen, redis },
    eventLog: { buffered: sources.eventLogBuffered },
  });
}
