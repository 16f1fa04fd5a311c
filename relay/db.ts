// The query pool. Every call is a parameterised call of a SQL function; failures become
// RealtimeErrors (UNAVAILABLE when the database cannot be reached, fast, instead of hanging).
import pg from "pg";
import { RealtimeError, toRealtimeError } from "./protocol.js";

// timestamptz and bigint as JS values the protocol can send: ISO strings and numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
});

export interface DbOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /** How long a call waits for a pooled connection before answering UNAVAILABLE. */
  connectTimeoutMs?: number;
  /**
   * statement_timeout and idle_in_transaction_session_timeout of this pool's sessions, in ms. Sent
   * in the startup packet, so they hold whatever role the URL logs in as and take precedence over
   * the role's ALTER ROLE settings; 0 sends nothing (the role's or the server's setting applies).
   */
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /**
   * PostgreSQL synchronous_commit for this pool's sessions. "off" lets a commit return before its
   * WAL reaches disk: no data is corrupted by a crash, but the last fraction of a second of
   * acknowledged writes can be lost. Commits that NOTIFY are serialised by PostgreSQL, so not
   * waiting for the disk there is what lets presence, joins and messages scale.
   */
  synchronousCommit?: "on" | "off";
}

export type QueryObserver = (name: string, seconds: number, ok: boolean) => void;

export class Db {
  readonly pool: pg.Pool;
  private observer: QueryObserver | undefined;

  constructor(options: DbOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.max ?? 10,
      application_name: options.applicationName ?? "realtime",
      connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      options: options.synchronousCommit ? `-c synchronous_commit=${options.synchronousCommit}` : undefined,
    });
    // An idle client losing its connection must not crash the process; the next call reconnects.
    this.pool.on("error", () => {});
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
      // Whatever stops us from getting a connection (refused, timed out, database not accepting
      // connections) means the database is unavailable to this relay.
      done(false);
      throw Object.assign(new RealtimeError("UNAVAILABLE", "database unavailable"), { cause: err });
    }
    try {
      const result = await client.query(text, values);
      client.release();
      done(true);
      return result.rows as T[];
    } catch (err) {
      const mapped = toRealtimeError(err);
      // A broken connection must not go back to the pool.
      client.release(mapped.code === "UNAVAILABLE" ? (err as Error) : undefined);
      done(false);
      throw Object.assign(mapped, { cause: err });
    }
  }

  /** Calls a function returning one value (jsonb, boolean, ...). */
  async value<T>(name: string, text: string, values: unknown[] = []): Promise<T> {
    const rows = await this.query<{ v: T }>(name, text, values);
    return rows[0]?.v as T;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
