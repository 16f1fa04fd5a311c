// Operations commands: init, status, stats, connections, events, clean-stale, prune-events, token,
// --help, and the one-line failures (unreachable database, bad configuration, no database at all).
import fs from "node:fs";
import path from "node:path";
import jwt from "jsonwebtoken";
import { Config, settings } from "@oclif/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scramVerifier } from "../../lib/sql/roles.js";
import { createTestDatabase, query, type TestDatabase, urlAs, withClient, withRoot } from "../helpers/db.js";
import { databaseUrl, TEST_ROOT_DATABASE_URL } from "../helpers/env.js";
import { CLI_JWT_SECRET } from "../helpers/tokens.js";
import { cliEnv, type Env, errorLine, json, REPO_ROOT, runCli, tempDir } from "./run.js";

let db: TestDatabase;
let env: Env;
let cwd: string;
const cli = (...args: string[]) => runCli(args, env, { cwd });
const freshDatabases: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  cwd = tempDir();
  env = cliEnv({ DATABASE_URL: db.url, REALTIME_DATA_DIR: path.join(cwd, "data"), REALTIME_PORT: "1" });
});

afterAll(async () => {
  await db?.drop();
  await withRoot(async (root) => {
    for (const name of freshDatabases) await root.query(`drop database if exists "${name}" with (force)`);
  });
  if (cwd) fs.rmSync(cwd, { recursive: true, force: true });
});

