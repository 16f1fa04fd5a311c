// Migrates a template database once per run; each test file clones it (see db.ts).
import pg from "pg";
import { migrateDatabase } from "../../relay/migrate.js";
import { TEMPLATE_DATABASE, TEST_ROOT_DATABASE_URL, databaseUrl } from "./env.js";

export default async function setup(): Promise<void> {
  const root = new pg.Client({ connectionString: TEST_ROOT_DATABASE_URL });
  try {
    await root.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_ROOT_DATABASE_URL} (${(err as Error).message}). ` +
        "Start it (see README, Tests) or set TEST_DATABASE_URL.",
    );
  }
  try {
    // Databases left behind by an interrupted run.
    const { rows } = await root.query(
      "select datname from pg_database where datname like 'realtime_t\\_%' or datname = $1",
      [TEMPLATE_DATABASE],
    );
    for (const { datname } of rows) {
      await root.query(`drop database if exists "${datname}" with (force)`);
    }
    await root.query(`create database "${TEMPLATE_DATABASE}"`);
  } finally {
    await root.end();
  }
  await migrateDatabase(databaseUrl(TEMPLATE_DATABASE));
}
