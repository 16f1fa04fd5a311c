// The SDK against one relay: refusals as RealtimeError, a send whose acknowledgement was lost stored
// once, replay and gap after a reconnect, the pending-send limit, token refresh without a disconnect,
// and history.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RealtimeClient, RealtimeError, type Message } from "../../client/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { freeLowPort, recordMessages, sdkClient, sign, sleep, uniq, waitFor, SECRET, type Recorded } from "./support.js";

let db: TestDatabase;
let relay: TestRelay;
const clients: Recorded[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  relay = await startRelay({ REALTIME_JWT_SECRET: SECRET, REALTIME_REPLAY_LIMIT: "5", REALTIME_LOCK_TIMEOUT: "5000" }, { db });
});

afterAll(async () => {
  for (const c of clients) c.client.close();
  await relay?.dispose();
});

function client(userId: string, options: Parameters<typeof sdkClient>[2] = {}): Recorded {
  const c = sdkClient(relay.url, userId, options);
  clients.push(c);
  return c;
}

async function publicRoom(prefix: string): Promise<string> {
  const name = uniq(prefix);
  await db.q("select realtime_create_room($1)", [name]);
  return name;
}

/** Closes the client's transport as a network failure would; socket.io reconnects by itself. */
function dropTransport(c: RealtimeClient): void {
  (c as unknown as { socket: { io: { engine: { close(): void } } } }).socket.io.engine.close();
}

/** Stores a message with SQL only: no socket hears of it, so a client gets it only by replay. */
async function storeQuietly(room: string, userId: string, content: string): Promise<number> {
  const m = await db.v("select realtime_send_message($1, $2, $3) as v", [room, userId, content]);
  return m.id;
}

