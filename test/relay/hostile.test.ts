// Limits and hostile input over real sockets: connection cap, rate limit, payload and message size
// limits, and garbage payloads of every shape. Each is refused with the right code (and the `error`
// event), no SQL function is called for an invalid payload, and the relay stays up.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ack, ackError, ackOk, connect, connectError, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { sleep, until } from "../helpers/wait.js";

let main: TestRelay; // generous rate limit, default sizes
let full: TestRelay; // REALTIME_MAX_CONNECTIONS=2
let limits: TestRelay; // small rate limit, payload and message limits

const MAX_PAYLOAD = 1024;
const MAX_LENGTH = 50;

beforeAll(async () => {
  main = await startRelay({ REALTIME_RATE_LIMIT: "1000", REALTIME_RATE_BURST: "1000" });
  full = await startRelay({ REALTIME_MAX_CONNECTIONS: "2" }, { db: main.db });
  limits = await startRelay(
    {
      REALTIME_RATE_LIMIT: "1",
      REALTIME_RATE_BURST: "3",
      REALTIME_MAX_PAYLOAD: String(MAX_PAYLOAD),
      REALTIME_MAX_MESSAGE_LENGTH: String(MAX_LENGTH),
    },
    { db: main.db },
  );
});
afterAll(async () => {
  await limits?.dispose();
  await full?.dispose();
  await main?.dispose();
});

const openRows = (relay: TestRelay) =>
  relay.db.v<number>("select count(*)::int as v from realtime_connections where node_id = $1 and disconnected_at is null", [relay.nodeId]);

async function alive(relay: TestRelay): Promise<void> {
  const c = await connect(relay.url, token(uid("probe")));
  expect((await ackOk(c, "ping")).timestamp).toBeTypeOf("number");
  c.disconnect();
  expect((await fetch(`${relay.url}/health`)).status).toBe(200);
}

describe("limits", () => {
  it("refuses a third connection with SERVER_FULL when REALTIME_MAX_CONNECTIONS=2, and accepts again after one leaves", async () => {
    const a = await connect(full.url, token(uid()));
    const b = await connect(full.url, token(uid()));
    const err = await connectError(full.url, token(uid()));
    expect(err.data.code).toBe("SERVER_FULL");
    a.disconnect();
    await until(async () => (await (await fetch(`${full.url}/health`)).json()).connections === 1);
    const c = await connect(full.url, token(uid()));
    expect(c.connected).toBe(true);
    b.disconnect();
    c.disconnect();
  });

  it("holds the cap under concurrent handshakes: of six at once, two connect and four get SERVER_FULL", async () => {
    await until(async () => (await (await fetch(`${full.url}/health`)).json()).connections === 0);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => connect(full.url, token(uid("rush")))));
    const connected = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(connected).toHaveLength(2);
    for (const r of refused) expect(r.reason.data?.code).toBe("SERVER_FULL");
    expect(await openRows(full)).toBe(2);
    for (const r of connected) (r as PromiseFulfilledResult<Awaited<ReturnType<typeof connect>>>).value.disconnect();
  });

  it("answers RATE_LIMITED past the burst and recovers as the bucket refills", async () => {
    const c = await connect(limits.url, token(uid()));
    const errors: any[] = [];
    c.on("error", (e) => errors.push(e));
    const results = await Promise.all(Array.from({ length: 6 }, () => ack(c, "ping")));
    const ok = results.filter((r) => r.ok).length;
    const limited = results.filter((r) => !r.ok && r.error.code === "RATE_LIMITED").length;
    expect(ok).toBeGreaterThanOrEqual(3);
    expect(limited).toBeGreaterThanOrEqual(1); // at most one token comes back per second
    expect(ok + limited).toBe(6);
    await until(() => errors.filter((e) => e.code === "RATE_LIMITED").length === limited);
    // One token per second comes back (no event marks a refill, so this waits for it).
    await sleep(1100);
    expect((await ack(c, "ping")).ok).toBe(true);
    c.disconnect();
  });

  it("answers PAYLOAD_TOO_LARGE for an event over REALTIME_MAX_PAYLOAD", async () => {
    const c = await connect(limits.url, token(uid()));
    const err = await ackError(c, "message:send", "PAYLOAD_TOO_LARGE", { roomName: "any", content: "x".repeat(MAX_PAYLOAD + 200) });
    expect(err.message).toMatch(/limit/);
    expect(c.connected).toBe(true);
    c.disconnect();
  });

  it("closes the connection for a frame over twice the limit, and keeps serving others", async () => {
    const c = await connect(limits.url, token(uid()));
    const closed = nextEvent<string>(c, "disconnect", () => true, 5000);
    c.emit("message:send", { roomName: "any", content: "x".repeat(MAX_PAYLOAD * 3) });
    expect(await closed).toMatch(/transport (close|error)/);
    await alive(limits);
  });

  it("answers BAD_REQUEST for content over REALTIME_MAX_MESSAGE_LENGTH", async () => {
    const owner = uid("owner");
    const room = await createRoom(limits.db, uid("short"), "channel", "public", {}, owner);
    const c = await connect(limits.url, token(owner));
    const err = await ackError(c, "message:send", "BAD_REQUEST", { roomName: room, content: "y".repeat(MAX_LENGTH + 1) });
    expect(err.message).toMatch(/content/);
    // Exactly at the limit is fine; the length counts characters, not bytes.
    expect((await ackOk(c, "message:send", { roomName: room, content: "é".repeat(MAX_LENGTH) })).content).toHaveLength(MAX_LENGTH);
    c.disconnect();
  });
});

