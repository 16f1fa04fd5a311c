// Presence (functions/presence.sql, functions/tick.sql): many devices, chosen and custom status,
// the grace period after the last disconnect, expiry, and reading presence.
import { describe, expect, it } from "vitest";
import { uid } from "../helpers/names.js";
import { at, date, expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();

async function register(socket: string, user: string, t: number) {
  return ctx.db.v("select realtime_register_connection($1, $2, p_now => $3) as v", [socket, user, at(t)]);
}
async function close(socket: string, t: number, grace = "0") {
  return ctx.db.v("select realtime_close_connection($1, p_now => $2, p_grace => $3::interval) as v", [socket, at(t), grace]);
}
async function row(user: string) {
  return (await ctx.db.q("select * from realtime_presence where user_id = $1", [user]))[0];
}
async function presenceNotes(user: string) {
  await ctx.l.sync();
  return ctx.l.ofKind("presence").filter((m) => m.userId === user);
}

describe("many devices", () => {
  it("keeps a user online while any connection lives and sets last_seen at the last disconnect", async () => {
    // Setup: one user, two devices.
    const user = uid("alice");
    const first = await register(uid("s"), user, 0);
    const second = uid("s");
    await register(second, user, 1);
    expect(first.presence).toMatchObject({ userId: user, status: "online" });
    expect(await presenceNotes(user)).toHaveLength(1); // the second device changes nothing visible

    // Action: close the first device.
    await ctx.l.reset();
    const firstSocket = (await ctx.db.q("select socket_id from realtime_connections where id = $1", [first.connectionId]))[0].socket_id;
    expect(await close(firstSocket, 10)).toBe(true);

    // Assertions: still online, nothing announced.
    expect((await row(user)).status).toBe("online");
    expect(await presenceNotes(user)).toEqual([]);

    // Action: close the second (last) device.
    expect(await close(second, 20)).toBe(true);

    // Assertions: offline, last_seen at the last disconnect, announced once.
    const r = await row(user);
    expect(r.status).toBe("offline");
    expect(r.last_seen).toEqual(date(20));
    const notes = await presenceNotes(user);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ v: 1, kind: "presence", userId: user, status: "offline" });
    expect(new Date(notes[0].lastSeen)).toEqual(date(20));
  });

  it("returns false when closing a socket that is not open", async () => {
    expect(await close(uid("never-opened"), 0)).toBe(false);
  });

  it("keeps a chosen busy status and a custom status across reconnects and new devices", async () => {
    // Setup: connected, chose busy with a custom status.
    const user = uid("bob");
    const s1 = uid("s");
    await register(s1, user, 0);
    const custom = { text: "In a meeting", emoji: ":calendar:" };
    const set = await ctx.db.v("select realtime_set_presence($1, 'busy', $2, $3) as v", [user, custom, at(1)]);
    expect(set).toMatchObject({ userId: user, status: "busy", customStatus: custom });

    // Action: disconnect, then reconnect on a new device.
    await close(s1, 2);
    expect((await row(user)).status).toBe("offline");
    const back = await register(uid("s"), user, 3);

    // Assertions: busy and the custom status are back.
    expect(back.presence).toMatchObject({ status: "busy", customStatus: custom });

    // Action: yet another device while connected.
    const third = await register(uid("s"), user, 4);
    expect(third.presence).toMatchObject({ status: "busy", customStatus: custom });
    const r = await row(user);
    expect(r.chosen_status).toBe("busy");
    expect(r.custom_status).toEqual(custom);
  });

  it("keeps the custom status when set_presence gets SQL null and clears it on JSON null or {}", async () => {
    const user = uid("carol");
    await register(uid("s"), user, 0);
    await ctx.db.q("select realtime_set_presence($1, 'away', '{\"text\":\"lunch\"}', $2)", [user, at(1)]);

    const kept = await ctx.db.v("select realtime_set_presence($1, 'online', null, $2) as v", [user, at(2)]);
    expect(kept).toMatchObject({ status: "online", customStatus: { text: "lunch" } });

    const cleared = await ctx.db.v("select realtime_set_presence($1, 'online', 'null'::jsonb, $2) as v", [user, at(3)]);
    expect(cleared.customStatus).toBeNull();

    await ctx.db.q("select realtime_set_presence($1, 'online', '{\"text\":\"x\"}', $2)", [user, at(4)]);
    const emptied = await ctx.db.v("select realtime_set_presence($1, 'online', '{}'::jsonb, $2) as v", [user, at(5)]);
    expect(emptied.customStatus).toBeNull();
  });

  it("lets a user appear offline while connected, and keeps that choice on reconnect", async () => {
    const user = uid("dave");
    const s = uid("s");
    await register(s, user, 0);
    await ctx.l.reset();

    const r = await ctx.db.v("select realtime_set_presence($1, 'offline', null, $2) as v", [user, at(1)]);

    expect(r.status).toBe("offline");
    expect((await presenceNotes(user)).map((m) => m.status)).toEqual(["offline"]);
    await close(s, 2);
    const back = await register(uid("s"), user, 3);
    expect(back.presence.status).toBe("offline");
  });

  it("announces set_presence only when something visible changed", async () => {
    const user = uid("erin");
    await register(uid("s"), user, 0);
    await ctx.db.q("select realtime_set_presence($1, 'away', null, $2)", [user, at(1)]);
    await ctx.l.reset();

    await ctx.db.q("select realtime_set_presence($1, 'away', null, $2)", [user, at(2)]);

    expect(await presenceNotes(user)).toEqual([]);
  });

  it("records a status chosen with no connection without showing it", async () => {
    const user = uid("frank");

    const r = await ctx.db.v("select realtime_set_presence($1, 'busy', null, $2) as v", [user, at(0)]);

    expect(r.status).toBe("offline");
    expect((await row(user)).chosen_status).toBe("busy");
    const back = await register(uid("s"), user, 1);
    expect(back.presence.status).toBe("busy");
  });

  it("refuses an unknown status and a bad custom status with RT400", async () => {
    const user = uid("gina");
    await expectSqlError(ctx.db.q("select realtime_set_presence($1, 'sleeping')", [user]), "RT400", /status must be one of online, away, busy, offline/);
    await expectSqlError(ctx.db.q("select realtime_set_presence(null, 'online')"), "RT400", /user id is required/);
    for (const [bad, message] of [
      ['["x"]', /must be an object/],
      ['{"text":"x","colour":"red"}', /must be an object with text, emoji and expiresAt only/],
      ['{"text":5}', /must be strings/],
      [JSON.stringify({ text: "x".repeat(129) }), /longer than 128/],
      [JSON.stringify({ emoji: "x".repeat(33) }), /longer than 32/],
      ['{"expiresAt":"soon"}', /not a timestamp/],
      ['{"expiresAt":"infinity"}', /finite/],
    ] as const) {
      await expectSqlError(ctx.db.q("select realtime_set_presence($1, 'online', $2::jsonb)", [user, bad]), "RT400", message);
    }
    expect(await row(user)).toBeUndefined();
  });

  it("stores expiresAt as an ISO 8601 UTC timestamp", async () => {
    const user = uid("hank");

    const r = await ctx.db.v("select realtime_set_presence($1, 'online', $2, $3) as v", [user, { text: "x", expiresAt: "2030-01-01 10:00:00+02" }, at(0)]);

    expect(r.customStatus).toEqual({ text: "x", expiresAt: "2030-01-01T08:00:00.000Z" });
  });
});