describe("SDK: refusals", () => {
  it("connect() rejects with the server's code and closes the client", async () => {
    const bad = new RealtimeClient({ url: relay.url, token: "not-a-jwt", socket: { transports: ["websocket"] } });
    const states: string[] = [];
    bad.on("state", (s) => states.push(s));
    const err = await bad.connect().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RealtimeError);
    expect((err as RealtimeError).code).toBe("UNAUTHORIZED");
    expect(states).toEqual(["connecting", "disconnected"]);
    await expect(bad.join("anything")).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("join() rejects with NOT_FOUND and FORBIDDEN, and the client keeps working", async () => {
    const a = client(uniq("alice"));
    await a.client.connect();
    await expect(a.client.join(uniq("nowhere"))).rejects.toMatchObject({ name: "RealtimeError", code: "NOT_FOUND" });
    const priv = uniq("private");
    await db.q("select realtime_create_room($1, 'group', 'private')", [priv]);
    await expect(a.client.join(priv)).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(a.client.rooms.has(priv)).toBe(false);
    const room = await a.client.join(await publicRoom("ok"));
    expect(room.joined).toBe(true);
    expect(room.members.get(a.userId)?.status).toBe("online");
    expect(await a.client.join(room.name)).toBe(room);
  });

  it("send() rejects with the server's refusal (BAD_REQUEST) without retrying it", async () => {
    const a = client(uniq("alice"));
    await a.client.connect();
    const room = await a.client.join(await publicRoom("refuse"));
    await expect(room.send("")).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(a.client.pendingSends).toBe(0);
  });
});

describe("SDK: sends", () => {
  it("a send whose acknowledgement is lost with the connection is retried after the reconnect and stored once", async () => {
    const room = await publicRoom("lost-ack");
    const a = client(uniq("alice"));
    const b = client(uniq("bob"));
    await Promise.all([a.client.connect(), b.client.connect()]);
    const ra = await a.client.join(room);
    const rb = await b.client.join(room);
    const gotB = recordMessages(rb);

    // Hold the event log so the first attempt waits inside SQL while its connection goes.
    const dba = new pg.Client({ connectionString: db.url });
    await dba.connect();
    let sending: Promise<Message>;
    try {
      await dba.query("begin");
      await dba.query("lock table realtime_events in access exclusive mode");
      sending = ra.send("through the outage", { clientMessageId: "cm-lost-ack-1" });
      sending.catch(() => {});
      await sleep(300);
      dropTransport(a.client);
      await waitFor(() => a.states.includes("reconnecting"), 3000, "alice reconnecting");
      await sleep(300);
      await dba.query("commit");
    } finally {
      await dba.end();
    }
    const stored = await sending!;
    expect(stored.clientMessageId).toBe("cm-lost-ack-1");
    expect(stored.content).toBe("through the outage");
    const rows = await db.q("select seq from realtime_events where room_name = $1 and client_message_id = 'cm-lost-ack-1'", [room]);
    expect(rows.map((r) => Number(r.seq))).toEqual([stored.id]);
    await waitFor(() => gotB.length === 1, 5000, "bob got it");
    await sleep(300);
    expect(gotB.map((m) => m.id)).toEqual([stored.id]);
  });

  it("sends wait through a reconnect; more than maxPendingSends are refused with LIMIT_EXCEEDED", async () => {
    const room = await publicRoom("pending");
    const a = client(uniq("alice"), { maxPendingSends: 2, reconnectDelayMs: 1500, reconnectDelayMaxMs: 1500 });
    await a.client.connect();
    const ra = await a.client.join(room);
    const got = recordMessages(ra);
    dropTransport(a.client);
    await waitFor(() => a.client.state === "reconnecting", 3000, "reconnecting");
    const first = ra.send("one");
    const second = ra.send("two");
    const err = await ra.send("three").then(
      () => null,
      (e: RealtimeError) => e,
    );
    expect(err?.code).toBe("LIMIT_EXCEEDED");
    expect(err?.details).toMatchObject({ limit: "pendingSends" });
    expect(a.client.pendingSends).toBe(2);
    const [m1, m2] = await Promise.all([first, second]);
    expect([m1.content, m2.content]).toEqual(["one", "two"]);
    await waitFor(() => got.length === 2, 5000, "echoes");
    expect(got.map((m) => m.content)).toEqual(["one", "two"]);
    const count = await db.v("select count(*)::int as v from realtime_events where room_name = $1 and type = 'message'", [room]);
    expect(count).toBe(2);
  });
});

describe("SDK: replay after reconnect", () => {
  it("replays what was missed exactly once, merged with live messages by id", async () => {
    const room = await publicRoom("replay");
    const a = client(uniq("alice"));
    const b = client(uniq("bob"));
    await Promise.all([a.client.connect(), b.client.connect()]);
    const ra = await a.client.join(room);
    const rb = await b.client.join(room);
    const got = recordMessages(ra);
    const live1 = await rb.send("live before");
    await waitFor(() => got.length === 1, 5000, "live message");
    const offset = ra.offset;
    expect(offset).toBe(live1.id);

    const quiet = [await storeQuietly(room, b.userId, "missed 1"), await storeQuietly(room, b.userId, "missed 2")];
    dropTransport(a.client);
    const live2 = await rb.send("sent during the reconnect");
    await waitFor(() => got.length === 4, 5000, "replay and live");
    await sleep(200);
    expect(got.map((m) => m.id)).toEqual([live1.id, ...quiet, live2.id]);
    expect(got.map((m) => m.content)).toEqual(["live before", "missed 1", "missed 2", "sent during the reconnect"]);
    expect(ra.offset).toBe(live2.id);
  });

  it("does not move the offset with live messages that arrive before the re-join's answer", async () => {
    const room = await publicRoom("hold-offset");
    const a = client(uniq("alice"));
    const b = client(uniq("bob"));
    await Promise.all([a.client.connect(), b.client.connect()]);
    const ra = await a.client.join(room);
    const rb = await b.client.join(room);
    const got = recordMessages(ra);
    const first = await rb.send("first");
    await waitFor(() => got.length === 1, 5000, "first");

    // Record every room:join's since, and hold the re-join back (its answer never counts: the
    // transport drops again while it waits).
    const sinces: number[] = [];
    let holdJoins = true;
    const request = a.client.request.bind(a.client);
    a.client.request = (<T>(event: string, payload: unknown, options?: object) => {
      if (event === "room:join") {
        sinces.push((payload as { since: number }).since);
        if (holdJoins) return new Promise<T>(() => {});
      }
      return request<T>(event, payload, options);
    }) as typeof a.client.request;

    const missed = await storeQuietly(room, b.userId, "missed while away");
    dropTransport(a.client);
    await waitFor(() => sinces.length === 1 && a.client.state === "connected", 5000, "re-join sent");
    const live = await rb.send("live before the answer");
    await sleep(300); // the live message has reached alice's socket and is held
    expect(got.map((m) => m.content)).toEqual(["first"]);
    holdJoins = false;
    dropTransport(a.client);
    await waitFor(() => got.length === 3, 5000, "replay and held message");
    await sleep(200);
    expect(sinces).toEqual([first.id, first.id]);
    expect(got.map((m) => m.id)).toEqual([first.id, missed, live.id]);
    expect(ra.offset).toBe(live.id);
  });

  it("emits gap when the server cannot replay everything, then the newest messages in order", async () => {
    const room = await publicRoom("gap");
    const a = client(uniq("alice"));
    await a.client.connect();
    const ra = await a.client.join(room);
    const events: string[] = [];
    ra.on("gap", () => events.push("gap"));
    ra.on("message", (m) => events.push(m.content));
    for (let i = 1; i <= 8; i++) await storeQuietly(room, a.userId, `q${i}`);
    dropTransport(a.client);
    await waitFor(() => events.length === 6, 5000, "gap and 5 messages");
    await sleep(200);
    // REALTIME_REPLAY_LIMIT is 5 here.
    expect(events).toEqual(["gap", "q4", "q5", "q6", "q7", "q8"]);
  });
});

describe("SDK: tokens", () => {
  it("a token that expires during the connection is refreshed with auth:refresh, without a disconnect", async () => {
    const room = await publicRoom("refresh");
    const a = client(uniq("alice"), { tokenSeconds: 4 });
    await a.client.connect();
    const ra = await a.client.join(room);
    // The token expires at 4 s (the server allows 5 s of clock skew): well past 9 s it would have been cut.
    await sleep(11_000);
    expect(a.states).toEqual(["connecting", "connected"]);
    expect(a.errors).toEqual([]);
    expect(a.tokensIssued).toBeGreaterThanOrEqual(3);
    const m = await ra.send("still here");
    expect(m.userId).toBe(a.userId);
  }, 30_000);

  it("when refreshes are refused and the token expires, the SDK reconnects with a fresh token after TOKEN_EXPIRED", async () => {
    const userId = uniq("alice");
    const room = await publicRoom("expired");
    const states: string[] = [];
    const errors: string[] = [];
    // While connected the function hands out a token of another user, which auth:refresh refuses.
    const c: RealtimeClient = new RealtimeClient({
      url: relay.url,
      token: (): string => (c.state === "connected" ? sign(uniq("mallory"), 3) : sign(userId, 3)),
      reconnectDelayMs: 100,
      socket: { transports: ["websocket"] },
    });
    c.on("state", (s) => states.push(s));
    c.on("error", (e) => errors.push(e.code));
    try {
      await c.connect();
      const r = await c.join(room);
      // exp 3 s plus the server's 5 s of clock tolerance.
      await waitFor(() => errors.includes("TOKEN_EXPIRED"), 15_000, "TOKEN_EXPIRED");
      await waitFor(() => c.state === "connected" && r.joined, 5000, "back with a fresh token");
      expect(errors).toContain("UNAUTHORIZED");
      expect(states).toEqual(["connecting", "connected", "reconnecting", "connected"]);
      expect((await r.send("after expiry")).userId).toBe(userId);
    } finally {
      c.close();
    }
  }, 30_000);

  it("a token function is called again for the handshake of a reconnect", async () => {
    const a = client(uniq("alice"));
    await a.client.connect();
    const before = a.tokensIssued;
    dropTransport(a.client);
    await waitFor(() => a.client.state === "connected" && a.states.includes("reconnecting"), 5000, "back");
    expect(a.tokensIssued).toBe(before + 1);
  });

  it("a fixed token string works (no refresh)", async () => {
    const userId = uniq("fixed");
    const c = new RealtimeClient({ url: relay.url, token: sign(userId), socket: { transports: ["websocket"] } });
    try {
      await c.connect();
      expect(c.userId).toBe(userId);
      const p = await c.setPresence({ status: "away" });
      expect(p.status).toBe("away");
    } finally {
      c.close();
    }
  });
});

describe("SDK: history", () => {
  it("pages older messages with room:history, newest page first and each page oldest first", async () => {
    const room = await publicRoom("history");
    const a = client(uniq("alice"));
    await a.client.connect();
    const ra = await a.client.join(room);
    const stored: number[] = [];
    for (let i = 1; i <= 7; i++) stored.push((await ra.send(`h${i}`)).id);
    const first = await ra.history({ limit: 3 });
    expect(first.messages.map((m) => m.content)).toEqual(["h5", "h6", "h7"]);
    expect(first.messages.map((m) => m.id)).toEqual(stored.slice(4));
    expect(first.messages[0].clientMessageId).toEqual(expect.any(String));
    expect(first.hasMore).toBe(true);
    const second = await ra.history({ before: first.messages[0].id, limit: 3 });
    expect(second.messages.map((m) => m.content)).toEqual(["h2", "h3", "h4"]);
    const third = await ra.history({ before: second.messages[0].id, limit: 3 });
    expect(third).toMatchObject({ hasMore: false });
    expect(third.messages.map((m) => m.content)).toEqual(["h1"]);
    expect((await ra.history()).messages).toHaveLength(7);
    await expect(ra.history({ limit: 0 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});

describe("SDK: close", () => {
  it("close() during a connect() that keeps retrying (nothing listens) rejects it with CLOSED", async () => {
    const port = await freeLowPort();
    const c = new RealtimeClient({ url: `http://127.0.0.1:${port}`, token: sign(uniq("nobody")), reconnectDelayMs: 50, socket: { transports: ["websocket"] } });
    const connecting = c.connect();
    await sleep(300);
    expect(c.state).toBe("connecting");
    c.close();
    await expect(connecting).rejects.toMatchObject({ code: "CLOSED" });
    expect(c.state).toBe("disconnected");
  });

  it("connect() rejects with TIMEOUT after connectTimeoutMs", async () => {
    const port = await freeLowPort();
    const c = new RealtimeClient({ url: `http://127.0.0.1:${port}`, token: sign(uniq("nobody")), connectTimeoutMs: 400, reconnectDelayMs: 50, socket: { transports: ["websocket"] } });
    await expect(c.connect()).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(c.state).toBe("disconnected");
  });

  it("close() rejects pending sends with CLOSED and ends in disconnected", async () => {
    const room = await publicRoom("close");
    const a = client(uniq("alice"), { reconnectDelayMs: 5000, reconnectDelayMaxMs: 5000 });
    await a.client.connect();
    const ra = await a.client.join(room);
    dropTransport(a.client);
    await waitFor(() => a.client.state === "reconnecting", 3000, "reconnecting");
    const pending = ra.send("never");
    a.client.close();
    await expect(pending).rejects.toMatchObject({ code: "CLOSED" });
    expect(a.client.state).toBe("disconnected");
  });
});
