// Applies the committed migrations (graphile-migrate); `realtime init` also creates the database
// when it is missing (createDatabase), the relay never does: a misspelled DATABASE_URL fails.
import fs from "node:fs";
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

/** The hash graphile-migrate records for the newest committed migration. */
function newestCommittedHash(): string | null {
  const dir = path.join(MIGRATIONS_FOLDER, "committed");
  const newest = fs.readdirSync(dir).filter((f) => f.endsWith(".sql")).sort().pop();
  if (!newest) return null;
  const match = /^--! Hash: (\S+)$/m.exec(fs.readFileSync(path.join(dir, newest), "utf8"));
  return match ? match[1] : null;
}

/**
 * The newest committed migration's file name when it is applied, else null. A least-privilege relay role (see
 * functions/privileges.sql) can read graphile_migrate.migrations but cannot migrate: graphile-migrate
 * starts with `create schema if not exists`, which needs CREATE on the database even when the
 * schema exists. Any failure here (no such table, no privilege) means "not known to be up to date".
 */
async function appliedNewest(connectionString: string): Promise<string | null> {
  const hash = newestCommittedHash();
  if (!hash) return null;
  const client = new pg.Client({ connectionString });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ filename: string }>("select filename from graphile_migrate.migrations where hash = $1", [hash]);
    return rows[0]?.filename ?? null;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Brings the database up to date; safe to run concurrently (retries on graphile-migrate's lock). */
export async function migrateDatabase(
  connectionString: string,
  log: (message: string) => void = () => {},
  options: { createDatabase?: boolean } = {},
): Promise<MigrateResult> {
  const logger = new Logger(() => (level, message) => {
    if (level !== "debug") log(message);
  });
  // Without createDatabase a missing database fails here with 3D000 (graphile-migrate would too).
  const createdDatabase = options.createDatabase ? await ensureDatabase(connectionString) : false;
  const current = createdDatabase ? null : await appliedNewest(connectionString);
  if (current) {
    log("graphile-migrate: Already up to date");
    return { createdDatabase, schemaVersion: current };
  }
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
      if ((err as { code?: string }).code === "42501") {
        throw Object.assign(
          new Error(
            `the database needs migrating and this role may not do it (${message}): run \`realtime init\` with the schema owner's DATABASE_URL first`,
          ),
          { code: "42501", cause: err },
        );
      }
      throw err;
    }
  }
  return { createdDatabase, schemaVersion: await schemaVersion(connectionString) };
}
