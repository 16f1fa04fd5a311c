// Which database a command talks to, and a short-lived pool to talk to it.
// DATABASE_URL when set; otherwise the embedded PostgreSQL of a running server (lib/embedded.ts).
import type { Config } from "../../lib/config.js";
import type { Db } from "../../lib/db.js";
import { CliError, describeDbError, type DbTarget } from "./errors.js";

export const EMBEDDED_NOT_RUNNING =
  "no DATABASE_URL and the embedded database is not running: start the server (npx realtime server start --detach) or set DATABASE_URL";

/** The database URL of an embedded PostgreSQL that is running now, if any. */
export async function runningEmbedded(config: Readonly<Config>): Promise<string | undefined> {
  const { runningEmbeddedUrl } = await import("../../lib/embedded.js");
  return runningEmbeddedUrl(config.dataDir);
}

/** DATABASE_URL, or the running embedded database; fails with one line when there is neither. */
export async function resolveDatabase(config: Readonly<Config>): Promise<DbTarget> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false };
  const url = await runningEmbedded(config);
  if (!url) throw new CliError(EMBEDDED_NOT_RUNNING);
  return { url, embedded: true };
}

/** Opens a small pool, runs fn, closes the pool. Database failures become one-line CliErrors. */
export async function withDb<T>(
  config: Readonly<Config>,
  fn: (db: Db, target: DbTarget) => Promise<T>,
): Promise<T> {
  const target = await resolveDatabase(config);
  return withDbAt(target, fn);
}

export async function withDbAt<T>(target: DbTarget, fn: (db: Db, target: DbTarget) => Promise<T>): Promise<T> {
  const { Db } = await import("../../lib/db.js");
  const db = new Db({
    connectionString: target.url,
    max: 2,
    applicationName: "realtime-cli",
    connectTimeoutMs: 5000,
    statementTimeoutMs: 60_000,
  });
  try {
    return await fn(db, target);
  } catch (err) {
    throw describeDbError(err, target);
  } finally {
    await db.close().catch(() => {});
  }
}
