// The event log (functions/events.sql): appending, pruning, and replay from an offset with gap
// detection and authorisation.
import { describe, expect, it } from "vitest";
import { uid } from "../helpers/names.js";
import { at, date, expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();

async function roomWith(...members: string[]) {
  const name = uid("room");
  await ctx.db.q("select realtime_create_room($1)", [name]);
  for (const m of members) await ctx.db.q("select realtime_add_member($1, $2)", [name, m]);
  return name;
}
async function send(room: string, user: string, content: string, t: number): Promise<number> {
  const m = await ctx.db.v("select realtime_send_message($1, $2, $3, null, null, '{}', $4) as v", [room, user, content, at(t)]);
  return m.id;
}
async function since(room: string, user: string | null, offset: number, limit = 100, anonymous = false) {
  return ctx.db.v("select realtime_room_events_since($1, $2, $3, $4, $5) as v", [room, user, offset, limit, anonymous]);
}

describe("appending", () => {
  it("realtime_log_event returns increasing seq values", async () => {
    const a = Number(await ctx.db.v("select realtime_log_event('connect', 'u1', null, '{\"x\":1}', $1) as v", [at(0)]));
    const b = Number(await ctx.db.v("select realtime_log_event('join', 'u1', 'r1') as v"));

    expect(b).toBeGreaterThan(a);
    const row = (await ctx.db.q("select * from realtime_events where seq = $1", [a]))[0];
    expect(row).toMatchObject({ type: "connect", user_id: "u1", data: { x: 1 }, created_at: date(0) });
  });

  it("realtime_log_events appends a batch in one statement", async () => {
    const marker = uid("batch");
    const n = await ctx.db.v("select realtime_log_events($1::jsonb) as v", [
      JSON.stringify([
        { type: "connect", userId: marker },
        { type: "presence", userId: marker, data: { status: "away" }, createdAt: at(3) },
        { type: "leave", userId: marker, roomName: "r" },
      ]),
    ]);

    expect(n).toBe(3);
    const rows = await ctx.db.q("select type, room_name, data, created_at from realtime_events where user_id = $1 order by seq", [marker]);
    expect(rows.map((r) => r.type)).toEqual(["connect", "presence", "leave"]);
    expect(rows[1]).toMatchObject({ data: { status: "away" }, created_at: date(3) });
    expect(rows[2].room_name).toBe("r");
    expect(await ctx.db.v("select realtime_log_events('[]') as v")).toBe(0);
  });

  it("refuses a batch that is not an array (RT400) and an event type outside the pattern (23514)", async () => {
    await expectSqlError(ctx.db.q("select realtime_log_events('{}')"), "RT400", /JSON array/);
    await expectSqlError(ctx.db.q("select realtime_log_event('Not A Type')"), "23514", /realtime_events_type_check/);
  });
});

describe("replay", () => {
  it("returns the messages after an offset, oldest first, with latestId and no gap", async () => {
    const u = uid("u");
    const room = await roomWith(u);
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await send(room, u, `m${i}`, i));
    await ctx.db.q("select realtime_log_event('join', $1, $2)", [u, room]); // not a message: not replayed

    const r = await since(room, u, ids[1]);

    expect(r.gap).toBe(false);
    expect(r.latestId).toBe(ids[3]);
    expect(r.events.map((e: any) => e.content)).toEqual(["m2", "m3"]);
    expect(r.events[0]).toMatchObject({ id: ids[2], roomName: room, userId: u, threadId: null });
    expect(new Date(r.events[0].timestamp)).toEqual(date(2));
    expect((await since(room, u, ids[3])).events).toEqual([]);
  });

  it("reports a gap with the newest limit messages when more than limit are missing", async () => {
    const u = uid("u");
    const room = await roomWith(u);
    for (let i = 0; i < 5; i++) await send(room, u, `m${i}`, i);

    const r = await since(room, u, 0, 3);
    const exact = await since(room, u, 0, 5);

    expect(r.gap).toBe(true);
    expect(r.events.map((e: any) => e.content)).toEqual(["m2", "m3", "m4"]);
    expect(exact.gap).toBe(false);
    expect(exact.events).toHaveLength(5);
  });

  it("reports a gap after pruning removed events past the client's offset", async () => {
    // Setup: old messages at T0, new ones a day later.
    const u = uid("u");
    const room = await roomWith(u);
    const old1 = await send(room, u, "old1", -2 * 86400);
    await send(room, u, "old2", -2 * 86400);
    const fresh = await send(room, u, "fresh", 0);

    // Action: prune everything older than a day.
    const pruned = Number(await ctx.db.v("select realtime_prune_events(interval '1 day', $1) as v", [at(0)]));

    // Assertions
    expect(pruned).toBeGreaterThanOrEqual(2);
    expect(await ctx.db.v("select count(*)::int as v from realtime_events where room_name = $1", [room])).toBe(1);
    const stale = await since(room, u, old1);
    expect(stale.gap).toBe(true);
    expect(stale.events.map((e: any) => e.content)).toEqual(["fresh"]);
    expect(await since(room, u, fresh - 1)).toMatchObject({ gap: false });
    expect(Number(await ctx.db.v("select realtime_prune_events(interval '1 day', $1) as v", [at(0)]))).toBe(0);
  });

  it("lets members and anonymous readers of public rooms replay; refuses the others", async () => {
    const u = uid("u");
    const pub = await roomWith(u);
    const priv = uid("private");
    await ctx.db.q("select realtime_create_room($1, 'group', 'private')", [priv]);
    await ctx.db.q("select realtime_add_member($1, $2)", [priv, u]);
    await send(priv, u, "secret", 0);

    expect((await since(pub, null, 0, 10, true)).gap).toBeDefined();
    expect((await since(priv, u, 0)).events.map((e: any) => e.content)).toEqual(["secret"]);
    await expectSqlError(since(priv, uid("stranger"), 0), "RT403", /not a member/);
    await expectSqlError(since(priv, null, 0, 10, true), "RT403", /anonymous/);
    await expectSqlError(since(pub, uid("stranger"), 0), "RT403");
    await expectSqlError(since(uid("nowhere"), u, 0), "RT404");
  });

  it("refuses a negative offset, a bad limit and a negative retention (RT400)", async () => {
    const u = uid("u");
    const room = await roomWith(u);
    await expectSqlError(since(room, u, -1), "RT400", /since/);
    await expectSqlError(since(room, u, 0, 0), "RT400", /limit/);
    await expectSqlError(since(room, u, 0, 1001), "RT400", /limit/);
    await expectSqlError(ctx.db.q("select realtime_prune_events(interval '-1 day')"), "RT400", /retention/);
  });
});

