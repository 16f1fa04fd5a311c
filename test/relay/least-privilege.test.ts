// A relay whose DATABASE_URL logs in as a role with only realtime_relay's privileges (as `realtime
// init --relay-user` sets it up, with short role timeouts): it starts without migrating, serves
// connect, join, send, typing, presence and stored broadcasts, its LISTEN connection outlives the role's idle
// timeouts, and its pool uses REALTIME_STATEMENT_TIMEOUT / REALTIME_IDLE_TX_TIMEOUT. Against a
// database that was never migrated it refuses to start with one clear line.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupRelayRole } from "../../lib/sql/roles.js";
import { createRoom, createTestDatabase, type TestDatabase, urlAs, withRoot as root } from "../helpers/db.js";
import { databaseUrl } from "../helpers/env.js";
import { stampedName, uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackOk, connect, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { sleep, until } from "../helpers/wait.js";

const suffix = `${process.pid}_${Math.random().toString(16).slice(2, 8)}`;
// A group role of this file's own (realtime_relay is shared by every test run on the cluster).
const group = `rt_relay_group_e2e_${suffix}`;
const login = `rt_relay_e2e_${suffix}`;
let db: TestDatabase;
let relay: TestRelay;

beforeAll(async () => {
  db = await createTestDatabase();
  // Role timeouts far below the relay's own: the pool overrides them, the LISTEN connection keeps them.
  await setupRelayRole(db.url, { role: group, login, statementTimeoutMs: 1000, idleTxTimeoutMs: 300 });
  relay = await startRelay(
    {
      DATABASE_URL: urlAs(login, db.url),
      REALTIME_STATEMENT_TIMEOUT: "4321",
      REALTIME_IDLE_TX_TIMEOUT: "8765",
      REALTIME_PRESENCE_HEARTBEAT: "1000",
      REALTIME_LOG_EVENT_TYPES: "connect,disconnect,error,message,join,presence",
    },
    { db },
  );
});

afterAll(async () => {
  await relay?.dispose();
  await db?.drop(); // the only database where the group role holds privileges
  await root(async (c) => {
    await c.query(`drop role if exists ${login}`);
    await c.query(`drop role if exists ${group}`);
  });
});

describe("a relay connected as the least-privilege role", () => {
  it("connects, joins, sends, types and updates presence; every session is the login role's", async () => {
    // Setup
    const room = await createRoom(db, uid("room"));
    const [alice, bob] = [uid("alice"), uid("bob")];
    const a = await connect(relay.url, token(alice));
    const b = await connect(relay.url, token(bob));
    await ackOk(a, "room:join", { roomName: room });
    await ackOk(b, "room:join", { roomName: room });
    // Longer than the role's idle-in-transaction timeout: the idle LISTEN connection must survive it.
    await sleep(800);

    // Action and assertions, one event at a time.
    const message = nextEvent(b, "message:new", (m: any) => m.content === "hello");
    await ackOk(a, "message:send", { roomName: room, content: "hello" });
    expect(await message).toMatchObject({ roomName: room, userId: alice });

    const typing = nextEvent(b, "typing:event", (t: any) => t.users.includes(alice));
    a.emit("typing:start", { roomName: room });
    expect(await typing).toMatchObject({ roomName: room, users: [alice] });

    const presence = nextEvent(b, "presence:changed", (p: any) => p.userId === alice && p.status === "busy");
    await ackOk(a, "presence:update", { status: "busy" });
    expect(await presence).toMatchObject({ userId: alice, status: "busy" });

    // A broadcast too large for NOTIFY is stored; the relay reads it back from realtime_events.
    const big = nextEvent(b, "report:ready", (p: any) => p.text?.length === 9000);
    await db.q("select realtime_broadcast($1, 'report:ready', $2::jsonb)", [room, JSON.stringify({ text: "x".repeat(9000) })]);
    await big;

    const res = await fetch(`${relay.url}/health`);
    expect(res.status).toBe(200);
    expect((await res.json()).dependencies).toMatchObject({ database: { ok: true }, listen: { ok: true } });
    const sessions = await db.q<{ usename: string; application_name: string }>(
      "select usename, application_name from pg_stat_activity where datname = current_database() and application_name like 'realtime-%'",
    );
    expect(sessions.map((s) => s.application_name)).toEqual(expect.arrayContaining(["realtime-listen", expect.stringMatching(/^realtime-relay /)]));
    expect(new Set(sessions.map((s) => s.usename))).toEqual(new Set([login]));
    // The rows were written (through the definer functions), and the event log too.
    expect(await db.v("select count(*)::int as v from realtime_connections where user_id in ($1, $2) and disconnected_at is null", [alice, bob])).toBe(2);
    await until(async () => (await db.v("select count(*)::int as v from realtime_events where type = 'connect' and user_id = $1", [alice])) === 1);
  });

  it("sets the pool's timeouts from REALTIME_STATEMENT_TIMEOUT and REALTIME_IDLE_TX_TIMEOUT", async () => {
    const [row] = await relay.server.relay.db.query<{ s: string; i: string }>(
      "test",
      "select current_setting('statement_timeout') as s, current_setting('idle_in_transaction_session_timeout') as i",
    );
    expect(row).toEqual({ s: "4321ms", i: "8765ms" });
  });
});

describe("a database that was never migrated", () => {
  it("makes the least-privilege relay refuse to start, saying to run realtime init", async () => {
    const name = stampedName("realtime_t_empty");
    await root((c) => c.query(`create database "${name}"`));
    try {
      const err = await startRelay({ DATABASE_URL: urlAs(login, databaseUrl(name)) }, { db }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/needs migrating and this role may not do it .*run `realtime init`/);
    } finally {
      await root((c) => c.query(`drop database if exists "${name}" with (force)`));
    }
  });
});
