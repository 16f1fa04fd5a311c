// Creates the database when missing and applies the committed migrations (graphile-migrate).
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { migrate } from "graphile-migrate";
// graphile-migrate keeps its pool for 200 ms after a run and exits the process if an idle client
// of that pool errors (the database restarting, or being dropped): close it right away instead.
import { clearAllPools } from "graphile-migrate/dist/pgReal.js";
import { Logger } from "@graphile/logger";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The package root: relay/ in source, dist/relay/ when built. */
export const PACKAGE_ROOT = path.basename(path.dirname(here)) === "dist" ? path.resolve(here, "../..") : path.resolve(here, "..");
export const MIGRATIONS_FOLDER = path.join(PACKAGE_ROOT, "migrations");

export interface MigrateResult {
  createdDatabase: boolean;
  schemaVersion: string | null;
}

function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Creates the database named in the URL when it does not exist; returns true when it did. */
export async function ensureDatabase(connectionString: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString });
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== "3D000") throw err;
  } finally {
    await probe.end().catch(() => {});
  }
  const url = new URL(connectionString);
  const dbName = decodeURIComponent(url.pathname.replace(/^\//, ""));
  url.pathname = "/postgres";
  const root = new pg.Client({ connectionString: url.toString() });
  await root.connect();
  try {
    await root.query(`create database ${quoteIdent(dbName)}`);
  } catch (err) {
    if ((err as { code?: string }).code !== "42P04") throw err; // created meanwhile
  } finally {
    await root.end();
  }
  return true;
}

/** The newest applied migration, or null before the first one. */
export async function schemaVersion(connectionString: string): Promise<string | null> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select filename from graphile_migrate.migrations order by date desc, filename desc limit 1`,
    );
    return rows[0]?.filename ?? null;
  } catch (err) {
    if ((err as { code?: string }).code === "42P01" || (err as { code?: string }).code === "3F000") return null;
    throw err;
  } finally {
    await client.end();
  }
}

/** Brings the database up to date; safe to run concurrently (retries on graphile-migrate's lock). */
export async function migrateDatabase(
  connectionString: string,
  log: (message: string) => void = () => {},
): Promise<MigrateResult> {
  const logger = new Logger(() => (level, message) => {
    if (level !== "debug") log(message);
  });
  const createdDatabase = await ensureDatabase(connectionString);
  for (let attempt = 0; ; attempt++) {
    try {
      try {
        await migrate({ connectionString, migrationsFolder: MIGRATIONS_FOLDER, logger }, false, false);
      } finally {
        clearAllPools();
      }
      break;
    } catch (err) {
      const message = (err as Error).message ?? "";
      if (attempt < 20 && /lock|already (being|in progress)|concurrent/i.test(message)) {
        await new Promise((r) => setTimeout(r, 250 + Math.random() * 250));
        continue;
      }
      throw err;
    }
  }
  return { createdDatabase, schemaVersion: await schemaVersion(connectionString) };
}