describe("joining with since", () => {
  it("returns the replay in the join result, in one call", async () => {
    await ctx.db.q("select realtime_create_room('join-replay')");
    await ctx.db.q("select realtime_join_room('join-replay', 'writer')");
    const first = await ctx.db.v("select (realtime_send_message('join-replay', 'writer', 'a') ->> 'id')::bigint as v");
    await ctx.db.q("select realtime_send_message('join-replay', 'writer', 'b')");

    const joined = await ctx.db.v("select realtime_join_room('join-replay', 'reader', p_since => $1, p_replay_limit => 10) as v", [first]);

    expect(joined.joined).toBe(true);
    expect(joined.replay.gap).toBe(false);
    expect(joined.replay.events.map((e: any) => e.content)).toEqual(["b"]);
    const without = await ctx.db.v("select realtime_join_room('join-replay', 'reader') as v");
    expect(without.replay).toBeUndefined();
  });
});

// Last in the file: it prunes with a clock days ahead, which removes the other tests' events too.
describe("retention", () => {
  it("keeps the log bounded: each hourly prune removes every kind of event older than the retention and keeps the newer ones", async () => {
    // Setup: 12 simulated hours, starting 10 days after T0, with messages, connects, presence
    // changes and broadcasts each hour; the relay prunes hourly with a 3-hour retention.
    const u = uid("u");
    const room = await roomWith(u);
    const hour = 3600;
    const base = 10 * 86400;
    const perHour = 4;
    const counts: number[] = [];
    for (let h = 0; h < 12; h++) {
      await send(room, u, `m${h}`, base + h * hour + 60);
      await ctx.db.q("select realtime_log_events($1::jsonb)", [
        JSON.stringify([
          { type: "connect", userId: u, createdAt: at(base + h * hour + 120) },
          { type: "presence", userId: u, data: { status: "away" }, createdAt: at(base + h * hour + 180) },
          { type: "broadcast", roomName: room, data: { payload: "x".repeat(100) }, createdAt: at(base + h * hour + 240) },
        ]),
      ]);

      // Action: the hourly prune at the end of hour h.
      const now = base + (h + 1) * hour;
      await ctx.db.q("select realtime_prune_events(interval '3 hours', $1)", [at(now)]);

      // Assertions: nothing older than 3 hours is left, and everything newer is.
      const rows = await ctx.db.q<{ created_at: Date }>("select created_at from realtime_events where user_id = $1 or room_name = $2", [u, room]);
      expect(rows.every((r) => r.created_at >= date(now - 3 * hour)), `hour ${h}`).toBe(true);
      expect(rows).toHaveLength(perHour * Math.min(h + 1, 3));
      counts.push(await ctx.db.v("select count(*)::int as v from realtime_events"));
    }
    // The whole table levels off at the retention window instead of growing with the hours.
    expect(counts.slice(3)).toEqual(Array(counts.length - 3).fill(3 * perHour));
  });
});

