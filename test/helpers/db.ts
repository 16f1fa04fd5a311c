// Per-file isolation: each test file gets its own database cloned from the migrated template.
import pg from "pg";
import { inject } from "vitest";
import { TEST_ROOT_DATABASE_URL, databaseUrl, stampedName } from "./env.js";

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

/** Runs fn on a short-lived connection to the cluster's root database (roles, create/drop database). */
export async function withRoot<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const root = new pg.Client({ connectionString: TEST_ROOT_DATABASE_URL });
  await root.connect();
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
          await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
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
