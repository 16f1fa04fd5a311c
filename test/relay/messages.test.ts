// Messages and SQL-originated broadcasts over real sockets (functions/rooms.sql, functions/broadcast.sql):
// message:new reaches every socket in the room (a member's second device too) and no one else;
// realtime_broadcast / realtime_broadcast_user from a DBA's connection reach the right sockets.
import crypto from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createRoom } from "../helpers/db.js";
import { TEST_REDIS_URL } from "../helpers/env.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ack, ackError, ackOk, type Client, collect, connect, expectNoEvent, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { sleep, until } from "../helpers/wait.js";

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
    while (received.length < 90 && Date.now() < until) await sleep(20);
    expect(received).toHaveLength(90);
    expect(new Set(received.map((m) => m.id)).size).toBe(90);
    const stored = await relay.db.v("select count(*)::int as v from realtime_events where type = 'message' and room_name = $1", [room]);
    expect(stored).toBe(90);
    for (const s of [...senders, outsider]) s.disconnect();
  });
});

describe("idempotent sends (clientMessageId)", () => {
  /** Sends a fresh message from `from` and waits until every socket in `sockets` has it: socket.io
   * delivers in order on a connection, so anything emitted to them earlier has arrived too. */
  async function barrier(from: Client, roomName: string, sockets: Client[]) {
    const content = `barrier ${uid()}`;
    const arrived = sockets.map((c) => nextEvent(c, "message:new", (m: any) => m.content === content, 5000));
    await ackOk(from, "message:send", { roomName, content });
    await Promise.all(arrived);
  }
  const withId = (seen: any[], clientMessageId: string) => seen.filter((m) => m.clientMessageId === clientMessageId);

  it("echoes clientMessageId in the acknowledgement and in message:new, so the sender can match its echo", async () => {
    const s = await scene();
    const echo = nextEvent(s.b, "message:new", (m: any) => m.clientMessageId === "echo-1");
    const sent = await ackOk(s.b, "message:send", { roomName: s.room, content: "mine", clientMessageId: "echo-1" });
    expect(sent).toMatchObject({ content: "mine", clientMessageId: "echo-1" });
    expect(await echo).toEqual(sent);
    // Without one, the message has no clientMessageId key.
    const plain = await ackOk(s.b, "message:send", { roomName: s.room, content: "plain" });
    expect(plain).not.toHaveProperty("clientMessageId");
    s.close();
  });

  it("a retry after a reconnect answers the stored message (same id and eventId) and is not delivered again", async () => {
    const s = await scene();
    const seen = [s.a1, s.a2].map((c) => collect(c, "message:new"));
    const seenByB = collect(s.b, "message:new");
    const cid = `retry-${uid()}`;
    const first = await ackOk(s.b, "message:send", { roomName: s.room, content: "exactly once", clientMessageId: cid });
    await until(() => seen.every((r) => withId(r, cid).length === 1) && withId(seenByB, cid).length === 1);

    // The acknowledgement "was lost": bob reconnects (his socket is put back in the room) and retries.
    s.b.disconnect();
    const b2 = await connect(relay.url, token(s.bob));
    const seenByB2 = collect(b2, "message:new");
    const retry = await ackOk(b2, "message:send", { roomName: s.room, content: "exactly once", clientMessageId: cid });

    expect(retry).toEqual(first);
    await barrier(s.a1, s.room, [s.a1, s.a2, b2]);
    for (const r of seen) expect(withId(r, cid)).toEqual([first]);
    expect(withId(seenByB2, cid)).toEqual([]);
    expect(await relay.db.v("select count(*)::int as v from realtime_events where type = 'message' and client_message_id = $1", [cid])).toBe(1);
    b2.disconnect();
    s.close();
  });

  it("repeats sent at once (ack timeouts) from two devices of the same user are stored and delivered once per member", async () => {
    const s = await scene();
    const members = [s.a1, s.a2, s.b];
    const seen = members.map((c) => collect(c, "message:new"));
    const cid = `burst-${uid()}`;
    // Five sends from each of alice's devices without waiting for any answer.
    const acks = [s.a1, s.a2].flatMap((c) =>
      Array.from({ length: 5 }, () => ack(c, "message:send", { roomName: s.room, content: "once please", clientMessageId: cid })),
    );
    const results = await Promise.all(acks);

    expect(results.every((r) => r.ok)).toBe(true);
    const messages = results.map((r) => (r.ok ? r.data : null));
    expect(new Set(messages.map((m) => m.id)).size).toBe(1);
    expect(new Set(messages.map((m) => m.eventId)).size).toBe(1);
    await barrier(s.b, s.room, members);
    for (const r of seen) expect(withId(r, cid)).toEqual([messages[0]]);
    expect(await relay.db.v("select count(*)::int as v from realtime_events where type = 'message' and client_message_id = $1", [cid])).toBe(1);
    s.close();
  });

  it("the same clientMessageId from another user is another message", async () => {
    const s = await scene();
    const fromBob = await ackOk(s.b, "message:send", { roomName: s.room, content: "bob's", clientMessageId: "shared" });
    const fromAlice = await ackOk(s.a1, "message:send", { roomName: s.room, content: "alice's", clientMessageId: "shared" });
    expect(fromAlice.id).not.toBe(fromBob.id);
    expect(fromAlice).toMatchObject({ userId: s.alice, content: "alice's", clientMessageId: "shared" });
    s.close();
  });

  it("refuses a clientMessageId that is not a string of 1 to 128 characters without control characters (BAD_REQUEST), before storing anything", async () => {
    const s = await scene();
    const before = await relay.db.v("select count(*)::int as v from realtime_events where type = 'message' and room_name = $1", [s.room]);
    for (const bad of ["", "x".repeat(129), 42, { id: 1 }, ["a"], "line\nbreak", "tab\there", "\ud800lone"]) {
      const e = await ackError(s.b, "message:send", "BAD_REQUEST", { roomName: s.room, content: "hi", clientMessageId: bad });
      expect(e.message).toMatch(/clientMessageId must be a string of 1 to 128 characters/);
    }
    expect(await ackOk(s.b, "message:send", { roomName: s.room, content: "ok", clientMessageId: "🙂".repeat(128) })).toMatchObject({ content: "ok" });
    expect(await ackOk(s.b, "message:send", { roomName: s.room, content: "null is none", clientMessageId: null })).not.toHaveProperty("clientMessageId");
    const after = await relay.db.v("select count(*)::int as v from realtime_events where type = 'message' and room_name = $1", [s.room]);
    expect(after - before).toBe(2);
    s.close();
  });
});

