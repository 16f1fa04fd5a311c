// Broadcast from SQL (functions/broadcast.sql): never aborts the caller's transaction, delivered on
// commit only, large payloads stored in realtime_events and referenced by seq.
import { describe, expect, it } from "vitest";
import { connectPg } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { useDatabase } from "./support.js";

const ctx = useDatabase();

async function broadcastNotes(name: string) {
  await ctx.l.sync();
  return ctx.l.ofKind("broadcast").filter((m) => m.name === name);
}

describe("realtime_broadcast", () => {
  it("announces {target, name, event, payload} to a room", async () => {
    const room = uid("room");

    expect(await ctx.db.v("select realtime_broadcast($1, 'order:shipped', '{\"id\":7}') as v", [room])).toBe(true);

    expect(await broadcastNotes(room)).toEqual([
      { v: 1, kind: "broadcast", target: "room", name: room, event: "order:shipped", payload: { id: 7 } },
    ]);
  });

  it("never aborts the caller's transaction: bad input returns false with a warning and the transaction commits", async () => {
    // Setup: a transaction that writes a row.
    const marker = uid("kept");
    const client = await connectPg(ctx.db.url);
    const warnings: string[] = [];
    client.on("notice", (n) => warnings.push(n.message ?? ""));
    try {
      await client.query("begin");
      await client.query("select realtime_log_event('message', $1)", [marker]);

      // Action: a bad event name, a reserved one, a null room, a null user.
      const results = (
        await client.query(
          `select realtime_broadcast('r', '1 bad name') as a, realtime_broadcast('r', 'connect') as b,
                  realtime_broadcast(null, 'ok') as c, realtime_broadcast_user(null, 'ok') as d,
                  realtime_broadcast('r', null) as e`,
        )
      ).rows[0];
      await client.query("commit");

      // Assertions
      expect(results).toEqual({ a: false, b: false, c: false, d: false, e: false });
      expect(warnings.join("\n")).toMatch(/event name must match/);
      expect(warnings.join("\n")).toMatch(/reserved by the protocol/);
      expect(await ctx.db.v("select count(*)::int as v from realtime_events where user_id = $1", [marker])).toBe(1);
    } finally {
      await client.end();
    }
  });

  it("is delivered when the transaction commits, and not at all on rollback", async () => {
    const [committed, rolledBack] = [uid("room"), uid("room")];
    const client = await connectPg(ctx.db.url);
    try {
      await client.query("begin");
      await client.query("select realtime_broadcast($1, 'hello')", [committed]);
      expect(await broadcastNotes(committed)).toEqual([]); // not yet
      await client.query("commit");
      expect(await broadcastNotes(committed)).toHaveLength(1);

      await client.query("begin");
      await client.query("select realtime_broadcast($1, 'hello')", [rolledBack]);
      await client.query("rollback");
      expect(await broadcastNotes(rolledBack)).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it("stores a payload over 7000 bytes in realtime_events and sends its seq as ref", async () => {
    const room = uid("room");
    const payload = { blob: "x".repeat(10_000) };

    expect(await ctx.db.v("select realtime_broadcast($1, 'big', $2) as v", [room, payload])).toBe(true);

    const [note] = await broadcastNotes(room);
    expect(note).toEqual({ v: 1, kind: "broadcast", target: "room", name: room, event: "big", ref: expect.any(Number) });
    expect(note.payload).toBeUndefined();
    const stored = (await ctx.db.q("select type, room_name, data from realtime_events where seq = $1", [note.ref]))[0];
    expect(stored).toEqual({ type: "broadcast", room_name: room, data: { event: "big", payload } });
    const raw = ctx.l.raw.find((r) => r.includes(room))!;
    expect(Buffer.byteLength(raw)).toBeLessThan(8000);
  });

  it("sends a payload just under the limit inline, under 8000 bytes even with a long multibyte room name", async () => {
    const room = uid("r") + "é".repeat(120);

    await ctx.db.q("select realtime_broadcast($1, 'fits', $2)", [room, { s: "y".repeat(6500) }]);

    const [note] = await broadcastNotes(room);
    expect(note.payload.s).toHaveLength(6500);
    expect(Buffer.byteLength(ctx.l.raw.find((r) => r.includes('"fits"'))!)).toBeLessThan(8000);
  });
});

describe("realtime_broadcast_user", () => {
  it("announces to a user's sockets, and stores large payloads with user_id", async () => {
    const user = uid("user");

    expect(await ctx.db.v("select realtime_broadcast_user($1, 'notice', '{\"n\":1}') as v", [user])).toBe(true);
    await ctx.db.q("select realtime_broadcast_user($1, 'notice', $2)", [user, { big: "z".repeat(8000) }]);

    const notes = await broadcastNotes(user);
    expect(notes[0]).toEqual({ v: 1, kind: "broadcast", target: "user", name: user, event: "notice", payload: { n: 1 } });
    expect(notes[1].ref).toEqual(expect.any(Number));
    expect(await ctx.db.v("select user_id as v from realtime_events where seq = $1", [notes[1].ref])).toBe(user);
  });
});
