// The query pool. Every call is a parameterised call of a SQL function; failures become
// RealtimeErrors, answered promptly instead of hanging: BUSY when the database is reachable but
// cannot serve the call now (a lock held past lock_timeout, a statement timeout, every pooled
// connection in use), UNAVAILABLE when it cannot be reached or is out of resources (disk full,
// out of memory, too many connections).
import pg from "pg";
import type { Logger } from "./logger.js";
import { RealtimeError, isResourceSqlState, isUnavailableSqlState, toRealtimeError } from "../protocol/index.js";
import { PING } from "./sql/health.js";
import { RateLimitedLog } from "./rate-limited-log.js";

// timestamptz and bigint as JS values the protocol can send: ISO strings and numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
});

export interface DbOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /**
   * How long a call waits for a pooled connection. When it runs out because every connection is
   * running a call, the answer is BUSY; when the database could not be reached, UNAVAILABLE.
   */
  connectTimeoutMs?: number;
  /**
   * statement_timeout and idle_in_transaction_session_timeout of this pool's sessions, in ms. Sent
   * in the startup packet, so they hold whatever role the URL logs in as and take precedence over
   * the role's ALTER ROLE settings; 0 sends nothing (the role's or the server's setting applies).
   */
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /**
   * lock_timeout of this pool's sessions, in ms (startup packet, like statement_timeout): a call
   * that waits longer than this for a lock (a DBA's `lock table`, a long ALTER) fails with 55P03
   * and answers BUSY instead of hanging until the statement timeout. 0 sends nothing.
   */
  lockTimeoutMs?: number;
  /**
   * PostgreSQL synchronous_commit for this pool's sessions. "off" lets a commit return before its
   * WAL reaches disk: no data is corrupted by a crash, but the last fraction of a second of
   * acknowledged writes can be lost. Commits that NOTIFY are serialised by PostgreSQL, so not
   * waiting for the disk there is what lets presence, joins and messages scale.
   */
  synchronousCommit?: "on" | "off";
  /** Where the rate-limited warnings about database trouble go (none: silent). */
  log?: Logger;
}

export type QueryObserver = (name: string, seconds: number, ok: boolean) => void;

/** What the pool is doing now, for /health and /metrics. */
export interface PoolState {
  /** Most connections the pool opens. */
  max: number;
  /** Connections open or opening. */
  total: number;
  /** Connections checked out by a running call. */
  inUse: number;
  idle: number;
  /** Calls waiting for a connection. */
  waiting: number;
}

/** Why a call answered BUSY or UNAVAILABLE, counted since start (for /metrics and /health). */
export type TroubleKind = "lock" | "statement_timeout" | "pool" | "resource" | "unreachable" | "connection_lost";

export const POOL_BUSY_MESSAGE = "server busy: no database connection free";

export class Db {
  readonly pool: pg.Pool;
  readonly max: number;
  private observer: QueryObserver | undefined;
  private checkedOut = 0;
  private readonly warnings: RateLimitedLog | undefined;
  private readonly counts = new Map<TroubleKind, number>();
  private readonly lastAt = new Map<TroubleKind, number>();
  private readonly probeConfig: pg.ClientConfig;
  private probing: Promise<{ ok: boolean; latencyMs?: number; error?: string; code?: string }> | undefined;