describe("idempotent sends across relays", () => {
  let relayA: TestRelay;
  let relayB: TestRelay;

  beforeAll(async () => {
    const env = { REALTIME_REDIS_URL: TEST_REDIS_URL, REALTIME_REDIS_PREFIX: `rt-idem-${crypto.randomBytes(4).toString("hex")}` };
    relayA = await startRelay(env);
    relayB = await startRelay(env, { db: relayA.db });
  });
  afterAll(async () => {
    await relayB?.dispose();
    await relayA?.dispose();
  });

  it("a retry on a second relay sharing the database answers the stored message and no member gets it twice", async () => {
    const room = await createRoom(relayA.db, uid("shared"));
    const alice = uid("alice");
    const bob = uid("bob");
    const carol = uid("carol");
    const bobOnA = await connect(relayA.url, token(bob));
    const aliceOnA = await connect(relayA.url, token(alice));
    const carolOnB = await connect(relayB.url, token(carol));
    for (const c of [bobOnA, aliceOnA, carolOnB]) await ackOk(c, "room:join", { roomName: room });
    const seenA = collect(aliceOnA, "message:new");
    const seenC = collect(carolOnB, "message:new");
    const cid = `across-${uid()}`;

    const first = await ackOk(bobOnA, "message:send", { roomName: room, content: "one copy", clientMessageId: cid });
    await until(() => seenA.some((m) => m.clientMessageId === cid) && seenC.some((m) => m.clientMessageId === cid), 5000);

    // Bob's link to relay A breaks before the acknowledgement; he reconnects to relay B and retries.
    bobOnA.disconnect();
    const bobOnB = await connect(relayB.url, token(bob));
    const seenBobB = collect(bobOnB, "message:new");
    const retry = await ackOk(bobOnB, "message:send", { roomName: room, content: "one copy", clientMessageId: cid });
    expect(retry).toEqual(first);

    // Barrier from each relay: a fresh message reaches everyone after anything emitted before it.
    for (const from of [aliceOnA, carolOnB]) {
      const content = `barrier ${uid()}`;
      const arrived = [aliceOnA, carolOnB, bobOnB].map((c) => nextEvent(c, "message:new", (m: any) => m.content === content, 5000));
      await ackOk(from, "message:send", { roomName: room, content });
      await Promise.all(arrived);
    }
    expect(seenA.filter((m) => m.clientMessageId === cid)).toEqual([first]);
    expect(seenC.filter((m) => m.clientMessageId === cid)).toEqual([first]);
    expect(seenBobB.filter((m) => m.clientMessageId === cid)).toEqual([]);
    expect(await relayA.db.v("select count(*)::int as v from realtime_events where client_message_id = $1", [cid])).toBe(1);
    for (const c of [aliceOnA, carolOnB, bobOnB]) c.disconnect();
  });
});