describe("grace period", () => {
  it("keeps the user visible during the grace period, then realtime_tick takes them offline and announces it", async () => {
    // Setup: one connection.
    const user = uid("ivy");
    const s = uid("s");
    await register(s, user, 0);
    await ctx.l.reset();

    // Action: close with a 5 second grace period.
    await close(s, 10, "5 seconds");

    // Assertions: still online, nothing announced; a tick inside the grace period changes nothing.
    expect((await row(user)).status).toBe("online");
    expect(await ctx.db.v("select realtime_tick($1) as v", [at(12)])).toEqual({ typingExpired: 0, wentOffline: 0 });
    expect(await presenceNotes(user)).toEqual([]);

    // Action: a tick after the grace period.
    const tick = await ctx.db.v("select realtime_tick($1) as v", [at(20)]);

    // Assertions: offline, last_seen at the disconnect, announced once.
    expect(tick.wentOffline).toBeGreaterThanOrEqual(1);
    const r = await row(user);
    expect(r.status).toBe("offline");
    expect(r.last_seen).toEqual(date(10));
    expect(r.offline_at).toBeNull();
    const notes = await presenceNotes(user);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ status: "offline" });
    expect(new Date(notes[0].lastSeen)).toEqual(date(10));
  });

  it("does not flap when the user reconnects within the grace period (a page reload)", async () => {
    const user = uid("jack");
    const s = uid("s");
    await register(s, user, 0);
    await ctx.l.reset();

    await close(s, 10, "5 seconds");
    const back = await register(uid("s"), user, 12);
    await ctx.db.q("select realtime_tick($1)", [at(20)]);

    expect(back.presence.status).toBe("online");
    expect((await row(user)).status).toBe("online");
    expect((await row(user)).offline_at).toBeNull();
    expect(await presenceNotes(user)).toEqual([]); // neither offline nor online was announced
  });

  it("counts a user in grace as connected for set_presence", async () => {
    const user = uid("kim");
    const s = uid("s");
    await register(s, user, 0);
    await close(s, 10, "5 seconds");

    const r = await ctx.db.v("select realtime_set_presence($1, 'away', null, $2) as v", [user, at(11)]);

    expect(r.status).toBe("away");
  });
});

