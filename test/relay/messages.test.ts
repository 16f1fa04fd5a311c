// Messages and SQL-originated broadcasts over real sockets (SPEC sections 4 and 5, functions/broadcast.sql):
// message:new reaches every socket in the room (a member's second device too) and no one else;
// realtime_broadcast / realtime_broadcast_user from a DBA's connection reach the right sockets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ackError,
  ackOk,
  connect,
  createRoom,
  expectNoEvent,
  nextEvent,
  startRelay,
  token,
  uid,
  type Client,
  type TestRelay,
} from "../helpers/relay.js";

let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay();
});
afterAll(async () => {
  await relay?.dispose();
});

/** A room with alice (two devices) and bob, and carol connected but in no room. */
async function scene() {
  const room = await createRoom(relay.db, uid("chat"));
  const alice = uid("alice");
  const bob = uid("bob");
  const a1 = await connect(relay.url, token(alice));
  const a2 = await connect(relay.url, token(alice));
  const b = await connect(relay.url, token(bob));
  const carol = await connect(relay.url, token(uid("carol")));
  const a2Moved = nextEvent(a2, "user:joined", (p: any) => p.userId === alice);
  await ackOk(a1, "room:join", { roomName: room });
  await a2Moved;
  await ackOk(b, "room:join", { roomName: room });
  const all = [a1, a2, b, carol];
  return { room, alice, bob, a1, a2, b, carol, close: () => all.forEach((s) => s.disconnect()) };
}

describe("message:send / message:new", () => {
  it("delivers a message with a server id and timestamp to every socket in the room, not to a non-member", async () => {
    const s = await scene();
    const receivers: Client[] = [s.a1, s.a2, s.b];
    const waits = receivers.map((c) => nextEvent(c, "message:new", (m: any) => m.roomName === s.room));
    const leak = expectNoEvent(s.carol, "message:new", 400);
    const before = Date.now();
    const sent = await ackOk(s.b, "message:send", { roomName: s.room, content: "hello everyone" });

    expect(sent).toMatchObject({ roomName: s.room, userId: s.bob, content: "hello everyone", threadId: null, metadata: null });
    expect(sent.id).toBeTypeOf("number");
    expect(sent.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(Date.parse(sent.timestamp) - before)).toBeLessThan(5000);
    for (const m of await Promise.all(waits)) expect(m).toEqual(sent);
    await leak;

    // Ids are ordered.
    const second = await ackOk(s.a2, "message:send", { roomName: s.room, content: "from the second device" });
    expect(second.id).toBeGreaterThan(sent.id);
    expect(second.userId).toBe(s.alice);
    s.close();
  });

  it("carries threadId and metadata, and keeps unicode content intact", async () => {
    const s = await scene();
    const got = nextEvent(s.a1, "message:new", (m: any) => m.threadId === "t-1");
    const content = "héllo 👋 \"quotes\" <b>tags</b>\nnew line";
    const sent = await ackOk(s.b, "message:send", { roomName: s.room, content, threadId: "t-1", metadata: { kind: "note", n: [1, 2] } });
    const m = await got;
    expect(m).toMatchObject({ content, threadId: "t-1", metadata: { kind: "note", n: [1, 2] } });
    expect(m.id).toBe(sent.id);
    s.close();
  });

  it("refuses a sender who is not in the room (FORBIDDEN) and an unknown room (NOT_FOUND)", async () => {
    const s = await scene();
    const noLeak = expectNoEvent(s.a1, "message:new", 300);
    await ackError(s.carol, "message:send", "FORBIDDEN", { roomName: s.room, content: "I am not a member" });
    await ackError(s.carol, "message:send", "NOT_FOUND", { roomName: uid("nowhere"), content: "hello?" });
    await noLeak;
    s.close();
  });
});

describe("ping", () => {
  it("answers pong with a timestamp, as an event and in the acknowledgement", async () => {
    const c = await connect(relay.url, token(uid()));
    const pong = nextEvent(c, "pong");
    const data = await ackOk(c, "ping");
    expect(Math.abs(data.timestamp - Date.now())).toBeLessThan(5000);
    expect(await pong).toEqual(data);
    // Without an acknowledgement the pong event still comes.
    const pong2 = nextEvent(c, "pong");
    c.emit("ping");
    expect((await pong2).timestamp).toBeGreaterThanOrEqual(data.timestamp);
    c.disconnect();
  });
});

