// The query pool. Every call is a parameterised call of a SQL function; failures become
// RealtimeErrors (UNAVAILABLE when the database cannot be reached, fast, instead of hanging).
import pg from "pg";
import { toRealtimeError } from "./protocol.js";

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
  statementTimeoutMs?: number;
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
      statement_timeout: options.statementTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
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
    try {
      const result = await this.pool.query(text, values);
      this.observer?.(name, Number(process.hrtime.bigint() - started) / 1e9, true);
      return result.rows as T[];
    } catch (err) {
      this.observer?.(name, Number(process.hrtime.bigint() - started) / 1e9, false);
      throw Object.assign(toRealtimeError(err), { cause: err });
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
