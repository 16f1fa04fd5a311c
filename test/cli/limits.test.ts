// realtime limits [set KEY VALUE], and node liveness as the CLI shows it: judged in SQL by the
// stale-after each node declared, not by this shell's REALTIME_STALE_AFTER.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { cliEnv, type Env, errorLine, json, REPO_ROOT, runCli, tempDir } from "./run.js";

let db: TestDatabase;
let env: Env;
let cwd: string;
const cli = (...args: string[]) => runCli(args, env, { cwd });

beforeAll(async () => {
  db = await createTestDatabase();
  cwd = tempDir();
  env = cliEnv({ DATABASE_URL: db.url, REALTIME_DATA_DIR: path.join(cwd, "data"), REALTIME_PORT: "1" });
});

afterAll(async () => {
  await db?.drop();
  if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
});

describe("limits", { timeout: 60_000 }, () => {
  it("shows the database's limits, sets one, and the database enforces it for a psql caller", async () => {
    const shown = await cli("limits");
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/maxMessageLength\s+10000 characters per message/);
    expect(shown.stdout).toMatch(/statuses\s+online, away, busy, offline/);

    const set = await cli("limits", "set", "maxMessageLength", "12");
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/maxMessageLength is now 12 for every caller/);
    expect(json(await cli("limits", "--json"))).toMatchObject({ maxMessageLength: 12, maxMessageMetadataBytes: 8192 });

    await db.q("select realtime_create_room('lim-room')");
    await db.q("select realtime_add_member('lim-room', 'ann')");
    await expect(db.q("select realtime_send_message('lim-room', 'ann', 'thirteen char')")).rejects.toMatchObject({ code: "RT400" });
    await db.q("select realtime_send_message('lim-room', 'ann', 'twelve chars')");

    const restored = await cli("limits", "set", "maxMessageLength", "10000");
    expect(restored.code, restored.stderr).toBe(0);
  });

  it("refuses an unknown key (exit 2) and a value out of range in one line (exit 1), changing nothing", async () => {
    const unknown = await cli("limits", "set", "maxBogus", "5");
    const range = await cli("limits", "set", "maxMessageLength", "0");
    const notNumber = await cli("limits", "set", "maxMessageLength", "lots");

    expect(unknown.code).toBe(2);
    expect(errorLine(unknown)).toMatch(/maxBogus/);
    expect(range.code).toBe(1);
    expect(errorLine(range)).toMatch(/^Error: maxMessageLength must be an integer from 1 to 100000 \(got 0\)/);
    expect(notNumber.code).toBe(2);
    expect(json(await cli("limits", "--json")).maxMessageLength).toBe(10000);
  });
});

describe("node liveness", { timeout: 60_000 }, () => {
  it("status and stats judge each node by the stale-after it declared, whatever this shell's REALTIME_STALE_AFTER", async () => {
    // Setup: node-quick declared 1 s and last beat 5 s ago; node-slow declared 10 min and beat 5 min ago.
    await db.q(`select realtime_node_start('node-quick', 'h', 1, '{"staleAfterMs": 1000}', now() - interval '5 seconds')`);
    await db.q(`select realtime_node_start('node-slow', 'h', 2, '{"staleAfterMs": 600000}', now() - interval '5 minutes')`);
    const shellEnv = { ...env, REALTIME_STALE_AFTER: "3600000" };

    const status = await runCli(["status"], shellEnv, { cwd });
    const statusJson = json(await runCli(["status", "--json"], shellEnv, { cwd }));
    const stats = json(await runCli(["stats", "--json"], shellEnv, { cwd }));
    const table = await runCli(["stats"], shellEnv, { cwd });

    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/Nodes\s+1 alive \(node-slow\), 1 silent past their stale-after \(node-quick\)/);
    expect(statusJson.database.nodes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ nodeId: "node-quick", alive: false, state: "silent", staleAfterMs: 1000 }),
        expect.objectContaining({ nodeId: "node-slow", alive: true, state: "alive", staleAfterMs: 600000 }),
      ]),
    );
    expect(stats.nodesAlive).toBe(1);
    expect(stats.nodes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ nodeId: "node-quick", state: "silent" }),
        expect.objectContaining({ nodeId: "node-slow", state: "alive" }),
      ]),
    );
    expect(table.stdout).toMatch(/node-quick\s+h\s+1\s+0\s+silent\s+1s/);
    expect(table.stdout).toMatch(/node-slow\s+h\s+2\s+0\s+alive\s+10m/);
  });
});

describe("the CLI's SQL", () => {
  it("lives in lib/ (lib/sql/admin.ts, cluster.ts, limits.ts, lib/migrate.ts): no file of cli/ holds SQL text", () => {
    const sql = /\b(select|insert\s+into|update\s+\w+\s+set|delete\s+from|create\s+(role|database)|alter\s+role|grant|revoke)\s/i;
    const files = (fs.readdirSync(path.join(REPO_ROOT, "cli"), { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(20);
    const offenders = files.filter((f) =>
      fs
        .readFileSync(path.join(REPO_ROOT, "cli", f), "utf8")
        .split("\n")
        .filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line))
        .some((line) => sql.test(line)),
    );
    expect(offenders).toEqual([]);
  });
});