describe("durable messages (REALTIME_DURABLE_MESSAGES)", () => {
  /** The statement and parameters the relay sends for message batches, caught on their way to the pool. */
  async function sendStatement(r: TestRelay): Promise<{ text: string; values: unknown[] }> {
    const db = r.server.relay.db;
    const spy = vi.spyOn(db, "query");
    try {
      const room = await createRoom(r.db, uid("durable"));
      const c = await connect(r.url, token(uid("writer")));
      await ackOk(c, "room:join", { roomName: room });
      await ackOk(c, "message:send", { roomName: room, content: "kept", clientMessageId: uid("d") });
      c.disconnect();
      const call = spy.mock.calls.find(([name]) => name === "send_messages");
      expect(call, "no send_messages call seen").toBeDefined();
      return { text: call![1], values: call![2] ?? [] };
    } finally {
      spy.mockRestore();
    }
  }

  /** Runs the statement in a transaction of a session with synchronous_commit = off (the relay's
   * default for its sessions): the setting in force when that transaction commits, and after it. */
  async function commitSetting(r: TestRelay, text: string, values: unknown[]): Promise<{ atCommit: string; after: string }> {
    const client = new pg.Client({ connectionString: r.db.url, options: "-c synchronous_commit=off" });
    await client.connect();
    try {
      await client.query("begin");
      await client.query(text, values);
      const atCommit = (await client.query("show synchronous_commit")).rows[0].synchronous_commit;
      await client.query("rollback");
      const after = (await client.query("show synchronous_commit")).rows[0].synchronous_commit;
      return { atCommit, after };
    } finally {
      await client.end();
    }
  }

  it("by default a message batch commits with synchronous_commit = on, for its own transaction only; the relay's sessions stay off", async () => {
    const { text, values } = await sendStatement(relay);
    expect(text).toMatch(/set_config\('synchronous_commit', 'on', true\)/);
    expect(await commitSetting(relay, text, values)).toEqual({ atCommit: "on", after: "off" });
    // Ephemeral state (typing, touches, presence) keeps the session's asynchronous commits.
    expect(await relay.server.relay.db.value("show", "select current_setting('synchronous_commit') as v")).toBe("off");
  });

  it("REALTIME_DURABLE_MESSAGES=false leaves message batches to the session's synchronous_commit", async () => {
    const fast = await startRelay({ REALTIME_DURABLE_MESSAGES: "false" }, { db: relay.db });
    try {
      expect(fast.server.relay.config.durableMessages).toBe(false);
      const { text, values } = await sendStatement(fast);
      expect(text).not.toMatch(/synchronous_commit/);
      expect(await commitSetting(fast, text, values)).toEqual({ atCommit: "off", after: "off" });
    } finally {
      await fast.dispose();
    }
  });
});
