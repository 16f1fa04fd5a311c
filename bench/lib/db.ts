// The bench database: created fresh for every scenario, migrated with the product's migrations,
// seeded with users, rooms and memberships in bulk; and cluster statistics for WAL accounting.
import pg from "pg";
import { migrateDatabase } from "../../lib/migrate.js";
import { BENCH_DB, DATABASE_URL, ROOT_URL } from "./context.js";

export async function freshDatabase(): Promise<string> {
  // migrations/committed/ can be briefly empty while someone re-commits the migration
  // (graphile-migrate uncommit/commit): retry until the schema is there.
  for (let attempt = 0; ; attempt++) {
    const root = new pg.Client({ connectionString: ROOT_URL });
    await root.connect();
    try {
      await root.query(`drop database if exists ${BENCH_DB} with (force)`);
      await root.query(`create database ${BENCH_DB}`);
    } finally {
      await root.end();
    }
    await migrateDatabase(DATABASE_URL).catch((err) => {
      if (attempt >= 30) throw err;
    });
    const ok = await withClient(async (c) => (await c.query("select to_regclass('realtime_rooms') is not null as ok")).rows[0].ok as boolean);
    if (ok) return DATABASE_URL;
    if (attempt >= 30) throw new Error("the migrations did not create the schema (is migrations/committed/ empty?)");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export async function dropDatabase(): Promise<void> {
  const root = new pg.Client({ connectionString: ROOT_URL });
  await root.connect();
  try {
    await root.query(`drop database if exists ${BENCH_DB} with (force)`);
  } finally {
    await root.end();
  }
}

export async function withClient<T>(fn: (c: pg.Client) => Promise<T>, url = DATABASE_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: "realtime-bench" });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates the rooms and active memberships of [user, room] pairs (public channels). */
export async function seedMemberships(pairs: [string, string][]): Promise<void> {
  const rooms = [...new Set(pairs.map((p) => p[1]))];
  await withClient(async (c) => {
    await c.query(`insert into realtime_rooms (name) select unnest($1::text[]) on conflict do nothing`, [rooms]);
    for (let i = 0; i < pairs.length; i += 50_000) {
      const chunk = pairs.slice(i, i + 50_000);
      await c.query(
        `insert into realtime_room_members (room_id, user_id)
         select r.id, m.u from unnest($1::text[], $2::text[]) as m(u, room) join realtime_rooms r on r.name = m.room`,
        [chunk.map((p) => p[0]), chunk.map((p) => p[1])],
      );
    }
    await c.query("analyze");
  });
}

export interface PgCounters {
  at: number;
  walBytes: number;
  walRecords: number;
  walFpi: number;
  xactCommit: number;
  tupInserted: number;
  tupUpdated: number;
  tupDeleted: number;
  tables: Record<string, { ins: number; upd: number; del: number; hotUpd: number }>;
}

/** Cluster WAL (pg_stat_wal is cluster-wide) and this database's transaction and row counters. */
export async function pgCounters(c: pg.Client): Promise<PgCounters> {
  // Statistics are sent by backends at most every 500 ms (PG 15 shared-memory stats flush on idle):
  // clear the snapshot so this read sees current values.
  await c.query("select pg_stat_clear_snapshot()");
  const wal = await c.query(`select wal_bytes::float8 as b, wal_records::float8 as r, wal_fpi::float8 as f from pg_stat_wal`);
  const db = await c.query(
    `select xact_commit::float8 as xc, tup_inserted::float8 as ti, tup_updated::float8 as tu, tup_deleted::float8 as td
     from pg_stat_database where datname = current_database()`,
  );
  const t = await c.query(
    `select relname, n_tup_ins::float8 as ins, n_tup_upd::float8 as upd, n_tup_del::float8 as del, n_tup_hot_upd::float8 as hot
     from pg_stat_user_tables where relname like 'realtime%'`,
  );
  const tables: PgCounters["tables"] = {};
  for (const r of t.rows) tables[r.relname] = { ins: r.ins, upd: r.upd, del: r.del, hotUpd: r.hot };
  return {
    at: performance.now(),
    walBytes: wal.rows[0].b,
    walRecords: wal.rows[0].r,
    walFpi: wal.rows[0].f,
    xactCommit: db.rows[0].xc,
    tupInserted: db.rows[0].ti,
    tupUpdated: db.rows[0].tu,
    tupDeleted: db.rows[0].td,
    tables,
  };
}

export function counterDelta(a: PgCounters, b: PgCounters) {
  const tables: Record<string, { ins: number; upd: number; del: number }> = {};
  for (const [name, v] of Object.entries(b.tables)) {
    const o = a.tables[name] ?? { ins: 0, upd: 0, del: 0, hotUpd: 0 };
    const d = { ins: v.ins - o.ins, upd: v.upd - o.upd, del: v.del - o.del };
    if (d.ins || d.upd || d.del) tables[name] = d;
  }
  return {
    seconds: (b.at - a.at) / 1000,
    walBytes: b.walBytes - a.walBytes,
    walRecords: b.walRecords - a.walRecords,
    walFpi: b.walFpi - a.walFpi,
    xactCommit: b.xactCommit - a.xactCommit,
    rowWrites: b.tupInserted - a.tupInserted + (b.tupUpdated - a.tupUpdated) + (b.tupDeleted - a.tupDeleted),
    tables,
  };
}
export type CounterDelta = ReturnType<typeof counterDelta>;
