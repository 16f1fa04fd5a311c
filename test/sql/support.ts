// Shared by the SQL tests: a database per file, a LISTEN connection that keeps the raw payloads,
// a controlled clock, and SQLSTATE assertions.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { connectPg, createTestDatabase, type TestDatabase } from "../helpers/db.js";

/** The test clock: a whole second shortly before the real now (views compare with now()). */
export const T0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;

/** The ISO timestamp T0 + seconds, to pass as p_now. */
export function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

/** at(seconds) as a Date, to compare with timestamptz columns. */
export function date(seconds: number): Date {
  return new Date(T0 + seconds * 1000);
}

/** Awaits a query that must fail, and checks its SQLSTATE (and message). */
export async function expectSqlError(p: Promise<unknown>, code: string, message?: RegExp): Promise<pg.DatabaseError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e as pg.DatabaseError,
  );
  expect(err, `expected an error with SQLSTATE ${code}`).not.toBeNull();
  expect(err!.code, `${err!.message}`).toBe(code);
  if (message) expect(err!.message).toMatch(message);
  return err!;
}

export interface Listener {
  /** Parsed payloads since the last clear(). */
  messages: any[];
  /** Every raw payload received on this connection, never cleared. */
  raw: string[];
  ofKind(kind: string): any[];
  waitFor(pred: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Resolves once every notification committed before the call has been received. */
  sync(): Promise<void>;
  clear(): void;
  /** sync() then clear(): forget everything committed so far. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const SENTINEL = "test-sync";

/**
 * A dedicated LISTEN connection on channel realtime. sync() sends a marker notification and waits
 * for it: notifications are delivered in commit order, so everything committed earlier has arrived.
 */
export async function listenRealtime(url: string): Promise<Listener> {
  const client = await connectPg(url);
  const messages: any[] = [];
  const raw: string[] = [];
  const waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  let syncs = 0;
  client.on("notification", (n) => {
    const m = JSON.parse(n.payload ?? "null");
    if (m?.kind !== SENTINEL) {
      raw.push(n.payload ?? "");
      messages.push(m);
    }
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  await client.query("listen realtime");
  const waitFor = (pred: (m: any) => boolean, timeoutMs = 3000): Promise<any> => {
    const found = messages.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      waiters.push(w);
      setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) {
          waiters.splice(i, 1);
          reject(new Error("timed out waiting for a notification"));
        }
      }, timeoutMs);
    });
  };
  const sync = async () => {
    const id = ++syncs;
    const arrived = waitFor((m) => m?.kind === SENTINEL && m.id === id);
    await client.query("select pg_notify('realtime', $1)", [JSON.stringify({ v: 1, kind: SENTINEL, id })]);
    await arrived;
  };
  return {
    messages,
    raw,
    ofKind: (kind) => messages.filter((m) => m.kind === kind),
    waitFor,
    sync,
    clear() {
      messages.length = 0;
    },
    async reset() {
      await sync();
      messages.length = 0;
    },
    async close() {
      await client.end();
    },
  };
}

/** Every payload is {"v":1,"kind":...} and under the 8000-byte NOTIFY limit. */
export function expectWellFormedPayloads(raw: string[]): void {
  for (const payload of raw) {
    expect(Buffer.byteLength(payload, "utf8"), payload.slice(0, 200)).toBeLessThan(8000);
    const m = JSON.parse(payload);
    expect(m.v, payload.slice(0, 200)).toBe(1);
    expect(typeof m.kind, payload.slice(0, 200)).toBe("string");
  }
}

export interface Context {
  db: TestDatabase;
  l: Listener;
}

/**
 * Gives the calling test file its own database and a listener; each test starts with an empty
 * message list; at the end every payload received must have been well formed.
 */
export function useDatabase(): Context {
  const ctx = {} as Context;
  beforeAll(async () => {
    ctx.db = await createTestDatabase();
    ctx.l = await listenRealtime(ctx.db.url);
  });
  beforeEach(async () => {
    await ctx.l.reset();
  });
  afterAll(async () => {
    try {
      if (ctx.l) {
        await ctx.l.sync();
        expectWellFormedPayloads(ctx.l.raw);
      }
    } finally {
      await ctx.l?.close();
      await ctx.db?.drop();
    }
  });
  return ctx;
}