describe("custom status expiry", () => {
  it("hides an expired custom status and realtime_tick clears it and announces it", async () => {
    // Setup: a custom status expiring at T+30s.
    const user = uid("lea");
    await register(uid("s"), user, 0);
    const custom = { text: "Back soon", expiresAt: date(30).toISOString() };
    await ctx.db.q("select realtime_set_presence($1, 'online', $2, $3)", [user, custom, at(1)]);
    const before = await ctx.db.v("select realtime_get_presence(array[$1], $2) as v", [user, at(10)]);
    expect(before[0].customStatus).toEqual(custom);
    await ctx.l.reset();

    // Assertions: readers stop seeing it at expiry even before a sweep.
    const hidden = await ctx.db.v("select realtime_get_presence(array[$1], $2) as v", [user, at(31)]);
    expect(hidden[0].customStatus).toBeNull();

    // Action: the sweep.
    await ctx.db.q("select realtime_tick($1)", [at(31)]);

    // Assertions: cleared in the table, announced with the status unchanged.
    expect((await row(user)).custom_status).toBeNull();
    const notes = await presenceNotes(user);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ status: "online", customStatus: null });
  });
});

describe("realtime_get_presence", () => {
  it("answers in the order asked and reports unknown users offline", async () => {
    const a = uid("ann");
    const b = uid("ben");
    await register(uid("s"), a, 0);
    await ctx.db.q("select realtime_set_presence($1, 'busy', null, $2)", [a, at(1)]);

    const r = await ctx.db.v("select realtime_get_presence($1, $2) as v", [[b, "nobody-" + b, a], at(2)]);

    expect(r).toHaveLength(3);
    expect(r[0]).toEqual({ userId: b, status: "offline", customStatus: null, lastSeen: null });
    expect(r[1]).toEqual({ userId: "nobody-" + b, status: "offline", customStatus: null, lastSeen: null });
    expect(r[2]).toMatchObject({ userId: a, status: "busy" });
  });

  it("answers an empty list with an empty array", async () => {
    expect(await ctx.db.v("select realtime_get_presence('{}'::text[]) as v")).toEqual([]);
  });

  it("refuses more than 100 user ids and null with RT400", async () => {
    const ids = Array.from({ length: 101 }, (_, i) => `u${i}`);
    await expectSqlError(ctx.db.q("select realtime_get_presence($1)", [ids]), "RT400", /between 0 and 100/);
    await expectSqlError(ctx.db.q("select realtime_get_presence(null)"), "RT400");
    expect(await ctx.db.v("select jsonb_array_length(realtime_get_presence($1)) as v", [ids.slice(0, 100)])).toBe(100);
  });
});

describe("realtime_get_visible_presence", () => {
  it("shows a viewer itself, users sharing an active room and members of public rooms; anonymous viewers the last only", async () => {
    const [viewer, mate, former, publicOnly, loner] = ["vi", "mate", "former", "pub", "loner"].map((n) => uid(n));
    const group = uid("grp");
    const lobby = uid("lobby");
    await ctx.db.q("select realtime_create_room($1, 'group', 'private')", [group]);
    await ctx.db.q("select realtime_create_room($1)", [lobby]);
    for (const u of [viewer, mate, former]) await ctx.db.q("select realtime_add_member($1, $2)", [group, u]);
    await ctx.db.q("select realtime_remove_member($1, $2)", [group, former]);
    await ctx.db.q("select realtime_add_member($1, $2)", [lobby, publicOnly]);
    await ctx.db.q("select realtime_open_dm($1, $2)", [loner, uid("friend")]); // a dm is not a public room
    const ask = [loner, publicOnly, former, mate, viewer];
    const seen = async (v: string | null, anonymous: boolean) =>
      (await ctx.db.v<{ userId: string }[]>("select realtime_get_visible_presence($1, $2, $3) as v", [v, anonymous, ask])).map((p) => p.userId);

    expect(await seen(viewer, false)).toEqual([publicOnly, mate, viewer]);
    expect(await seen(null, true)).toEqual([publicOnly]);
    // Naming a user id does not make an anonymous viewer that user.
    expect(await seen(viewer, true)).toEqual([publicOnly]);
    await expectSqlError(ctx.db.q("select realtime_get_visible_presence($1, false, null)", [viewer]), "RT400");
  });
});

