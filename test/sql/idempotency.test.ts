// Idempotent sends (functions/rooms.sql, migration 000005): a message with a clientMessageId is
// stored at most once per room, user and id. A retry, in the same batch, in a later call or
// concurrently from another connection, stores nothing, has no side effects (typing) and answers
// the message stored first with duplicate: true.
import { describe, expect, it } from "vitest";
import { connectPg } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { sleep } from "../helpers/wait.js";
import { at, expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();

/** A public channel with the given members. */
async function room(...members: string[]): Promise<string> {
  const name = uid("idem");
  await ctx.db.q("select realtime_create_room($1)", [name]);
  for (const m of members) await ctx.db.q("select realtime_join_room($1, $2)", [name, m]);
  return name;
}

async function sendBatch(messages: object[], now?: string): Promise<any[]> {
  return now === undefined
    ? ctx.db.v("select realtime_send_messages($1::jsonb) as v", [JSON.stringify(messages)])
    : ctx.db.v("select realtime_send_messages($1::jsonb, $2) as v", [JSON.stringify(messages), now]);
}

async function stored(roomName: string): Promise<{ seq: number; user_id: string; content: string; client_message_id: string | null }[]> {
  return ctx.db.q(
    `select seq::int, user_id, data ->> 'content' as content, client_message_id from realtime_events
     where type = 'message' and room_name = $1 order by seq`,
    [roomName],
  );
}

describe("a retry with the same clientMessageId", () => {
  it("answers the stored message (same id, eventId, content, timestamp) with duplicate: true and stores nothing", async () => {
    const r = await room("ann");
    const [first] = await sendBatch([{ roomName: r, userId: "ann", content: "hello", clientMessageId: "c-1" }], at(1));
    // Later, with other content: the first send wins.
    const [retry] = await sendBatch([{ roomName: r, userId: "ann", content: "hello again", clientMessageId: "c-1" }], at(5));

    expect(first).toEqual({ ok: true, message: expect.objectContaining({ content: "hello", clientMessageId: "c-1" }) });
    expect(first.duplicate).toBeUndefined();
    expect(retry).toEqual({ ok: true, duplicate: true, message: first.message });
    expect(await stored(r)).toEqual([{ seq: first.message.id, user_id: "ann", content: "hello", client_message_id: "c-1" }]);
  });

  it("in the same batch stores one message and flags the repeats", async () => {
    const r = await room("ann");
    const results = await sendBatch([
      { roomName: r, userId: "ann", content: "one", clientMessageId: "same" },
      { roomName: r, userId: "ann", content: "two" },
      { roomName: r, userId: "ann", content: "one", clientMessageId: "same" },
      { roomName: r, userId: "ann", content: "one", clientMessageId: "same" },
    ]);

    expect(results.map((x) => [x.ok, x.duplicate ?? false])).toEqual([
      [true, false],
      [true, false],
      [true, true],
      [true, true],
    ]);
    expect(results[2].message).toEqual(results[0].message);
    expect(results[3].message).toEqual(results[0].message);
    expect((await stored(r)).map((m) => m.content)).toEqual(["one", "two"]);
  });

  it("is keyed by room and user: the same id from another user or in another room is a new message", async () => {
    const r1 = await room("ann", "bob");
    const r2 = await room("ann");
    const results = await sendBatch([
      { roomName: r1, userId: "ann", content: "a", clientMessageId: "k" },
      { roomName: r1, userId: "bob", content: "b", clientMessageId: "k" },
      { roomName: r2, userId: "ann", content: "c", clientMessageId: "k" },
    ]);

    expect(results.every((x) => x.ok && !x.duplicate)).toBe(true);
    expect(new Set(results.map((x) => x.message.id)).size).toBe(3);
    expect((await stored(r1)).map((m) => m.content)).toEqual(["a", "b"]);
    expect((await stored(r2)).map((m) => m.content)).toEqual(["c"]);
  });

  it("has no side effects: the sender's typing, started after the first send, is not cleared and nothing is announced", async () => {
    const r = await room("ann");
    await sendBatch([{ roomName: r, userId: "ann", content: "hi", clientMessageId: "t-1" }], at(1));
    await ctx.db.q("select realtime_start_typing($1, 'ann', null, null, interval '1 hour')", [r]);
    await ctx.l.reset();

    const [retry] = await sendBatch([{ roomName: r, userId: "ann", content: "hi", clientMessageId: "t-1" }], at(2));

    expect(retry.duplicate).toBe(true);
    expect(await ctx.db.v("select count(*)::int as v from realtime_typing where room_name = $1 and user_id = 'ann'", [r])).toBe(1);
    await ctx.l.sync();
    expect(ctx.l.ofKind("typing").filter((m) => m.room === r)).toEqual([]);
  });

  it("is still checked first: a sender who left the room gets RT403, not the stored message", async () => {
    const r = await room("ann");
    await sendBatch([{ roomName: r, userId: "ann", content: "hi", clientMessageId: "gone" }]);
    await ctx.db.q("select realtime_leave_room($1, 'ann')", [r]);

    const [retry] = await sendBatch([{ roomName: r, userId: "ann", content: "hi", clientMessageId: "gone" }]);

    expect(retry).toEqual({ ok: false, error: { code: "RT403", message: expect.stringMatching(/not a member/) } });
  });
});

describe("the message JSON", () => {
  it("carries clientMessageId only when the sender gave one", async () => {
    const r = await room("ann");
    const [withId, without] = await sendBatch([
      { roomName: r, userId: "ann", content: "a", clientMessageId: "x-1" },
      { roomName: r, userId: "ann", content: "b", clientMessageId: null },
    ]);

    expect(withId.message.clientMessageId).toBe("x-1");
    expect(without.message).not.toHaveProperty("clientMessageId");
    expect(Object.keys(without.message).sort()).toEqual(["content", "eventId", "id", "metadata", "roomName", "threadId", "timestamp", "userId"]);
  });

  it("refuses a clientMessageId that is not a string of 1 to 128 characters (RT400) and stores nothing for it", async () => {
    const r = await room("ann");
    const results = await sendBatch([
      { roomName: r, userId: "ann", content: "a", clientMessageId: "" },
      { roomName: r, userId: "ann", content: "b", clientMessageId: 42 },
      { roomName: r, userId: "ann", content: "c", clientMessageId: { id: 1 } },
      { roomName: r, userId: "ann", content: "d", clientMessageId: "x".repeat(129) },
      { roomName: r, userId: "ann", content: "e", clientMessageId: "é".repeat(128) },
    ]);

    expect(results.slice(0, 4).map((x) => x.error?.code)).toEqual(["RT400", "RT400", "RT400", "RT400"]);
    expect(results[0].error.message).toMatch(/clientMessageId must be a string of 1 to 128 characters/);
    expect(results[4].ok).toBe(true);
    expect((await stored(r)).map((m) => m.content)).toEqual(["e"]);
    // The column refuses an empty id written by hand too.
    await expectSqlError(
      ctx.db.q("insert into realtime_events (type, user_id, room_name, client_message_id) values ('message', 'ann', $1, '')", [r]),
      "23514",
    );
  });
});

describe("realtime_send_message", () => {
  it("takes the client id as its last argument and answers the stored message on a retry; seven-argument calls still work", async () => {
    const r = await room("ann");
    const first = await ctx.db.v("select realtime_send_message($1, 'ann', 'one', null, null, '{}', $2, 'm-1') as v", [r, at(1)]);
    const again = await ctx.db.v("select realtime_send_message($1, 'ann', 'other', p_client_message_id => 'm-1') as v", [r]);
    const plain = await ctx.db.v("select realtime_send_message($1, 'ann', 'two', null, null, '{}', $2) as v", [r, at(2)]);

    expect(again).toEqual(first);
    expect(first.clientMessageId).toBe("m-1");
    expect(plain.id).toBeGreaterThan(first.id);
    expect((await stored(r)).map((m) => m.content)).toEqual(["one", "two"]);
  });
});

describe("concurrent sends of the same id", () => {
  it("from two connections at once store one row: the second waits for the first and answers its message", async () => {
    const r = await room("ann");
    const [a, b] = [await connectPg(ctx.db.url), await connectPg(ctx.db.url)];
    try {
      await a.query("begin");
      const first = (await a.query("select realtime_send_message($1, 'ann', 'from a', p_client_message_id => 'race') as v", [r])).rows[0].v;
      // b's insert waits on a's uncommitted row with the same key.
      let settled = false;
      const pending = b
        .query("select realtime_send_messages($1::jsonb) as v", [JSON.stringify([{ roomName: r, userId: "ann", content: "from b", clientMessageId: "race" }])])
        .finally(() => (settled = true));
      await sleep(150);
      expect(settled).toBe(false);
      await a.query("commit");
      const [second] = (await pending).rows[0].v;

      expect(second).toEqual({ ok: true, duplicate: true, message: first });
      expect(await stored(r)).toHaveLength(1);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("when the first transaction rolls back, the waiting send stores the message", async () => {
    const r = await room("ann");
    const [a, b] = [await connectPg(ctx.db.url), await connectPg(ctx.db.url)];
    try {
      await a.query("begin");
      await a.query("select realtime_send_message($1, 'ann', 'from a', p_client_message_id => 'undo')", [r]);
      const pending = b.query("select realtime_send_message($1, 'ann', 'from b', p_client_message_id => 'undo') as v", [r]);
      await sleep(100);
      await a.query("rollback");
      const second = (await pending).rows[0].v;

      expect(second).toMatchObject({ content: "from b", clientMessageId: "undo" });
      expect((await stored(r)).map((m) => m.content)).toEqual(["from b"]);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("many autocommit sends of the same ids from several connections at once: one row per id, exactly one original answer each", async () => {
    const r = await room("ann");
    const clients = await Promise.all([0, 1, 2, 3].map(() => connectPg(ctx.db.url)));
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
      const answers = await Promise.all(
        clients.flatMap((c, ci) =>
          ids.map(async (id) => {
            const res = await c.query("select realtime_send_messages($1::jsonb) as v", [
              JSON.stringify([{ roomName: r, userId: "ann", content: `${id} via ${ci}`, clientMessageId: id }]),
            ]);
            return { id, result: res.rows[0].v[0] };
          }),
        ),
      );

      for (const id of ids) {
        const mine = answers.filter((x) => x.id === id).map((x) => x.result);
        expect(mine.every((x) => x.ok)).toBe(true);
        expect(mine.filter((x) => !x.duplicate)).toHaveLength(1);
        expect(new Set(mine.map((x) => x.message.eventId)).size).toBe(1);
      }
      const rows = await stored(r);
      expect(rows).toHaveLength(ids.length);
      expect(new Set(rows.map((x) => x.client_message_id))).toEqual(new Set(ids));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