describe("broadcast from SQL", () => {
  it("realtime_broadcast reaches the room's sockets only", async () => {
    const s = await scene();
    const waits = [s.a1, s.a2, s.b].map((c) => nextEvent(c, "custom:event"));
    const leak = expectNoEvent(s.carol, "custom:event", 400);
    expect(await relay.db.v(`select realtime_broadcast($1, 'custom:event', '{"a":1}') as v`, [s.room])).toBe(true);
    for (const p of await Promise.all(waits)) expect(p).toEqual({ a: 1 });
    await leak;
    s.close();
  });

  it("delivers a payload over 7000 bytes (stored, sent by reference) intact", async () => {
    const s = await scene();
    const payload = {
      text: "ünïcødé ✓ ".repeat(600),
      list: Array.from({ length: 300 }, (_, i) => ({ i, s: `item-${i}` })),
      nested: { deep: { deeper: [true, null, 1.5] } },
    };
    expect(Buffer.byteLength(JSON.stringify(payload))).toBeGreaterThan(7000);
    const got = nextEvent(s.b, "big:event");
    const got2 = nextEvent(s.a2, "big:event");
    expect(await relay.db.v("select realtime_broadcast($1, 'big:event', $2::jsonb) as v", [s.room, JSON.stringify(payload)])).toBe(true);
    expect(await got).toEqual(payload);
    expect(await got2).toEqual(payload);
    // It went by reference: stored in realtime_events.
    const stored = await relay.db.v("select count(*)::int as v from realtime_events where type = 'broadcast' and room_name = $1", [s.room]);
    expect(stored).toBe(1);
    s.close();
  });

  it("realtime_broadcast_user reaches every socket of the user and no one else", async () => {
    const s = await scene();
    const w1 = nextEvent(s.a1, "notice");
    const w2 = nextEvent(s.a2, "notice");
    const leakB = expectNoEvent(s.b, "notice", 400);
    const leakC = expectNoEvent(s.carol, "notice", 400);
    expect(await relay.db.v(`select realtime_broadcast_user($1, 'notice', '{"unread":3}') as v`, [s.alice])).toBe(true);
    expect(await w1).toEqual({ unread: 3 });
    expect(await w2).toEqual({ unread: 3 });
    await leakB;
    await leakC;
    s.close();
  });

  it("a broadcast inside a rolled-back transaction is never delivered; a committed one is", async () => {
    const s = await scene();
    const client = await relay.db.pool.connect();
    try {
      const none = expectNoEvent(s.b, "tx:event", 400, (p: any) => p.n === 1);
      await client.query("begin");
      await client.query(`select realtime_broadcast($1, 'tx:event', '{"n":1}')`, [s.room]);
      await client.query("rollback");
      await none;
      const got = nextEvent(s.b, "tx:event");
      await client.query("begin");
      await client.query(`select realtime_broadcast($1, 'tx:event', '{"n":2}')`, [s.room]);
      await client.query("commit");
      expect(await got).toEqual({ n: 2 });
    } finally {
      client.release();
    }
    s.close();
  });
});

describe("many sends at once", () => {
  it("stores and delivers each once, in send order per socket, and refuses only the bad ones", async () => {
    const room = await createRoom(relay.db, uid("burst"));
    const senders = await Promise.all([0, 1, 2].map(() => connect(relay.url, token(uid("sender")))));
    for (const s of senders) await ackOk(s, "room:join", { roomName: room });
    const outsider = await connect(relay.url, token(uid("outsider")));
    const received: any[] = [];
    senders[0].on("message:new", (m: any) => received.push(m));

    // Fired without waiting, so they queue behind each other and travel in shared database calls.
    const acks = senders.flatMap((s, i) =>
      Array.from({ length: 30 }, (_, k) => s.timeout(10_000).emitWithAck("message:send", { roomName: room, content: `${i}:${k}` })),
    );
    const refused = outsider.timeout(10_000).emitWithAck("message:send", { roomName: room, content: "let me in" });
    const results = await Promise.all(acks);
    expect(results.every((r) => r.ok)).toBe(true);
    expect((await refused).error.code).toBe("FORBIDDEN");

    for (let i = 0; i < senders.length; i++) {
      const ids = results.slice(i * 30, (i + 1) * 30).map((r) => r.data.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b)); // increasing in send order
    }
    const until = Date.now() + 5000;
    while (received.length < 90 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(received).toHaveLength(90);
    expect(new Set(received.map((m) => m.id)).size).toBe(90);
    const stored = await relay.db.v("select count(*)::int as v from realtime_events where type = 'message' and room_name = $1", [room]);
    expect(stored).toBe(90);
    for (const s of [...senders, outsider]) s.disconnect();
  });
});