  constructor(options: DbOptions) {
    this.max = options.max ?? 10;
    const statementTimeout = options.statementTimeoutMs ?? 30_000;
    const lockTimeout = options.lockTimeoutMs ?? 2000;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: this.max,
      application_name: options.applicationName ?? "realtime",
      connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
      statement_timeout: statementTimeout,
      lock_timeout: lockTimeout,
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      options: options.synchronousCommit ? `-c synchronous_commit=${options.synchronousCommit}` : undefined,
    });
    this.probeConfig = {
      connectionString: options.connectionString,
      application_name: `${options.applicationName ?? "realtime"} health`,
      connectionTimeoutMillis: 2000,
      statement_timeout: 2000,
    };
    this.warnings = options.log ? new RateLimitedLog(options.log) : undefined;
    // An idle client losing its connection must not crash the process; the next call reconnects.
    this.pool.on("error", () => {});
    // Nor a checked-out one: pg emits 'error' on a client whose backend goes away (a DBA's
    // pg_terminate_backend, a restart) and the pool listens only while the client is idle. This
    // listener stays for the client's whole life; the call it was serving fails on its own, and
    // the broken client is discarded when that call releases it.
    this.pool.on("connect", (client) => {
      client.on("error", (err: Error) => this.trouble("connection_lost", err));
    });
  }

  observe(observer: QueryObserver): void {
    this.observer = observer;
  }

  /** Runs a statement; `name` labels it in metrics. Throws RealtimeError. */
  async query<T = Record<string, unknown>>(name: string, text: string, values: unknown[] = []): Promise<T[]> {
    const started = process.hrtime.bigint();
    const done = (ok: boolean) => this.observer?.(name, Number(process.hrtime.bigint() - started) / 1e9, ok);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      done(false);
      throw Object.assign(this.connectFailure(err), { cause: err });
    }
    this.checkedOut++;
    let released = false;
    const release = (destroy?: Error) => {
      if (released) return;
      released = true;
      this.checkedOut--;
      client.release(destroy);
    };
    try {
      const result = await client.query(text, values);
      release();
      done(true);
      return result.rows as T[];
    } catch (err) {
      const mapped = toRealtimeError(err);
      // A broken connection must not go back to the pool. A session refused for want of resources
      // (disk full, out of memory) is sound: reconnecting would only add load.
      const code = (err as { code?: string })?.code;
      release(mapped.code === "UNAVAILABLE" && !isResourceSqlState(code) ? (err as Error) : undefined);
      done(false);
      this.noteFailure(mapped, err);
      throw Object.assign(mapped, { cause: err });
    }
  }

  /** Calls a function returning one value (jsonb, boolean, ...). */
  async value<T>(name: string, text: string, values: unknown[] = []): Promise<T> {
    const rows = await this.query<{ v: T }>(name, text, values);
    return rows[0]?.v as T;
  }

  /** The pool's connections now. */
  poolState(): PoolState {
    return {
      max: this.max,
      total: this.pool.totalCount,
      inUse: this.checkedOut,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
    };
  }

  /** Every connection the pool may open is running a call: a new call waits for one. */
  get saturated(): boolean {
    return this.checkedOut >= this.max;
  }

  /** How many calls answered BUSY or UNAVAILABLE, by reason, since start. */
  troubleCounts(): Record<TroubleKind, number> {
    const out = {} as Record<TroubleKind, number>;
    for (const kind of ["lock", "statement_timeout", "pool", "resource", "unreachable", "connection_lost"] as TroubleKind[]) {
      out[kind] = this.counts.get(kind) ?? 0;
    }
    return out;
  }

  /** When `kind` last happened (ms since the epoch), or undefined. */
  lastTrouble(kind: TroubleKind): number | undefined {
    return this.lastAt.get(kind);
  }

  /**
   * Is the database reachable, without waiting for a pool slot? One short-lived connection of its
   * own (`<application name> health`) running `select 1`, 2 s at most; concurrent callers share
   * one probe. For /health when every pooled connection is in use.
   */
  probe(): Promise<{ ok: boolean; latencyMs?: number; error?: string; code?: string }> {
    this.probing ??= (async () => {
      const started = Date.now();
      const client = new pg.Client(this.probeConfig);
      client.on("error", () => {});
      try {
        await client.connect();
        await client.query(PING);
        return { ok: true, latencyMs: Date.now() - started };
      } catch (err) {
        const e = err as { code?: string; message?: string };
        return { ok: false, error: toRealtimeError(err).message, code: e.code };
      } finally {
        void client.end().catch(() => {});
      }
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  async close(): Promise<void> {
    this.warnings?.flush();
    await this.pool.end();
  }

  /** What a failed pool.connect() answers. */
  private connectFailure(err: unknown): RealtimeError {
    const message = (err as Error)?.message ?? "";
    // pg-pool's own wait for a slot ran out. When every slot holds a connected client running a
    // call, the database is reachable and merely busy; otherwise the slots are still connecting,
    // which means the database is slow to accept or not there.
    if (/timeout exceeded when trying to connect/i.test(message) && this.checkedOut >= this.max) {
      const e = new RealtimeError("BUSY", POOL_BUSY_MESSAGE);
      this.trouble("pool", e, { ...this.poolState() });
      return e;
    }
    const code = (err as { code?: string })?.code;
    const mapped = toRealtimeError(err);
    // Whatever else stops us from getting a connection (refused, timed out, database not accepting
    // connections, too many connections) means the database is unavailable to this relay.
    const e = mapped.code === "UNAVAILABLE" ? mapped : new RealtimeError("UNAVAILABLE", "database unavailable");
    this.trouble(isResourceSqlState(code) ? "resource" : "unreachable", err);
    return e;
  }

  private noteFailure(mapped: RealtimeError, err: unknown): void {
    const code = (err as { code?: string })?.code;
    if (mapped.code === "BUSY") this.trouble(code === "55P03" ? "lock" : "statement_timeout", err);
    else if (isResourceSqlState(code)) this.trouble("resource", err);
    else if (mapped.code === "UNAVAILABLE") this.trouble(isUnavailableSqlState(code) ? "connection_lost" : "unreachable", err);
  }

  /** Counts a failure and writes at most one warning per kind per 10 s (no stack: the message and SQLSTATE). */
  private trouble(kind: TroubleKind, err: unknown, extra: Record<string, unknown> = {}): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.lastAt.set(kind, Date.now());
    const e = err as { code?: string; message?: string };
    this.warnings?.warn(`db-${kind}`, { code: e?.code, err: e?.message, ...extra }, WARNINGS[kind]);
  }
}

const WARNINGS: Record<TroubleKind, string> = {
  lock: "database busy: calls waited past lock_timeout for a lock; answering BUSY",
  statement_timeout: "database busy: calls ran past statement_timeout; answering BUSY",
  pool: "server busy: every database connection of this relay is in use; answering BUSY",
  resource: "database out of resources (disk, memory or connections); answering UNAVAILABLE",
  unreachable: "database unreachable; answering UNAVAILABLE",
  connection_lost: "a database connection was lost; answering UNAVAILABLE for the calls it carried",
};
