// The migration and the schema:
// 1. The newest frozen `--! Included X.sql` block of each file (across all committed migrations)
//    equals functions/X.sql, so the function files (the truth) and the migration history never
//    drift. After editing functions/X.sql, add `--!include X.sql` to migrations/current.sql and
//    run `npm run db:commit -- -m "what changed"` (a new migration; committed ones never change).
// 2. A schema dump of a freshly migrated database equals test/sql/schema.sql, so any schema change
//    is deliberate and visible in review. After an intended change, regenerate it with
//      UPDATE_SCHEMA=1 npx vitest run test/sql/migration.test.ts
//    and commit test/sql/schema.sql. (The dump is `pg_dump --schema-only --no-owner
//    --no-privileges --exclude-schema=graphile_migrate` minus version comments and \restrict lines.)
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useDatabase } from "./support.js";

const ctx = useDatabase();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const committedDir = path.join(root, "migrations/committed");
const functionsDir = path.join(root, "functions");
const schemaFile = path.join(root, "test/sql/schema.sql");

function includedBlocks(migration: string): Map<string, string> {
  const blocks = new Map<string, string>();
  const re = /^--! Included (\S+)\n([\s\S]*?)^--! EndIncluded \1$/gm;
  for (const m of migration.matchAll(re)) blocks.set(m[1], m[2]);
  return blocks;
}

/** pg_dump output without what varies between machines and runs. */
function normaliseDump(dump: string): string {
  return (
    dump
      .split("\n")
      .filter((line) => !/^-- Dumped (from database|by pg_dump) version/.test(line))
      .filter((line) => !/^\\(un)?restrict /.test(line))
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trim() + "\n"
  );
}

describe("committed migration", () => {
  const files = fs.readdirSync(committedDir).filter((f) => f.endsWith(".sql")).sort();
  const all = files.map((f) => fs.readFileSync(path.join(committedDir, f), "utf8")).join("\n");
  const blocks = includedBlocks(all);

  it("includes every function file", () => {
    const functionFiles = fs.readdirSync(functionsDir).filter((f) => f.endsWith(".sql")).sort();
    expect([...blocks.keys()].sort()).toEqual(functionFiles);
  });

  for (const file of fs.readdirSync(functionsDir).filter((f) => f.endsWith(".sql")).sort()) {
    it(`freezes the current functions/${file} (else: include it in a new migration, see the header)`, () => {
      const current = fs.readFileSync(path.join(functionsDir, file), "utf8");
      const frozen = blocks.get(file);
      expect(frozen, `no --! Included ${file} block`).toBeDefined();
      expect(frozen!.trimEnd()).toBe(current.trimEnd());
    });
  }

  it("leaves migrations/current.sql empty", () => {
    const current = fs.readFileSync(path.join(root, "migrations/current.sql"), "utf8");
    expect(current.replace(/^--.*$/gm, "").trim()).toBe("");
  });
});

describe("schema", () => {
  it("matches test/sql/schema.sql (regenerate: UPDATE_SCHEMA=1 npx vitest run test/sql/migration.test.ts)", async () => {
    const { stdout } = await promisify(execFile)(
      "pg_dump",
      ["--schema-only", "--no-owner", "--no-privileges", "--exclude-schema=graphile_migrate", ctx.db.url],
      { maxBuffer: 32 * 1024 * 1024 },
    );
    const dump = normaliseDump(stdout);
    if (process.env.UPDATE_SCHEMA) fs.writeFileSync(schemaFile, dump);

    expect(fs.existsSync(schemaFile), "test/sql/schema.sql is missing: run with UPDATE_SCHEMA=1").toBe(true);
    expect(dump).toBe(fs.readFileSync(schemaFile, "utf8"));
  });
});
