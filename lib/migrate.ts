// Applies the committed migrations (graphile-migrate); `realtime init` also creates the database
// when it is missing (createDatabase), the relay never does: a misspelled DATABASE_URL fails.
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { migrate } from "graphile-migrate";
// graphile-migrate keeps its pool for 200 ms after a run and exits the process if an idle client
// of that pool errors (the database restarting, or being dropped): close it right away instead.
import { clearAllPools } from "graphile-migrate/dist/pgReal.js";
import { Logger } from "@graphile/logger";
import { readAppliedMigrations, type AppliedMigration, type Queryable } from "./sql/migrations.js";
import { ensureDatabase } from "./sql/databases.js";
import { PACKAGE_ROOT } from "./paths.js";

export const MIGRATIONS_FOLDER = path.join(PACKAGE_ROOT, "migrations");

export interface MigrateResult {
  createdDatabase: boolean;
  schemaVersion: string | null;
}

export type { AppliedMigration, Queryable } from "./sql/migrations.js";

/**
 * The migrations a database has applied (graphile_migrate.migrations), oldest first; empty when the
 * database, the schema or the table does not exist. The one reader of that table: init counts them,
 * status and the relay's start-up read the newest. `target` is a URL (a short connection) or an
 * open client.
 */
export async function appliedMigrations(target: string | Queryable): Promise<AppliedMigration[]> {
  const read = readAppliedMigrations;
  try {
    if (typeof target !== "string") return await read(target);
    const client = new pg.Client({ connectionString: target, connectionTimeoutMillis: 5000, application_name: "realtime" });
    client.on("error", () => {});
    try {
      await client.connect();
      return await read(client);
    } finally {
      await client.end().catch(() => {});
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "3D000" || code === "42P01" || code === "3F000") return [];
    throw err;
  }
}

/** The newest applied migration, or null before the first one. */
export async function schemaVersion(target: string | Queryable): Promise<string | null> {
  const applied = await appliedMigrations(target);
  return applied.length ? applied[applied.length - 1].filename : null;
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
  try {
    return (await appliedMigrations(connectionString)).find((m) => m.hash === hash)?.filename ?? null;
  } catch {
    return null;
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
