// Message history (functions/history.sql): realtime_room_history pages older messages of a room,
// newest page first, each page oldest first, for readers allowed to join the room.
import { describe, expect, it } from "vitest";
import { expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();

let counter = 0;
const name = (prefix: string) => `${prefix}-hist-${process.pid}-${++counter}`;

async function room(type = "channel", visibility = "public", ...members: string[]): Promise<string> {
  const n = name("room");
  await ctx.db.q("select realtime_create_room($1, $2, $3)", [n, type, visibility]);
  for (const m of members) await ctx.db.q("select realtime_add_member($1, $2)", [n, m]);
  return n;
}

async function send(roomName: string, user: string, content: string, clientMessageId: string | null = null): Promise<any> {
  return ctx.db.v("select realtime_send_message($1, $2, $3, null, null, '{}', now(), $4) as v", [roomName, user, content, clientMessageId]);
}

async function history(roomName: string, user: string | null, before: number | null = null, limit = 50, anonymous = false): Promise<{ messages: any[]; hasMore: boolean }> {
  return ctx.db.v("select realtime_room_history($1, $2, $3, $4, $5) as v", [roomName, user, before, limit, anonymous]);
}

describe("realtime_room_history", () => {
  it("pages from the newest back, each page oldest first, as message:new shows messages", async () => {
    const alice = name("alice");
    const r = await room("channel", "public", alice);
    const sent: any[] = [];
    for (let i = 1; i <= 7; i++) sent.push(await send(r, alice, `m${i}`, i === 7 ? "cm-7" : null));
    // Another room's messages never show.
    const other = await room("channel", "public", alice);
    await send(other, alice, "elsewhere");

    const first = await history(r, alice, null, 3);
    expect(first.messages.map((m) => m.content)).toEqual(["m5", "m6", "m7"]);
    expect(first.hasMore).toBe(true);
    expect(first.messages[2]).toEqual(sent[6]);
    expect(first.messages[2].clientMessageId).toBe("cm-7");
    expect(first.messages[0]).toMatchObject({ id: sent[4].id, eventId: sent[4].eventId, roomName: r, userId: alice, threadId: null });

    const second = await history(r, alice, first.messages[0].id, 3);
    expect(second.messages.map((m) => m.content)).toEqual(["m2", "m3", "m4"]);
    expect(second.hasMore).toBe(true);
    const third = await history(r, alice, second.messages[0].id, 3);
    expect(third.messages.map((m) => m.content)).toEqual(["m1"]);
    expect(third.hasMore).toBe(false);
    const none = await history(r, alice, third.messages[0].id, 3);
    expect(none).toEqual({ messages: [], hasMore: false });
  });

  it("answers an empty page for a room without messages, and the default limit is 50", async () => {
    const alice = name("alice");
    const r = await room("channel", "public", alice);
    expect(await history(r, alice)).toEqual({ messages: [], hasMore: false });
    for (let i = 0; i < 52; i++) await send(r, alice, `n${i}`);
    const page = await ctx.db.v("select realtime_room_history($1, $2) as v", [r, alice]);
    expect(page.messages).toHaveLength(50);
    expect(page.messages[49].content).toBe("n51");
    expect(page.hasMore).toBe(true);
  });

  it("lets whoever may join read: any signed-in user in a public room, members only in private rooms and dms", async () => {
    const [alice, bob, carol] = [name("alice"), name("bob"), name("carol")];
    const pub = await room("channel", "public", alice);
    await send(pub, alice, "hello public");
    expect((await history(pub, carol)).messages.map((m) => m.content)).toEqual(["hello public"]);
    // Reading joins nothing.
    expect(await ctx.db.v("select count(*)::int as v from realtime_room_members m join realtime_rooms r on r.id = m.room_id where r.name = $1 and m.user_id = $2", [pub, carol])).toBe(0);

    const priv = await room("group", "private", alice, bob);
    await send(priv, alice, "secret");
    expect((await history(priv, bob)).messages).toHaveLength(1);
    await expectSqlError(history(priv, carol), "RT403");
    await ctx.db.q("select realtime_remove_member($1, $2)", [priv, bob]);
    await expectSqlError(history(priv, bob), "RT403");

    const dm = await ctx.db.v("select realtime_open_dm($1, $2) as v", [alice, bob]);
    await send(dm.name, alice, "psst");
    expect((await history(dm.name, bob)).messages.map((m) => m.content)).toEqual(["psst"]);
    await expectSqlError(history(dm.name, carol), "RT403");
  });

  it("lets anonymous readers read public rooms only", async () => {
    const alice = name("alice");
    const pub = await room("channel", "public", alice);
    await send(pub, alice, "for everyone");
    expect((await history(pub, null, null, 10, true)).messages.map((m) => m.content)).toEqual(["for everyone"]);
    const priv = await room("group", "private", alice);
    await expectSqlError(history(priv, null, null, 10, true), "RT403");
    await expectSqlError(history(pub, null, null, 10, false), "RT400");
  });

  it("refuses an unknown room, a negative before and a limit outside 1..1000", async () => {
    const alice = name("alice");
    const r = await room("channel", "public", alice);
    await expectSqlError(history(name("nope"), alice), "RT404");
    await expectSqlError(history(r, alice, -1), "RT400");
    await expectSqlError(history(r, alice, null, 0), "RT400");
    await expectSqlError(history(r, alice, null, 1001), "RT400");
    expect((await history(r, alice, null, 1000)).messages).toEqual([]);
  });

  it("is executable by the relay role, like the other read functions", async () => {
    const granted = await ctx.db.v(
      "select has_function_privilege('realtime_relay', 'realtime_room_history(text, text, bigint, integer, boolean)', 'execute') as v",
    );
    expect(granted).toBe(true);
    const publicGranted = await ctx.db.v(
      "select bool_or(a.grantee = 0) as v from pg_proc p, aclexplode(p.proacl) a where p.proname = 'realtime_room_history' and a.privilege_type = 'EXECUTE'",
    );
    expect(publicGranted ?? false).toBe(false);
  });
});