describe("what a relay missed during a gap (realtime_changes_since)", () => {
  const changes = (rooms: string[], users: string[], t: number, now: number) =>
    ctx.db.v("select realtime_changes_since($1::text[], $2::text[], $3, 1000, $4) as v", [rooms, users, at(t), at(now)]);

  it("returns the messages of the given rooms stored since the time, oldest first, as message:new shows them", async () => {
    const [a, b] = [uid("a"), uid("b")];
    const room = await roomWith(a, b);
    const other = await roomWith(a);
    await send(room, a, "before", 9000);
    const m1 = await send(room, a, "one", 9010);
    const m2 = await send(room, b, "two", 9011);
    await send(other, a, "elsewhere", 9012);

    const r = await changes([room], [], 9005, 9020);

    expect(r.messages.map((m: { id: number }) => m.id)).toEqual([m1, m2]);
    expect(r.messages[0]).toMatchObject({ id: m1, roomName: room, userId: a, content: "one", threadId: null });
    expect(new Date(r.messages[0].timestamp)).toEqual(date(9010));
    expect(r.messages[0].eventId).toEqual(expect.any(String));
  });

  it("returns presence changed since then of the given users and of members of the given rooms, with their rooms", async () => {
    const [a, b, stranger] = [uid("a"), uid("b"), uid("s")];
    const room = await roomWith(a, b);
    await ctx.db.q("select realtime_set_presence($1, 'busy', null, $2)", [b, at(9100)]);
    await ctx.db.q("select realtime_set_presence($1, 'away', null, $2)", [stranger, at(9100)]);
    await ctx.db.q("select realtime_set_presence($1, 'away', null, $2)", [a, at(9050)]);

    const r = await changes([room], [], 9090, 9110);

    expect(r.presence.map((p: { userId: string }) => p.userId)).toEqual([b]);
    expect(r.presence[0]).toMatchObject({ userId: b, rooms: [room] });
    const mine = await changes([], [stranger], 9090, 9110);
    expect(mine.presence.map((p: { userId: string }) => p.userId)).toEqual([stranger]);
  });

  it("returns joins and leaves of the given rooms since then, not a leave followed by a rejoin", async () => {
    const [a, b, c] = [uid("a"), uid("b"), uid("c")];
    const room = await roomWith(a);
    await ctx.db.q("select realtime_join_room($1, $2, p_now => $3)", [room, b, at(9200)]);
    await ctx.db.q("update realtime_room_members set joined_at = $2 where user_id = $1", [b, at(9200)]);
    await ctx.db.q("select realtime_add_member($1, $2)", [room, c]);
    await ctx.db.q("update realtime_room_members set joined_at = $2 where user_id = $1", [c, at(9150)]);
    await ctx.db.q("select realtime_leave_room($1, $2, $3)", [room, c, at(9201)]);

    const r = await changes([room], [], 9190, 9210);

    expect(r.members).toEqual([
      { roomName: room, userId: b, op: "joined" },
      { roomName: room, userId: c, op: "left" },
    ]);
  });

  it("refuses a missing time or a bad limit (RT400)", async () => {
    await expectSqlError(ctx.db.v("select realtime_changes_since('{}', '{}', null) as v"), "RT400");
    await expectSqlError(ctx.db.v("select realtime_changes_since('{}', '{}', now(), 0) as v"), "RT400");
  });
});

describe("replayed messages", () => {
  it("carry eventId and clientMessageId exactly as message:new (realtime_message_json) shows them", async () => {
    const u = uid("u");
    const room = await roomWith(u);
    const sent = await ctx.db.v("select realtime_send_message($1, $2, 'with id', null, '{\"k\":1}', '{}', $3, 'client-1') as v", [room, u, at(1)]);
    const plain = await ctx.db.v("select realtime_send_message($1, $2, 'without', null, null, '{}', $3) as v", [room, u, at(2)]);

    const replay = await since(room, u, 0);

    expect(replay.events).toEqual([sent, plain]);
    expect(replay.events[0]).toMatchObject({ eventId: expect.any(String), clientMessageId: "client-1", metadata: { k: 1 } });
    expect(replay.events[1].eventId).toEqual(expect.any(String));
    expect(replay.events[1]).not.toHaveProperty("clientMessageId");
  });
});