describe("init", { timeout: 60_000 }, () => {
  it.concurrent("creates a missing database, migrates it, and is safe to run again", async () => {
    const name = `realtime_t_cli_init_${process.pid}`;
    freshDatabases.push(name);
    const url = databaseUrl(name);
    const initEnv = { ...env, DATABASE_URL: url };

    const first = await runCli(["init"], initEnv, { cwd });
    const second = await runCli(["init", "--json"], initEnv, { cwd });

    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Database: created postgres:\/\/.*\/realtime_t_cli_init_/);
    expect(first.stdout).toMatch(/Migrations: applied \d+, schema \S+/);
    expect(first.stdout).toContain("Redis: not configured");
    expect(first.stdout).toMatch(/JWT: HS256, REALTIME_JWT_SECRET set \(\d+ characters\)/);
    expect(first.stdout).not.toContain(CLI_JWT_SECRET);
    expect(second.code, second.stderr).toBe(0);
    const report = json(second);
    expect(report.database).toMatchObject({ embedded: false, created: false, migrationsApplied: 0 });
    expect(report.database.schemaVersion).toEqual(expect.any(String));
    const rows = await query<{ ok: boolean }>(url, "select to_regclass('realtime_rooms') is not null as ok");
    expect(rows[0].ok).toBe(true);
  });

  it.concurrent("reports an up-to-date database", async () => {
    const r = await cli("init");

    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Database: postgres:\/\/.* exists/);
    expect(r.stdout).toMatch(/Migrations: up to date, schema \S+/);
  });

  it.concurrent("fails when Redis is configured but unreachable, masking its password", async () => {
    const r = await runCli(["init"], { ...env, REALTIME_REDIS_URL: "redis://:hunter2pass@127.0.0.1:1" }, { cwd });

    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/^Error: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 \(connection refused\)/);
    expect(r.stdout + r.stderr).not.toContain("hunter2pass");
  });

  it.concurrent("creates the relay role and a login member of it with the configured timeouts, never printing the password", async () => {
    // Roles of this test only (realtime_relay is shared by every test run on the cluster).
    const group = `rt_cli_group_${process.pid}`;
    const login = `rt_cli_login_${process.pid}`;
    try {
      const r = await runCli(
        ["init", "--relay-role", group, "--relay-user", login],
        { ...env, REALTIME_RELAY_PASSWORD: "pw-not-printed-123", REALTIME_STATEMENT_TIMEOUT: "7000" },
        { cwd },
      );

      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Relay role: ${group} created (executes the SQL API, reads tables and views, writes none, statement_timeout 7000 ms, idle_in_transaction_session_timeout 10000 ms)`);
      expect(r.stdout).toContain(`Relay login: ${login} created, member of ${group}`);
      expect(r.stdout + r.stderr).not.toContain("pw-not-printed-123");
      // Stored as the verifier init computed: the password itself never reached the server.
      const stored = await db.v<string>("select rolpassword as v from pg_authid where rolname = $1", [login]);
      expect(stored).toMatch(/^SCRAM-SHA-256\$4096:/);
      expect(await db.v("select pg_has_role($1, $2, 'usage') as v", [login, group])).toBe(true);
      expect(await db.v("select rolcanlogin and not rolsuper as v from pg_roles where rolname = $1", [login])).toBe(true);
      expect(
        await db.v("select s.setconfig as v from pg_db_role_setting s join pg_roles r on r.oid = s.setrole where r.rolname = $1", [login]),
      ).toEqual(["statement_timeout=7000", "idle_in_transaction_session_timeout=10000"]);
      await withClient(urlAs(login, db.url), async (asLogin) => {
        expect((await asLogin.query("select realtime_get_presence(array['x']) as v")).rows[0].v).toHaveLength(1);
        await expect(asLogin.query("delete from realtime_rooms")).rejects.toMatchObject({ code: "42501" });
      });
    } finally {
      await db.q(`drop owned by ${group}`).catch(() => {});
      await db.q(`drop role if exists ${login}`);
      await db.q(`drop role if exists ${group}`);
    }
  });

  it("computes the same SCRAM-SHA-256 verifier as PostgreSQL for a password", async () => {
    const role = `rt_cli_scram_${process.pid}`;
    const c = await db.pool.connect();
    try {
      await c.query("set password_encryption = 'scram-sha-256'");
      for (const password of ["correct horse battery staple", "pässwörd-ünïcode", "x"]) {
        await c.query(`drop role if exists ${role}`);
        await c.query(`create role ${role} password ${c.escapeLiteral(password)}`);
        const stored = (await c.query("select rolpassword as v from pg_authid where rolname = $1", [role])).rows[0].v as string;
        const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
        expect(scramVerifier(password, Number(iterations), Buffer.from(salt, "base64"))).toBe(stored);
      }
    } finally {
      await c.query(`drop role if exists ${role}`);
      c.release();
    }
  });

  it.concurrent("without CREATEROLE: migrates and notes the missing relay role; a requested login role is an error", async () => {
    // Setup: a database owner that may create databases but not roles.
    const owner = `rt_cli_owner_${process.pid}`;
    const name = `realtime_t_cli_owner_${process.pid}`;
    freshDatabases.push(name);
    await db.q(`create role ${owner} login createdb nocreaterole`);
    try {
      const url = Object.assign(new URL(databaseUrl(name)), { username: owner }).toString();
      const group = `rt_cli_nogroup_${process.pid}`;

      const plain = await runCli(["init", "--relay-role", group], { ...env, DATABASE_URL: url }, { cwd });
      const withLogin = await runCli(["init", "--relay-role", group, "--relay-user", "rt_cli_nologin"], { ...env, DATABASE_URL: url }, { cwd });

      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout).toMatch(/Migrations: applied \d+/);
      expect(plain.stdout).toContain(`Relay role: NOTE: cannot create role ${group}: ${owner} lacks CREATEROLE`);
      expect(withLogin.code).toBe(1);
      expect(errorLine(withLogin)).toBe(`Error: cannot create the relay login role rt_cli_nologin without ${group}`);
    } finally {
      await withRoot(async (root) => {
        await root.query(`drop database if exists "${name}" with (force)`);
        await root.query(`drop role if exists ${owner}`);
      });
    }
  });

  it.concurrent("fails when no JWT secret is configured for an external database", async () => {
    const r = await runCli(["init"], { ...env, REALTIME_JWT_SECRET: undefined }, { cwd });

    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/^Error: REALTIME_JWT_SECRET: is not set/);
  });
});

describe("failures", { timeout: 60_000 }, () => {
  it.concurrent("an unreachable database is one line with the password masked, exit 1", async () => {
    const badEnv = { ...env, DATABASE_URL: "postgres://postgres:s3cretpw@127.0.0.1:1/x" };
    const commands = [["rooms"], ["rooms", "--json"], ["init"], ["create-room", "a"]];
    const results = await Promise.all(commands.map((args) => runCli(args, badEnv, { cwd })));
    for (const [i, r] of results.entries()) {
      expect(r.code, commands[i].join(" ")).toBe(1);
      expect(r.stdout.includes("s3cretpw") || r.stderr.includes("s3cretpw")).toBe(false);
      expect(errorLine(r)).toBe(
        "Error: cannot reach the database at postgres://postgres:***@127.0.0.1:1/x (connection refused); is PostgreSQL running? Check DATABASE_URL",
      );
    }
  });

  it.concurrent("a database without the schema says to run init", async () => {
    const r = await runCli(["rooms"], { ...env, DATABASE_URL: TEST_ROOT_DATABASE_URL }, { cwd });

    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/has no realtime schema .*run npx realtime init/);
  });

  it.concurrent("a missing database says to run init", async () => {
    const r = await runCli(["events"], { ...env, DATABASE_URL: databaseUrl("realtime_t_cli_missing") }, { cwd });

    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/realtime_t_cli_missing does not exist; create it .* npx realtime init/);
  });

  it.concurrent("no DATABASE_URL and no running embedded database", async () => {
    const r = await runCli(["rooms"], { ...env, DATABASE_URL: undefined }, { cwd });

    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(
      "Error: no DATABASE_URL and the embedded database is not running: start the server (npx realtime server start --detach) or set DATABASE_URL",
    );
  });

  it.concurrent("a bad configuration value names the variable", async () => {
    const r = await runCli(["stats"], { ...env, REALTIME_PORT: "eighty" }, { cwd });

    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe('Error: REALTIME_PORT: must be an integer, got "eighty"');
  });

  it.concurrent("LOG_LEVEL=debug adds the stack trace", async () => {
    const r = await runCli(["rooms"], { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/x", LOG_LEVEL: "debug" }, { cwd });

    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toMatch(/^Error: cannot reach the database/);
    expect(r.stderr).toContain("ECONNREFUSED");
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

describe("status", { timeout: 60_000 }, () => {
  it.concurrent("summarises the configuration with secrets masked, the database and the server", async () => {
    const r = await runCli(["status"], { ...env, REALTIME_REDIS_URL: "redis://:topsecret@127.0.0.1:1" }, { cwd });

    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(CLI_JWT_SECRET);
    expect(r.stdout).not.toContain("topsecret");
    expect(r.stdout).toMatch(/jwt\s+HS256, REALTIME_JWT_SECRET set/);
    expect(r.stdout).toMatch(/Database\s+reachable, PostgreSQL \d+.*schema \S+/);
    expect(r.stdout).toMatch(/Redis\s+unreachable at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    expect(r.stdout).toMatch(/Server\s+not running/);
  });

  it.concurrent("--json reports each check", async () => {
    const status = json(await cli("status", "--json"));

    expect(status.config.database).toContain(db.name);
    expect(status.database).toMatchObject({ reachable: true, embedded: false, schemaVersion: expect.any(String) });
    expect(status.redis).toEqual({ configured: false });
    expect(status.server).toMatchObject({ running: false, pid: null });
  });

  it.concurrent("still answers when the database is unreachable", async () => {
    const r = await runCli(["status", "--json"], { ...env, DATABASE_URL: "postgres://postgres:pw@127.0.0.1:1/x" }, { cwd });

    expect(r.code).toBe(0);
    expect(json(r).database).toMatchObject({ reachable: false, error: expect.stringContaining("connection refused") });
  });
});

describe("connections, events and stats", { timeout: 60_000 }, () => {
  beforeAll(async () => {
    await db.q("select realtime_node_start('node-a', 'host-a', 4242)");
    await db.q(`select realtime_register_connection('sock-ann-1', 'ann', 'node-a', '{"type":"web"}')`);
    await db.q("select realtime_register_connection('sock-ann-2', 'ann', 'node-a')");
    await db.q("select realtime_register_connection('sock-ben', 'ben', 'node-a')");
    await db.q("select realtime_register_connection('sock-anon', null, 'node-a', null, '{}', true)");
    await db.q("select realtime_set_presence('ben', 'busy')");
    await db.q("select realtime_create_room('stats-room')");
    await db.q("select realtime_add_member('stats-room', 'ann')");
    await db.q("select realtime_send_message('stats-room', 'ann', 'hello')");
    await db.q("select realtime_start_typing('stats-room', 'ann', null, 'sock-ann-1', interval '5 minutes')");
    await db.q(`select realtime_log_events('[{"type":"connect","userId":"ann"},{"type":"connect","userId":"ben"},{"type":"error","userId":"ben","data":{"code":"BAD_REQUEST"}}]')`);
    await db.q("select realtime_log_event('connect', 'old', null, null, now() - interval '3 days')");
  });

  it.concurrent("connections lists open sockets; --user and --json", async () => {
    const table = await cli("connections");
    const ann = json<any[]>(await cli("connections", "--user", "ann", "--json"));

    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^SOCKET\s+USER\s+STATUS\s+NODE/);
    expect(table.stdout).toMatch(/sock-ben\s+ben\s+busy\s+node-a/);
    expect(table.stdout).toMatch(/sock-anon\s+\(anonymous\)/);
    expect(ann.map((c) => c.socketId).sort()).toEqual(["sock-ann-1", "sock-ann-2"]);
    expect(ann.find((c) => c.socketId === "sock-ann-1")).toMatchObject({ userId: "ann", nodeId: "node-a", presenceStatus: "online", device: { type: "web" } });
  });

  it.concurrent("events shows newest first with filters", async () => {
    const newest = json<any[]>(await cli("events", "-n", "2", "--json"));
    const messages = await cli("events", "--type", "message", "--room", "stats-room");
    const ben = json<any[]>(await cli("events", "--user", "ben", "--json"));
    const recent = json<any[]>(await cli("events", "--since", "1h", "--json"));

    expect(newest).toHaveLength(2);
    expect(newest[0].seq).toBeGreaterThan(newest[1].seq);
    expect(messages.stdout).toMatch(/^\s*SEQ\s+TIME\s+TYPE\s+USER\s+ROOM\s+DATA/);
    expect(messages.stdout).toMatch(/message\s+ann\s+stats-room\s+\{"content":"hello"/);
    expect(ben.map((e) => e.type).sort()).toEqual(["connect", "error"]);
    expect(recent.some((e) => e.userId === "old")).toBe(false);
  });

  it.concurrent("events rejects a bad -n and a bad --since", async () => {
    const zero = await cli("events", "-n", "0");
    const since = await cli("events", "--since", "yesterday");

    expect(zero.code).toBe(2);
    expect(since.code).toBe(2);
    expect(errorLine(since)).toMatch(/--since must be a duration like 30s, 15m, 1h or 7d/);
  });

  it.concurrent("stats counts connections, rooms, presence, typers, events and nodes", async () => {
    const stats = json(await cli("stats", "--json"));
    const wide = json(await cli("stats", "--since", "7d", "--json"));
    const table = await cli("stats");

    expect(stats.connections).toEqual({ total: 4, authenticated: 3, anonymous: 1, users: 2 });
    expect(stats.rooms.byType.channel).toBeGreaterThanOrEqual(1);
    expect(stats.members).toBeGreaterThanOrEqual(1);
    expect(stats.presence).toMatchObject({ online: 1, busy: 1 });
    expect(stats.typing).toBe(1);
    expect(stats.events.byType).toMatchObject({ connect: 2, error: 1, message: 1 });
    expect(wide.events.byType.connect).toBe(3);
    expect(stats.nodes).toEqual([expect.objectContaining({ nodeId: "node-a", hostname: "host-a", pid: 4242, connectionCount: 4 })]);
    expect(table.stdout).toMatch(/Connections\s+4 open/);
    expect(table.stdout).toMatch(/node-a\s+host-a\s+4242\s+4\s+alive/);
  });
});

describe("maintenance", { timeout: 60_000 }, () => {
  it.concurrent("clean-stale closes connections of dead relays and prints them", async () => {
    await db.q("select realtime_register_connection('sock-ghost', 'ghost', 'node-dead')");
    await db.q("update realtime_nodes set last_heartbeat = now() - interval '1 hour' where id = 'node-dead'");

    const first = await cli("clean-stale");
    const second = json<any[]>(await cli("clean-stale", "--json"));

    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Closed 1 stale connection/);
    expect(first.stdout).toMatch(/sock-ghost\s+ghost\s+node-dead\s+node dead/);
    expect(second).toEqual([]);
    expect(await db.v("select status as v from realtime_presence where user_id = 'ghost'")).toBe("offline");
  });

  it.concurrent("prune-events deletes events older than --older-than", async () => {
    await db.q("select realtime_log_event('connect', 'ancient', null, null, now() - interval '30 days')");

    const r = await cli("prune-events", "--older-than", "7d");
    const again = json(await cli("prune-events", "--older-than", "7d", "--json"));

    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Deleted 1 event older than 7d/);
    expect(again).toEqual({ deleted: 0, olderThan: "7d" });
    expect(await db.v("select count(*)::int as v from realtime_events where user_id = 'ancient'")).toBe(0);
  });

  it.concurrent("prune-events rejects a bad duration", async () => {
    const r = await cli("prune-events", "--older-than", "7x");

    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/--older-than must be a duration/);
  });
});

describe("token", { timeout: 60_000 }, () => {
  it.concurrent("prints only an HS256 token that verifies with REALTIME_JWT_SECRET", async () => {
    const r = await cli("token", "alice", "--ttl", "15m", "--role", "admin", "--role", "editor");

    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = jwt.verify(r.stdout.trim(), CLI_JWT_SECRET, { algorithms: ["HS256"] }) as jwt.JwtPayload;
    expect(claims.sub).toBe("alice");
    expect(claims.roles).toEqual(["admin", "editor"]);
    expect(claims.exp! - Math.floor(Date.now() / 1000)).toBeGreaterThan(14 * 60);
    expect(claims.exp! - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(15 * 60);
  });

  it.concurrent("adds audience and issuer when configured", async () => {
    const r = await runCli(["token", "bob", "--json"], { ...env, REALTIME_JWT_AUDIENCE: "chat", REALTIME_JWT_ISSUER: "https://auth.example" }, { cwd });

    const out = json(r);
    const claims = jwt.verify(out.token, CLI_JWT_SECRET, { algorithms: ["HS256"], audience: "chat", issuer: "https://auth.example" }) as jwt.JwtPayload;
    expect(claims.sub).toBe("bob");
    expect(out.userId).toBe("bob");
    expect(Date.parse(out.expiresAt)).toBe(claims.exp! * 1000);
  });

  it.concurrent("uses the development secret in embedded mode (no secret, no DATABASE_URL)", async () => {
    const dataDir = path.join(cwd, "embedded-data");
    const r = await runCli(["token", "carol"], { ...env, DATABASE_URL: undefined, REALTIME_JWT_SECRET: undefined, REALTIME_DATA_DIR: dataDir }, { cwd });

    expect(r.code, r.stderr).toBe(0);
    const { loadOrCreateDevSecret } = await import("../../lib/embedded.js");
    const claims = jwt.verify(r.stdout.trim(), loadOrCreateDevSecret(dataDir), { algorithms: ["HS256"] }) as jwt.JwtPayload;
    expect(claims.sub).toBe("carol");
  });

  it.concurrent("refuses without a secret when DATABASE_URL is set, and rejects a bad --ttl", async () => {
    const noSecret = await runCli(["token", "dave"], { ...env, REALTIME_JWT_SECRET: undefined }, { cwd });
    const badTtl = await cli("token", "dave", "--ttl", "forever");

    expect(noSecret.code).toBe(1);
    expect(noSecret.stdout).toBe("");
    expect(errorLine(noSecret)).toMatch(/REALTIME_JWT_SECRET is not set/);
    expect(badTtl.code).toBe(2);
  });
});

describe("help", { timeout: 60_000 }, () => {
  it.concurrent("every command has a summary, a description and examples", async () => {
    settings.enableAutoTranspile = false; // load the compiled commands, as bin/run.js does
    const config = await Config.load(REPO_ROOT);
    const ids = config.commands.map((c) => c.id).sort();

    expect(ids).toEqual(expect.arrayContaining([
      "init", "status", "stats", "server:start", "server:stop", "server:logs", "rooms", "create-room", "delete-room",
      "members", "add-member", "remove-member", "open-dm", "connections", "events", "presence", "clean-stale",
      "prune-events", "token",
    ]));
    for (const command of config.commands) {
      expect(command.summary, command.id).toEqual(expect.any(String));
      expect(command.description, command.id).toEqual(expect.any(String));
      expect(command.examples?.length, command.id).toBeGreaterThan(0);
    }
  });

  it.concurrent("--help renders them", async () => {
    const [root, createRoom, serverStart] = await Promise.all([
      cli("--help"),
      cli("create-room", "--help"),
      cli("server", "start", "--help"),
    ]);

    expect(root.code).toBe(0);
    expect(root.stdout).toMatch(/create-room\s+Create a channel, group or broadcast room\./);
    expect(root.stdout).toMatch(/server\s+Start, stop and inspect the realtime server/);
    for (const [r, id] of [[createRoom, "create-room"], [serverStart, "server start"]] as const) {
      expect(r.code, id).toBe(0);
      expect(r.stdout, id).toContain("DESCRIPTION");
      expect(r.stdout, id).toContain("EXAMPLES");
      expect(r.stdout, id).toContain(`$ realtime ${id}`);
    }
    expect(createRoom.stdout).toMatch(/--type=<option>\s+\[default: channel\] room type/);
  });
});
