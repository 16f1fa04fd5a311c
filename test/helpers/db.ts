// Databases in tests: each test file's own database cloned from the migrated template, connections
// to the cluster's root database (roles, create/drop database) and to any URL, and rooms made with SQL.
import pg from "pg";
import { inject } from "vitest";
import { TEST_ROOT_DATABASE_URL, databaseUrl } from "./env.js";
import { stampedName } from "./names.js";
import { sleep } from "./wait.js";

export interface TestDatabase {
  name: string;
  url: string;
  /** A pool on the test database. */
  pool: pg.Pool;
  /** Runs one query and returns its rows. */
  q<T = Record<string, any>>(text: string, values?: unknown[]): Promise<T[]>;
  /** Runs one query returning a single column `v` and returns its value. */
  v<T = any>(text: string, values?: unknown[]): Promise<T>;
  drop(): Promise<void>;
}

/** url, logging in as `user` (no password). */
export function urlAs(user: string, url: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = "";
  return u.toString();
}

/** A connected client of its own (not from a pool), e.g. for explicit transactions; the caller ends it. */
export async function connectPg(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Runs fn on a short-lived connection to url. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectPg(url);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs one query on a short-lived connection to url and returns its rows. */
export async function query<T = Record<string, unknown>>(url: string, text: string, values?: unknown[]): Promise<T[]> {
  return withClient(url, async (client) => (await client.query(text, values)).rows as T[]);
}

/** Runs fn on a short-lived connection to the cluster's root database (roles, create/drop database). */
export async function withRoot<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  let root: pg.Client;
  try {
    root = await connectPg(TEST_ROOT_DATABASE_URL);
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_ROOT_DATABASE_URL} (${(err as Error).message}). ` +
        "Start it (see docs/development.md, Tests) or set TEST_DATABASE_URL.",
    );
  }
  try {
    return await fn(root);
  } finally {
    await root.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = stampedName("realtime_t");
  const template = inject("templateDatabase");
  await withRoot(async (root) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await root.query(`create database "${name}" template "${template}"`);
        return;
      } catch (err) {
        // Another file is cloning the template at this instant.
        if ((err as { code?: string }).code === "55006" && attempt < 50) {
          await sleep(50 + Math.random() * 100);
          continue;
        }
        throw err;
      }
    }
  });
  const url = databaseUrl(name);
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  pool.on("error", () => {});
  return {
    name,
    url,
    pool,
    async q(text, values) {
      return (await pool.query(text, values as unknown[])).rows;
    },
    async v(text, values) {
      const rows = (await pool.query(text, values as unknown[])).rows;
      return rows[0]?.v;
    },
    async drop() {
      await pool.end();
      await withRoot((root) => root.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

/** Creates a room with SQL; returns its name. */
export async function createRoom(
  db: TestDatabase,
  name: string,
  type = "channel",
  visibility = "public",
  metadata: Record<string, unknown> = {},
  createdBy: string | null = null,
): Promise<string> {
  await db.q("select realtime_create_room($1, $2, $3, $4::jsonb, $5)", [name, type, visibility, JSON.stringify(metadata), createdBy]);
  return name;
}