describe("presence notifications", () => {
  it("name the user's rooms, sorted", async () => {
    const user = uid("mo");
    for (const r of ["zeta", "alpha"].map((n) => uid(n))) {
      await ctx.db.q("select realtime_create_room($1)", [r]);
      await ctx.db.q("select realtime_add_member($1, $2)", [r, user]);
    }
    await ctx.l.reset();

    await register(uid("s"), user, 0);

    const [note] = await presenceNotes(user);
    expect(note.rooms).toHaveLength(2);
    expect(note.rooms).toEqual([...note.rooms].sort());
  });

  it("leave rooms out (null) past 100 rooms", async () => {
    const user = uid("ned");
    await ctx.db.q(
      `select realtime_create_room(n), realtime_add_member(n, $1)
       from (select $1 || '-room-' || i as n from generate_series(1, 101) i) s`,
      [user],
    );
    await ctx.l.reset();

    await register(uid("s"), user, 0);

    const [note] = await presenceNotes(user);
    expect(note.status).toBe("online");
    expect(note.rooms).toBeNull();
  });

  it("stay under 8000 bytes when the room names escape to a large JSON text (the connect does not fail)", async () => {
    // 28 rooms of 200 quotes: 5,600 bytes of names, over 11,000 once JSON-escaped.
    const user = uid("ola");
    await ctx.db.q(
      `select realtime_create_room(n), realtime_add_member(n, $1)
       from (select repeat('"', 200) || $1 || i as n from generate_series(1, 28) i) s`,
      [user],
    );
    await ctx.l.reset();

    const r = await register(uid("s"), user, 0);

    expect(r.rooms).toHaveLength(28);
    const [note] = await presenceNotes(user);
    expect(note.status).toBe("online");
    expect(note.rooms).toBeNull();
  });
});

describe("idle-to-away", () => {
  it("shows away a user whose every connection has been silent, and brings them back when one acts", async () => {
    const [user, s1, s2] = [uid("idler"), uid("s"), uid("s")];
    await ctx.db.q("select realtime_node_start('idle-node', p_now => $1)", [at(0)]);
    await ctx.db.q("select realtime_register_connection($1, $2, 'idle-node', p_now => $3)", [s1, user, at(0)]);
    await ctx.db.q("select realtime_register_connection($1, $2, 'idle-node', p_now => $3)", [s2, user, at(0)]);
    await ctx.db.q("select realtime_node_heartbeat('idle-node', $1::text[], $2, $3::text[])", [[s1, s2], at(50), [s2]]);
    await ctx.l.reset();

    // s2 acted at 50: not idle for 60 s at 100. (Other tests' users share this database, so the
    // assertions look at this user only.)
    await ctx.db.q("select realtime_mark_idle(interval '60 seconds', $1)", [at(100)]);
    expect(await row(user)).toMatchObject({ status: "online", idle: false });
    expect(await ctx.db.v("select realtime_mark_idle(interval '60 seconds', $1) as v", [at(111)])).toBeGreaterThanOrEqual(1);
    expect(await row(user)).toMatchObject({ status: "away", chosen_status: "online", idle: true });
    // Already idle: nothing more is announced.
    await ctx.db.q("select realtime_mark_idle(interval '60 seconds', $1)", [at(200)]);
    expect((await presenceNotes(user)).map((n) => [n.status, n.idle])).toEqual([["away", true]]);

    // Activity reported with the next heartbeat ends it.
    await ctx.l.reset();
    await ctx.db.q("select realtime_node_heartbeat('idle-node', $1::text[], $2, $3::text[])", [[s1, s2], at(210), [s1]]);
    expect(await row(user)).toMatchObject({ status: "online", idle: false });
    expect((await presenceNotes(user)).map((n) => [n.status, n.idle])).toEqual([["online", undefined]]);
  });

  it("never touches a status the user chose, and an explicit choice ends an idle away", async () => {
    const [busy, other] = [uid("busy"), uid("other")];
    await register(uid("s"), busy, 0);
    await ctx.db.q("select realtime_set_presence($1, 'busy', null, $2)", [busy, at(1)]);
    await register(uid("s"), other, 0);
    await ctx.db.q("select realtime_mark_idle(interval '10 seconds', $1)", [at(100)]);
    expect(await row(busy)).toMatchObject({ status: "busy", idle: false });
    expect(await row(other)).toMatchObject({ status: "away", idle: true });

    await ctx.db.q("select realtime_set_presence($1, 'online', null, $2)", [other, at(101)]);
    expect(await row(other)).toMatchObject({ status: "online", idle: false });
    expect(await ctx.db.v("select realtime_mark_active($1::text[], $2) as v", [[other], at(102)])).toBe(0);
  });
});
