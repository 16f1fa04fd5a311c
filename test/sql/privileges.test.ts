// Least privilege (functions/privileges.sql, cli/lib/relay-role.ts): a login role that has only the
// privileges of realtime_relay can call the whole API and read every table and view, cannot write
// a table directly, and cannot make a security definer function use its own temporary tables. Every
// security definer function pins search_path; `realtime init`'s role setup sets the timeouts; and a
// schema owner without CREATEROLE (no superuser anywhere) still migrates and runs everything.
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupRelayRole } from "../../lib/sql/roles.js";
import { migrateDatabase } from "../../lib/migrate.js";
import { PACKAGE_ROOT } from "../../lib/paths.js";
import { urlAs, withRoot as root } from "../helpers/db.js";
import { databaseUrl } from "../helpers/env.js";
import { stampedName, uid } from "../helpers/names.js";
import { at, expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();
const PINNED = "search_path=pg_catalog, public, pg_temp";
/** graphile-migrate records a committed migration as its number: "000002.sql". */
const NEWEST_MIGRATION = fs.readdirSync(path.join(PACKAGE_ROOT, "migrations/committed")).sort().pop()!.slice(0, 6) + ".sql";
const suffix = `${process.pid}_${Math.random().toString(16).slice(2, 8)}`;
/** Cluster-wide roles this file creates, dropped at the end. */
const roles: string[] = [];

/** A login role that is only a member of realtime_relay. */
async function relayLogin(name: string): Promise<string> {
  await root((c) => c.query(`create role ${name} login in role realtime_relay`));
  roles.push(name);
  return name;
}

let relay: pg.Pool;
beforeAll(async () => {
  const login = await relayLogin(`rt_relay_login_${suffix}`);
  relay = new pg.Pool({ connectionString: urlAs(login, ctx.db.url), max: 3 });
  relay.on("error", () => {});
});

// Registered after useDatabase's hooks, so it runs before the file's database is dropped: the
// privileges granted there to this file's roles go first, then the roles.
afterAll(async () => {
  await relay?.end();
  for (const r of roles) await ctx.db.q(`drop owned by ${r}`).catch(() => {});
  await root(async (c) => {
    for (const r of roles.reverse()) await c.query(`drop role if exists ${r}`);
  });
});

const asRelay = async <T = any>(text: string, values: unknown[] = []): Promise<T> => (await relay.query(text, values)).rows[0]?.v as T;

describe("the relay role", () => {
  it("can execute every Realtime function but realtime_apply_privileges and realtime_set_limits, and PUBLIC can execute none", async () => {
    const rows = await ctx.db.q<{ proname: string; relay: boolean; public: boolean }>(
      `select p.proname, has_function_privilege('realtime_relay', p.oid, 'execute') as relay,
              p.proacl is null or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public
       from pg_proc p
       where p.pronamespace = 'public'::regnamespace and (p.proname like 'realtime\\_%' or p.proname = 'disconnect_stale_connections')`,
    );

    expect(rows.length).toBeGreaterThan(40);
    expect(rows.filter((r) => r.public).map((r) => r.proname)).toEqual([]);
    expect(rows.filter((r) => !r.relay).map((r) => r.proname).sort()).toEqual(["realtime_apply_privileges", "realtime_set_limits"]);
  });

  it("runs the relay's whole API: nodes, registration, rooms, messages, typing, presence, sweeps, events", async () => {
    // Setup: as the relay login only.
    const [node, s1, s2, alice, bob, room] = [uid("node"), uid("s"), uid("s"), uid("alice"), uid("bob"), uid("room")];

    await asRelay("select realtime_node_start($1, 'host', 1) as v", [node]);
    const registered = await asRelay(
      "select realtime_register_connections($1::jsonb, $2) as v",
      [JSON.stringify([{ socketId: s1, userId: alice, maxPerUser: 5 }, { socketId: s2, userId: bob }]), node],
    );
    await asRelay("select realtime_create_room($1) as v", [room]);
    const joined = await asRelay("select realtime_join_room($1, $2) as v", [room, alice]);
    const batchJoined = await asRelay("select realtime_join_rooms($1::jsonb) as v", [JSON.stringify([{ roomName: room, userId: bob }])]);
    const sent = await asRelay("select realtime_send_messages($1::jsonb) as v", [JSON.stringify([{ roomName: room, userId: alice, content: "hi" }])]);
    const single = await asRelay("select realtime_send_message($1, $2, 'again') as v", [room, bob]);
    const typing = await asRelay("select realtime_typing_changes($1::jsonb) as v", [
      JSON.stringify([{ op: "start", roomName: room, userId: alice, socketId: s1 }]),
    ]);
    const typers = await asRelay("select realtime_typers($1, null) as v", [room]);
    await asRelay("select realtime_start_typing($1, $2) as v", [room, bob]);
    await asRelay("select realtime_stop_typing($1, $2) as v", [room, bob]);
    const presence = await asRelay("select realtime_set_presence($1, 'busy', '{\"text\": \"lunch\"}') as v", [alice]);
    const got = await asRelay("select realtime_get_presence($1::text[]) as v", [[alice, bob]]);
    const notOpen = await asRelay("select realtime_node_heartbeat($1, $2::text[], now(), $3::text[]) as v", [node, [s1, s2, "gone"], [s1]]);
    await asRelay("select realtime_mark_active($1::text[]) as v", [[alice]]);
    await asRelay("select realtime_mark_idle(interval '1 hour') as v");
    await asRelay("select realtime_tick() as v");
    await asRelay("select count(*) as v from disconnect_stale_connections()");
    const logged = await asRelay("select realtime_log_events($1::jsonb) as v", [JSON.stringify([{ type: "connect", userId: alice }])]);
    const replay = await asRelay("select realtime_room_events_since($1, $2, 0) as v", [room, alice]);
    const rooms = await asRelay("select realtime_user_room_names($1) as v", [alice]);
    await asRelay("select realtime_broadcast($1, 'order:shipped', '{\"id\": 1}') as v", [room]);
    await asRelay("select realtime_leave_room($1, $2) as v", [room, bob]);
    const closed = await asRelay("select realtime_close_connection($1) as v", [s2]);
    const pruned = await asRelay("select realtime_prune_events(interval '30 days') as v");
    const stopped = await asRelay("select realtime_node_stop($1) as v", [node]);

    // Assertions: every call did its work.
    expect(registered.map((r: any) => r.presence?.status)).toEqual(["online", "online"]);
    expect(joined).toMatchObject({ joined: true });
    expect(batchJoined).toEqual([{ ok: true, value: expect.objectContaining({ joined: true, memberCount: 2 }) }]);
    expect(sent[0]).toMatchObject({ ok: true, message: { content: "hi" } });
    expect(single).toMatchObject({ content: "again" });
    expect(typing[0]).toMatchObject({ ok: true, value: { changed: true } });
    expect(typers).toEqual([alice]);
    expect(presence).toMatchObject({ status: "busy" });
    expect(got.map((p: any) => p.userId)).toEqual([alice, bob]);
    expect(notOpen).toEqual(["gone"]);
    expect(logged).toBe(1);
    expect(replay.events.map((e: any) => e.content)).toEqual(["hi", "again"]);
    expect(rooms).toEqual([room]);
    expect(closed).toBe(true);
    expect(Number(pruned)).toBe(0);
    expect(stopped).toBe(1);
  });

  it("reads every view and table", async () => {
    const relations = await ctx.db.q<{ relname: string }>(
      "select relname from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'v') and relname like 'realtime\\_%' order by 1",
    );
    expect(relations.map((r) => r.relname)).toEqual(expect.arrayContaining([
      "realtime_active_connections", "realtime_room_stats", "realtime_current_typing", "realtime_presence_summary",
      "realtime_node_stats", "realtime_connections", "realtime_events",
    ]));

    for (const { relname } of relations) {
      await expect(relay.query(`select count(*) from ${relname}`), relname).resolves.toBeDefined();
    }
  });

  it("cannot insert, update, delete or truncate any table, nor use the event sequence (42501)", async () => {
    const tables = await ctx.db.q<{ relname: string; col: string }>(
      `select c.relname, (select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum = 1) as col
       from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relname like 'realtime\\_%' order by 1`,
    );
    expect(tables.length).toBe(9);

    for (const { relname, col } of tables) {
      await expectSqlError(relay.query(`insert into ${relname} default values`), "42501", new RegExp(relname));
      await expectSqlError(relay.query(`update ${relname} set ${col} = ${col}`), "42501", new RegExp(relname));
      await expectSqlError(relay.query(`delete from ${relname}`), "42501", new RegExp(relname));
      await expectSqlError(relay.query(`truncate ${relname}`), "42501", new RegExp(relname));
    }
    await expectSqlError(relay.query("select nextval(pg_get_serial_sequence('realtime_events', 'seq'))"), "42501");
    await expectSqlError(relay.query("select realtime_apply_privileges('realtime_relay')"), "42501");
    await expectSqlError(relay.query(`select realtime_set_limits('{"maxMessageLength": 100000}')`), "42501");
  });

  it("cannot redirect a security definer function to its own temporary tables", async () => {
    // Setup: one session of the relay login shadows realtime_rooms and realtime_connections with
    // temporary look-alikes and puts pg_temp first in its search_path.
    const client = await relay.connect();
    const [room, socket, user] = [uid("room"), uid("s"), uid("u")];
    try {
      await client.query("create temp table realtime_rooms (like public.realtime_rooms including all)");
      await client.query("create temp table realtime_connections (like public.realtime_connections including all)");
      await client.query("set search_path = pg_temp, public");

      // Action: definer functions that read and write those tables.
      await client.query("select realtime_create_room($1)", [room]);
      await client.query("select realtime_register_connections($1::jsonb)", [JSON.stringify([{ socketId: socket, userId: user }])]);
      const joined = (await client.query("select realtime_join_room($1, $2) as v", [room, user])).rows[0].v;

      // Assertions: the real tables got the rows; the session's look-alikes stayed empty.
      expect(joined).toMatchObject({ joined: true });
      expect((await client.query("select count(*)::int as n from pg_temp.realtime_rooms")).rows[0].n).toBe(0);
      expect((await client.query("select count(*)::int as n from pg_temp.realtime_connections")).rows[0].n).toBe(0);
    } finally {
      client.release(true);
    }
    expect(await ctx.db.v("select count(*)::int as v from public.realtime_rooms where name = $1", [room])).toBe(1);
    expect(await ctx.db.v("select count(*)::int as v from public.realtime_connections where socket_id = $1", [socket])).toBe(1);
  });
});

describe("security definer functions", () => {
  it("every one of them pins search_path to pg_catalog, public, pg_temp (pg_temp last)", async () => {
    const definers = await ctx.db.q<{ proname: string; proconfig: string[] | null }>(
      `select p.proname, p.proconfig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema') order by 1`,
    );

    expect(definers.length).toBeGreaterThan(30);
    for (const { proname, proconfig } of definers) {
      const paths = (proconfig ?? []).filter((s) => s.startsWith("search_path="));
      expect(paths, proname).toEqual([PINNED]);
    }
  });

  it("are exactly the API functions that write; the helpers they call and the readers are invoker", async () => {
    const rows = await ctx.db.q<{ proname: string; prosecdef: boolean; provolatile: string }>(
      `select proname, prosecdef, provolatile from pg_proc
       where pronamespace = 'public'::regnamespace and (proname like 'realtime\\_%' or proname = 'disconnect_stale_connections')`,
    );
    const invokerWriters = rows.filter((r) => r.provolatile === "v" && !r.prosecdef).map((r) => r.proname).sort();
    const definerReaders = rows.filter((r) => r.provolatile !== "v" && r.prosecdef).map((r) => r.proname);

    // Called only from definer functions (running as the owner); called by the relay role itself
    // they could write nothing. realtime_apply_privileges is the owner's, not the API's.
    expect(invokerWriters).toEqual([
      "realtime_apply_privileges", "realtime_clear_typing_of_sockets", "realtime_close_connections", "realtime_notify",
      "realtime_notify_presence", "realtime_notify_typing", "realtime_send_to", "realtime_settle_presence",
    ]);
    expect(definerReaders).toEqual([]);
  });
});

describe("role setup by realtime init", () => {
  it("creates a login member of the relay role with the timeouts set on both, and refreshes it when run again", async () => {
    const role = `rt_group_${suffix}`;
    const login = `rt_app_${suffix}`;
    roles.push(login, role);
    const options = { role, login, password: "s3cret-relay", statementTimeoutMs: 5000, idleTxTimeoutMs: 10000 };

    const first = await setupRelayRole(ctx.db.url, options);
    const second = await setupRelayRole(ctx.db.url, options);

    expect(first).toMatchObject({ role, exists: true, created: true, privileges: true, timeouts: true, login: { name: login, created: true }, notes: [] });
    expect(second).toMatchObject({ created: false, privileges: true, login: { created: false, exists: true }, notes: [] });
    const settings = await ctx.db.q<{ rolname: string; setconfig: string[] }>(
      `select r.rolname, s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
       where r.rolname in ($1, $2) and s.setdatabase = 0 order by 1`,
      [login, role],
    );
    for (const s of settings) {
      expect(s.setconfig.sort(), s.rolname).toEqual(["idle_in_transaction_session_timeout=10000", "statement_timeout=5000"]);
    }
    expect(settings).toHaveLength(2);
    expect(await ctx.db.v("select rolcanlogin as v from pg_roles where rolname = $1", [role])).toBe(false);
    expect(await ctx.db.v("select pg_has_role($1, $2, 'usage') as v", [login, role])).toBe(true);

    // A session of the login has the timeouts, may call the API and may not write.
    const c = new pg.Client({ connectionString: urlAs(login, ctx.db.url) });
    await c.connect();
    try {
      expect((await c.query("show statement_timeout")).rows[0].statement_timeout).toBe("5s");
      expect((await c.query("show idle_in_transaction_session_timeout")).rows[0].idle_in_transaction_session_timeout).toBe("10s");
      await c.query("select realtime_set_presence($1, 'away')", [uid("u")]);
      await expectSqlError(c.query("delete from realtime_presence"), "42501");
    } finally {
      await c.end();
    }
  });

  it("the role timeouts cancel a long statement and end an idle transaction", async () => {
    const role = `rt_group_short_${suffix}`;
    const login = `rt_app_short_${suffix}`;
    roles.push(login, role);
    await setupRelayRole(ctx.db.url, { role, login, statementTimeoutMs: 200, idleTxTimeoutMs: 300 });
    const c = new pg.Client({ connectionString: urlAs(login, ctx.db.url) });
    c.on("error", () => {});
    await c.connect();
    try {
      await expectSqlError(c.query("select pg_sleep(1)"), "57014", /statement timeout/);

      await c.query("begin");
      await c.query("select 1");
      await new Promise((r) => setTimeout(r, 800));
      const err = await c.query("select 1").then(() => null, (e: Error & { code?: string }) => e);

      expect(err, "the idle transaction's session was ended").not.toBeNull();
    } finally {
      await c.end().catch(() => {});
    }
  });

  it("refuses the owner itself as the relay login, and a role name that is not a plain identifier", async () => {
    const me = await ctx.db.v<string>("select current_user as v");
    await expect(setupRelayRole(ctx.db.url, { role: "realtime_relay", login: me, statementTimeoutMs: 5000, idleTxTimeoutMs: 10000 })).rejects.toThrow(
      /must not be the schema owner/,
    );
    await expect(setupRelayRole(ctx.db.url, { role: "Bad-Name", statementTimeoutMs: 5000, idleTxTimeoutMs: 10000 })).rejects.toThrow(/identifier/);
  });
});

describe("without CREATEROLE or a superuser", { timeout: 60_000 }, () => {
  it("an ordinary owner migrates, the relay role is skipped with a note, and the API works as the owner", async () => {
    // Setup: an owner with no CREATEROLE and no superuser, and a database it owns.
    const owner = `rt_owner_${suffix}`;
    const dbName = stampedName("realtime_t_owner");
    await root((c) => c.query(`create role ${owner} login nocreaterole nocreatedb`));
    roles.push(owner);
    await root((c) => c.query(`create database "${dbName}" owner ${owner}`));
    const ownerUrl = urlAs(owner, databaseUrl(dbName));
    try {
      // Action: what `realtime init` does, as that owner.
      const migrated = await migrateDatabase(ownerUrl);
      const setup = await setupRelayRole(ownerUrl, {
        role: `rt_missing_${suffix}`, login: `rt_missing_login_${suffix}`, statementTimeoutMs: 5000, idleTxTimeoutMs: 10000,
      });

      // Assertions
      expect(migrated.schemaVersion).toBe(NEWEST_MIGRATION);
      expect(setup).toMatchObject({ exists: false, created: false, privileges: false, login: null });
      expect(setup.notes.join("\n")).toMatch(/lacks CREATEROLE.*relay connects as rt_owner_/);
      expect(setup.notes.join("\n")).toMatch(/cannot create the relay login role rt_missing_login_/);
      const c = new pg.Client({ connectionString: ownerUrl });
      await c.connect();
      try {
        expect((await c.query("select realtime_apply_privileges('no_such_role_here') as v")).rows[0].v).toBe(false);
        const [s, u] = [uid("s"), uid("u")];
        const r = (await c.query("select realtime_register_connections($1::jsonb, 'n') as v", [JSON.stringify([{ socketId: s, userId: u, maxPerUser: 1 }])])).rows[0].v;
        expect(r[0].presence).toMatchObject({ userId: u, status: "online" });
        expect((await c.query("select realtime_close_connection($1, $2) as v", [s, at(1)])).rows[0].v).toBe(true);
      } finally {
        await c.end();
      }
    } finally {
      await root((c) => c.query(`drop database if exists "${dbName}" with (force)`));
    }
  });
});
