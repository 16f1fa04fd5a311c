// Migrates a template database once per run; each test file clones it (see db.ts). Names are
// unique per run, so several runs on one server do not disturb each other.
import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../../lib/migrate.js";
import { withRoot } from "./db.js";
import { databaseUrl } from "./env.js";
import { stampedName } from "./names.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const template = stampedName("realtime_tpl");
  await withRoot(async (client) => {
    // Leftovers of interrupted runs: test databases older than two hours.
    const cutoff = Math.floor(Date.now() / 1000) - 7200;
    const { rows } = await client.query<{ datname: string }>(
      "select datname from pg_database where datname ~ '^realtime_(t|tpl)_[0-9]+_'",
    );
    for (const { datname } of rows) {
      if (Number(datname.split("_")[2]) < cutoff) await client.query(`drop database if exists "${datname}" with (force)`);
    }
    await client.query(`create database "${template}"`);
    // The least-privilege relay role (functions/privileges.sql), as `realtime init` creates it: it
    // exists before the template is migrated, so the migration grants it and every clone has the grants.
    await client.query("create role realtime_relay nologin").catch((err: { code?: string }) => {
      if (err.code !== "42710" && err.code !== "23505") throw err; // exists (or another run created it now)
    });
  });
  await migrateDatabase(databaseUrl(template));
  project.provide("templateDatabase", template);
  return async () => {
    await withRoot((client) => client.query(`drop database if exists "${template}" with (force)`));
  };
}