describe("garbage payloads", () => {
  const ROOM_EVENTS = ["room:join", "room:leave", "message:send", "typing:start", "typing:stop"];
  const ALL_EVENTS = [...ROOM_EVENTS, "presence:update", "presence:get", "auth:refresh"];
  const NOT_OBJECTS: unknown[] = [null, 42, -1.5, "a string", "", true, [], [1, 2], [{ roomName: "x" }]];
  const BAD_ROOM_NAMES: unknown[] = [
    {},
    { roomName: 42 },
    { roomName: null },
    { roomName: "" },
    { roomName: "r".repeat(10_000) },
    { roomName: "nul\u0000byte" },
    { roomName: "bell\u0007" },
    { roomName: "tab\there" },
    { roomName: "del\u007f" },
    { roomName: " padded " },
    { roomName: ["general"] },
    { roomName: { nested: { deeper: { deepest: [1, { x: 2 }] } } } },
    { roomName: true },
    JSON.parse('{"__proto__": {"roomName": "general", "polluted": true}}'),
    JSON.parse('{"constructor": {"prototype": {"roomName": "general", "polluted": true}}}'),
    { RoomName: "general" },
  ];

  let sqlCalls: () => Promise<number>;
  beforeAll(async () => {
    await createRoom(main.db, "general");
    // Calls of the SQL functions behind client events, from this relay's metrics.
    const metrics = main.server.relay.metrics;
    const EVENT_CALLS = new Set(["join_room", "leave_room", "send_messages", "typing_changes", "set_presence", "get_presence"]);
    sqlCalls = async () => {
      const m = await metrics.sqlDuration.get();
      return m.values
        .filter((v) => v.metricName === "realtime_sql_duration_seconds_count" && EVENT_CALLS.has(String(v.labels.call)))
        .reduce((sum, v) => sum + v.value, 0);
    };
  });

  it("refuses non-object payloads to every event with BAD_REQUEST, before any SQL call", async () => {
    const c = await connect(main.url, token(uid("garbage")));
    const before = await sqlCalls();
    for (const event of ALL_EVENTS) {
      for (const payload of NOT_OBJECTS) {
        const err = await ackError(c, event, "BAD_REQUEST", payload);
        expect(err.message, `${event} ${JSON.stringify(payload)}`).toMatch(/must be an object/);
      }
      // No payload at all (the acknowledgement is the only argument).
      await ackError(c, event, "BAD_REQUEST");
      // Binary: refused too.
      await ackError(c, event, "BAD_REQUEST", Buffer.from([0, 1, 2, 3]));
    }
    expect(await sqlCalls()).toBe(before);
    c.disconnect();
  });

  it("refuses bad room names (types, lengths, control characters, prototype keys) with BAD_REQUEST", async () => {
    const c = await connect(main.url, token(uid("garbage")));
    const before = await sqlCalls();
    for (const event of ROOM_EVENTS) {
      for (const payload of BAD_ROOM_NAMES) {
        // (Spreading keeps an own "__proto__" key as an own key.)
        const sent = event === "message:send" ? { ...(payload as object), content: "hi" } : payload;
        const err = await ackError(c, event, "BAD_REQUEST", sent);
        expect(err.message, `${event} ${JSON.stringify(sent).slice(0, 80)}`).toMatch(/roomName/);
      }
    }
    expect(await sqlCalls()).toBe(before);
    // Nothing leaked into prototypes of this process (the relay runs in it).
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).roomName).toBeUndefined();
    c.disconnect();
  });

  it("refuses bad fields of each event with BAD_REQUEST", async () => {
    const c = await connect(main.url, token(uid("garbage")));
    const cases: [string, unknown][] = [
      ["room:join", { roomName: "general", since: -1 }],
      ["room:join", { roomName: "general", since: "5" }],
      ["room:join", { roomName: "general", since: 1.5 }],
      ["message:send", { roomName: "general" }],
      ["message:send", { roomName: "general", content: 5 }],
      ["message:send", { roomName: "general", content: "" }],
      ["message:send", { roomName: "general", content: { text: "hi" } }],
      ["message:send", { roomName: "general", content: "x".repeat(10_001) }],
      ["message:send", { roomName: "general", content: "hi", threadId: 7 }],
      ["message:send", { roomName: "general", content: "hi", threadId: "t\u0000" }],
      ["message:send", { roomName: "general", content: "hi", threadId: "t".repeat(256) }],
      ["message:send", { roomName: "general", content: "hi", metadata: "str" }],
      ["message:send", { roomName: "general", content: "hi", metadata: [1, 2] }],
      ["message:send", { roomName: "general", content: "hi", metadata: { big: "m".repeat(9000) } }],
      ["typing:start", { roomName: "general", threadId: { t: 1 } }],
      ["typing:stop", { roomName: "general", threadId: "" }],
      ["presence:update", {}],
      ["presence:update", { status: "ONLINE" }],
      ["presence:update", { status: "invisible" }],
      ["presence:update", { status: ["online"] }],
      ["presence:update", { status: "online", customStatus: 5 }],
      ["presence:update", { status: "online", customStatus: { text: "x", __proto__: { evil: 1 }, evil: 2 } }],
      ["presence:get", {}],
      ["presence:get", { userIds: null }],
      ["presence:get", { userIds: [""] }],
      ["presence:get", { userIds: ["u".repeat(256)] }],
      ["presence:get", { userIds: [{ id: "x" }] }],
    ];
    const before = await sqlCalls();
    for (const [event, payload] of cases) {
      const res = await ack(c, event, payload);
      expect(res.ok, `${event} ${JSON.stringify(payload).slice(0, 80)}`).toBe(false);
      if (!res.ok) expect(res.error.code, `${event} ${JSON.stringify(payload).slice(0, 80)}: ${res.error.message}`).toBe("BAD_REQUEST");
    }
    expect(await sqlCalls()).toBe(before);
    c.disconnect();
  });

  it("answers BAD_REQUEST, not INTERNAL, for content PostgreSQL cannot store (NUL characters)", async () => {
    const c = await connect(main.url, token(uid("nul")));
    await ackOk(c, "room:join", { roomName: "general" });
    await ackError(c, "message:send", "BAD_REQUEST", { roomName: "general", content: "nul\u0000inside" });
    await ackError(c, "message:send", "BAD_REQUEST", { roomName: "general", content: "ok", metadata: { note: "nul\u0000" } });
    await ackError(c, "presence:update", "BAD_REQUEST", { status: "online", customStatus: { text: "nul\u0000" } });
    await ackError(c, "presence:get", "BAD_REQUEST", { userIds: ["nul\u0000"] });
    await ackError(c, "message:send", "BAD_REQUEST", { roomName: "general", content: "ok", metadata: { deep: [{ "k\u0000": 1 }] } });
    // Other control characters and lone surrogates are text like any other.
    expect((await ackOk(c, "message:send", { roomName: "general", content: "bell\u0007 tab\t lone\ud800" })).content).toBe("bell\u0007 tab\t lone\ufffd");
    c.disconnect();
  });

  it("connects a client whose handshake device info PostgreSQL cannot store", async () => {
    const user = uid("device");
    const c = await connect(main.url, { token: token(user), device: { name: "nul\u0000device" } });
    expect(c.authInfo.userId).toBe(user);
    c.disconnect();
  });

  it("emits `error` for events sent without an acknowledgement callback", async () => {
    const c = await connect(main.url, token(uid("noack")));
    const first = nextEvent(c, "error", (e: any) => e.code === "BAD_REQUEST");
    c.emit("room:join", 42);
    expect((await first).message).toMatch(/object/);
    const second = nextEvent(c, "error", (e: any) => e.code === "NOT_FOUND");
    c.emit("room:join", { roomName: "missing-" + uid() });
    expect(await second).toMatchObject({ code: "NOT_FOUND" });
    const third = nextEvent(c, "error", (e: any) => e.code === "BAD_REQUEST");
    c.emit("presence:update");
    await third;
    c.disconnect();
  });

  it("ignores unknown events and extra arguments, and keeps serving", async () => {
    const c = await connect(main.url, token(uid("odd")));
    c.emit("no:such:event", { a: 1 });
    c.emit("__proto__", { a: 1 });
    c.emit("constructor");
    c.emit("hasOwnProperty", 1, 2, 3);
    const res = await c.timeout(5000).emitWithAck("room:join", { roomName: "general" }, "extra", 3, { more: true });
    expect(res.ok).toBe(true);
    expect((await ackOk(c, "ping")).timestamp).toBeTypeOf("number");
    c.disconnect();
    await alive(main);
  });

  it("survives a burst of random garbage on one socket", async () => {
    const c = await connect(main.url, token(uid("fuzz")));
    const events = [...ALL_EVENTS, "ping"];
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const values: unknown[] = [null, 0, -1, 1e308, "", "x".repeat(300), "\u0000", [], {}, true, { roomName: "general" }, ["general"]];
    const pick = () => values[Math.floor(rand() * values.length)];
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < 150; i++) {
      const payload: Record<string, unknown> = {};
      for (const key of ["roomName", "content", "threadId", "status", "userIds", "token", "customStatus", "metadata", "since"]) {
        if (rand() < 0.4) payload[key] = pick();
      }
      const event = events[Math.floor(rand() * events.length)];
      acks.push(ack(c, event, rand() < 0.2 ? pick() : payload));
    }
    const results = (await Promise.all(acks)) as { ok: boolean; error?: { code: string } }[];
    expect(results).toHaveLength(150);
    for (const r of results) if (!r.ok) expect(["BAD_REQUEST", "FORBIDDEN", "NOT_FOUND", "UNAUTHORIZED"]).toContain(r.error!.code);
    expect(c.connected).toBe(true);
    c.disconnect();
    await alive(main);
  });
});

describe("unknown events", () => {
  it("answers an unknown event with BAD_REQUEST instead of leaving its acknowledgement hanging", async () => {
    const c = await connect(main.url, token(uid("typo")));
    const err = await ackError(c, "room:joinn", "BAD_REQUEST", { roomName: "general" });
    expect(err.message).toMatch(/unknown event "room:joinn"/);
    // Known events still work afterwards.
    expect((await ack(c, "ping")).ok).toBe(true);
    c.disconnect();
  });
});
