// Typing indicators (functions/typing.sql): start, refresh, stop, expiry, threads, and what clears
// them (disconnect, leaving, sending a message). Only a change in the set of typers is announced.
import { describe, expect, it } from "vitest";
import { uid } from "../helpers/names.js";
import { at, date, expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();

/** A public room with the given members. */
async function room(...members: string[]): Promise<string> {
  const name = uid("room");
  await ctx.db.q("select realtime_create_room($1)", [name]);
  for (const m of members) await ctx.db.q("select realtime_add_member($1, $2)", [name, m]);
  return name;
}
async function start(r: string, user: string, t: number, thread: string | null = null, socket: string | null = null) {
  return ctx.db.v(
    "select realtime_start_typing($1, $2, $3, $4, interval '3 seconds', $5) as v",
    [r, user, thread, socket, at(t)],
  );
}
async function typingNotes(r: string) {
  await ctx.l.sync();
  return ctx.l.ofKind("typing").filter((m) => m.room === r);
}
async function rows(r: string) {
  return ctx.db.q("select user_id, thread_id, expires_at from realtime_typing where room_name = $1 order by user_id, thread_id", [r]);
}

describe("start, refresh and stop", () => {
  it("announces a start, refreshes silently and extends the expiry", async () => {
    // Setup
    const u = uid("u");
    const r = await room(u);

    // Action: start.
    const first = await start(r, u, 0);

    // Assertions: changed, announced.
    expect(first).toEqual({ changed: true, users: [u] });
    expect(await typingNotes(r)).toEqual([{ v: 1, kind: "typing", room: r, threadId: null, users: [u] }]);

    // Action: refresh.
    await ctx.l.reset();
    const again = await start(r, u, 2);

    // Assertions: unchanged, silent, expiry moved.
    expect(again).toEqual({ changed: false });
    expect(await typingNotes(r)).toEqual([]);
    expect((await rows(r))[0].expires_at).toEqual(date(5));
  });

  it("lists typers earliest first", async () => {
    const [a, b] = [uid("a"), uid("b")];
    const r = await room(a, b);
    await start(r, b, 0);

    const second = await start(r, a, 1);

    expect(second).toEqual({ changed: true, users: [b, a] });
  });

  it("announces a stop and returns true only when an indicator was live", async () => {
    const u = uid("u");
    const r = await room(u);
    await start(r, u, 0);
    await ctx.l.reset();

    expect(await ctx.db.v("select realtime_stop_typing($1, $2, null, $3) as v", [r, u, at(1)])).toBe(true);
    expect(await typingNotes(r)).toEqual([{ v: 1, kind: "typing", room: r, threadId: null, users: [] }]);
    expect(await rows(r)).toEqual([]);

    await ctx.l.reset();
    expect(await ctx.db.v("select realtime_stop_typing($1, $2, null, $3) as v", [r, u, at(2)])).toBe(false);
    expect(await typingNotes(r)).toEqual([]);
  });

  it("treats a start after expiry (not yet swept) as a change", async () => {
    const u = uid("u");
    const r = await room(u);
    await start(r, u, 0);

    const later = await start(r, u, 10);

    expect(later).toEqual({ changed: true, users: [u] });
    expect(await rows(r)).toHaveLength(1);
  });

  it("refuses non-members (RT403), unknown rooms (RT404) and bad thread ids (RT400)", async () => {
    const member = uid("m");
    const stranger = uid("x");
    const r = await room(member);

    await expectSqlError(start(r, stranger, 0), "RT403", /not a member/);
    await expectSqlError(start(uid("no-such-room"), member, 0), "RT404", /does not exist/);
    await expectSqlError(start(r, member, 0, "t".repeat(256)), "RT400", /thread id/);
    await expectSqlError(start(r, member, 0, ""), "RT400", /thread id/);
    expect(await rows(r)).toEqual([]);
  });
});

describe("threads", () => {
  it("keeps the room (NULL thread) and thread t1 apart", async () => {
    const u = uid("u");
    const r = await room(u);

    const inRoom = await start(r, u, 0);
    const inThread = await start(r, u, 0, "t1");

    expect(inRoom.changed).toBe(true);
    expect(inThread).toEqual({ changed: true, users: [u] });
    expect((await rows(r)).map((x) => x.thread_id)).toEqual(["t1", null]);
    expect((await typingNotes(r)).map((m) => m.threadId)).toEqual([null, "t1"]);

    // Stopping in the thread leaves the room indicator alone.
    await ctx.db.q("select realtime_stop_typing($1, $2, 't1', $3)", [r, u, at(1)]);
    expect(await ctx.db.v("select realtime_typers($1, null, $2) as v", [r, at(1)])).toEqual([u]);
    expect(await ctx.db.v("select realtime_typers($1, 't1', $2) as v", [r, at(1)])).toEqual([]);
  });

  it("refreshes within a thread silently", async () => {
    const u = uid("u");
    const r = await room(u);
    await start(r, u, 0, "t1");

    expect(await start(r, u, 1, "t1")).toEqual({ changed: false });
  });
});

describe("expiry", () => {
  it("realtime_expire_typing removes expired indicators and announces each room/thread once", async () => {
    // Setup: two users in the room, one in a thread; all expire at +3s.
    const [a, b] = [uid("a"), uid("b")];
    const r = await room(a, b);
    await start(r, a, 0);
    await start(r, b, 0);
    await start(r, a, 0, "t1");
    await ctx.l.reset();

    // Action: before expiry, nothing; after, both changes.
    const early = await ctx.db.q("select * from realtime_expire_typing($1)", [at(2)]);
    const expired = await ctx.db.q("select * from realtime_expire_typing($1) order by thread_id nulls first", [at(4)]);

    // Assertions
    expect(early.filter((e) => e.room_name === r)).toEqual([]);
    expect(expired.filter((e) => e.room_name === r)).toEqual([
      { room_name: r, thread_id: null },
      { room_name: r, thread_id: "t1" },
    ]);
    expect(await rows(r)).toEqual([]);
    const notes = await typingNotes(r);
    expect(notes).toHaveLength(2);
    expect(notes.every((m) => m.users.length === 0)).toBe(true);
  });

  it("realtime_tick expires typing and reports how many rooms/threads changed", async () => {
    const u = uid("u");
    const r = await room(u);
    await start(r, u, 100);

    const tick = await ctx.db.v("select realtime_tick($1) as v", [at(104)]);

    expect(tick.typingExpired).toBeGreaterThanOrEqual(1);
    expect(await rows(r)).toEqual([]);
    expect((await typingNotes(r)).at(-1).users).toEqual([]);
  });
});

describe("what clears typing", () => {
  it("closing the socket clears what that socket was typing, and announces it", async () => {
    const u = uid("u");
    const r = await room(u);
    const s1 = uid("s");
    const s2 = uid("s");
    await ctx.db.q("select realtime_register_connection($1, $2, p_now => $3)", [s1, u, at(0)]);
    await ctx.db.q("select realtime_register_connection($1, $2, p_now => $3)", [s2, u, at(0)]);
    await start(r, u, 1, null, s1);
    await start(r, u, 1, "t1", s2);
    await ctx.l.reset();

    await ctx.db.q("select realtime_close_connection($1, $2)", [s1, at(2)]);

    expect((await rows(r)).map((x) => x.thread_id)).toEqual(["t1"]); // the other socket's indicator stays
    expect(await typingNotes(r)).toEqual([{ v: 1, kind: "typing", room: r, threadId: null, users: [] }]);
  });

  it("leaving the room clears the user's typing there, announced before the leave", async () => {
    const [a, b] = [uid("a"), uid("b")];
    const r = await room(a, b);
    await start(r, a, 0);
    await start(r, b, 0);
    await start(r, a, 0, "t1");
    await ctx.l.reset();

    expect(await ctx.db.v("select realtime_leave_room($1, $2, $3) as v", [r, a, at(1)])).toBe(true);

    expect((await rows(r)).map((x) => x.user_id)).toEqual([b]);
    await ctx.l.sync();
    const forRoom = ctx.l.messages.filter((m) => m.room === r);
    expect(forRoom.map((m) => m.kind)).toEqual(["typing", "typing", "member"]);
    expect(forRoom.filter((m) => m.kind === "typing").map((m) => m.users)).toEqual([[b], []]);
  });

  it("sending a message clears the sender's typing in that room/thread only", async () => {
    const u = uid("u");
    const r = await room(u);
    await start(r, u, 0);
    await start(r, u, 0, "t1");
    await ctx.l.reset();

    const msg = await ctx.db.v("select realtime_send_message($1, $2, 'hello', null, null, '{}', $3) as v", [r, u, at(1)]);

    expect(msg).toMatchObject({ roomName: r, userId: u, content: "hello", threadId: null });
    expect((await rows(r)).map((x) => x.thread_id)).toEqual(["t1"]);
    expect(await typingNotes(r)).toEqual([{ v: 1, kind: "typing", room: r, threadId: null, users: [] }]);
  });
});

describe("notification size", () => {
  it("stays under 8000 bytes with 50 typers of 250-character ids, marking the list truncated", async () => {
    const users = Array.from({ length: 50 }, (_, i) => "x".repeat(247) + String(i).padStart(3, "0"));
    const r = await room(...users);

    for (const u of users) await start(r, u, 0);

    const notes = await typingNotes(r);
    expect(notes).toHaveLength(50);
    const last = notes.at(-1);
    expect(last.truncated).toBe(true);
    expect(last.users.length).toBeGreaterThan(10);
    expect(last.users).toEqual(users.slice(0, last.users.length)); // the earliest typers
    expect(notes[0].truncated).toBeUndefined();
  });
});

describe("realtime_typing_changes", () => {
  it("applies starts and stops in order and refuses only the bad ones", async () => {
    const [a, b] = [uid("a"), uid("b")];
    const r = await room(a, b);
    await ctx.l.reset();

    const results = await ctx.db.v("select realtime_typing_changes($1::jsonb, interval '3 seconds', $2) as v", [
      JSON.stringify([
        { op: "start", roomName: r, userId: a, socketId: "s-a" },
        { op: "start", roomName: r, userId: a, socketId: "s-a" },
        { op: "start", roomName: r, userId: "stranger" },
        { op: "start", roomName: "no-such-room", userId: a },
        { op: "dance", roomName: r, userId: a },
        { op: "start", roomName: r, userId: b, threadId: "t1" },
        { op: "stop", roomName: r, userId: a },
        { op: "stop", roomName: r, userId: a },
      ]),
      at(0),
    ]);

    expect(results.map((x: any) => (x.ok ? x.value.changed : x.error.code))).toEqual([true, false, "RT403", "RT404", "RT400", true, true, false]);
    expect(results[0].value.users).toEqual([a]);
    expect(await rows(r)).toEqual([{ user_id: b, thread_id: "t1", expires_at: date(3) }]);
    const notes = await typingNotes(r);
    // Once per room/thread that changed, after the batch: a's start and stop make one announcement.
    expect(notes.map((n) => [n.threadId, n.users])).toEqual([
      [null, []],
      ["t1", [b]],
    ]);
  });

  it("answers each change with the typers right after it, and announces a room where many start once", async () => {
    const [a, b, c] = [uid("a"), uid("b"), uid("c")];
    const r = await room(a, b, c);
    await ctx.db.q("select realtime_start_typing($1, $2, null, 's-c', interval '3 seconds', $3)", [r, c, at(0)]);
    await ctx.l.reset();

    const results = await ctx.db.v("select realtime_typing_changes($1::jsonb, interval '3 seconds', $2) as v", [
      JSON.stringify([
        { op: "start", roomName: r, userId: a, socketId: "s-a" },
        { op: "start", roomName: r, userId: c, socketId: null }, // a refresh: keeps its socket
        { op: "start", roomName: r, userId: b, socketId: "s-b" },
        { op: "stop", roomName: r, userId: b, threadId: "elsewhere" },
      ]),
      at(1),
    ]);

    expect(results.map((x: any) => x.value)).toEqual([
      { changed: true, users: [c, a] },
      { changed: false },
      { changed: true, users: [c, a, b] },
      { changed: false },
    ]);
    expect(await rows(r)).toEqual([a, b, c].map((u) => ({ user_id: u, thread_id: null, expires_at: date(4) })));
    expect(await ctx.db.v("select socket_id as v from realtime_typing where room_name = $1 and user_id = $2", [r, c])).toBe("s-c");
    expect((await typingNotes(r)).map((n) => [n.threadId, n.users])).toEqual([[null, [c, a, b]]]);
  });

  it("announces nothing for a batch of refreshes and stops of indicators that were not live", async () => {
    const [a, b] = [uid("a"), uid("b")];
    const r = await room(a, b);
    await ctx.db.q("select realtime_start_typing($1, $2, null, null, interval '3 seconds', $3)", [r, a, at(0)]);
    await ctx.db.q("select realtime_start_typing($1, $2, null, null, interval '1 second', $3)", [r, b, at(0)]);
    await ctx.l.reset();

    const results = await ctx.db.v("select realtime_typing_changes($1::jsonb, interval '3 seconds', $2) as v", [
      JSON.stringify([
        { op: "start", roomName: r, userId: a },
        { op: "stop", roomName: r, userId: b }, // expired at 1 s: removed, not a change
        { op: "stop", roomName: r, userId: uid("nobody") },
      ]),
      at(2),
    ]);

    expect(results.map((x: any) => x.value.changed)).toEqual([false, false, false]);
    expect(await rows(r)).toEqual([{ user_id: a, thread_id: null, expires_at: date(5) }]);
    expect(await typingNotes(r)).toEqual([]);
  });

  it("refuses what is not an array", async () => {
    await expectSqlError(ctx.db.q("select realtime_typing_changes('{}'::jsonb)"), "RT400", /array/);
  });
});
