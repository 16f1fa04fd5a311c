// The SDK's pieces without a server: the replay offset and deduplication, the JWT expiry, the typing
// throttle, the send queue, client message ids.
import jwt from "jsonwebtoken";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newClientMessageId } from "../../client/ids.js";
import { Outbox, type OutboxTransport } from "../../client/outbox.js";
import { Room, type RoomHost } from "../../client/room.js";
import { MessageSequencer } from "../../client/resume.js";
import { refreshDelayMs, tokenTimes } from "../../client/token.js";
import { TypingThrottle } from "../../client/typing.js";
import type { Ack, Message } from "../../client/wire.js";

const msg = (id: number): Message => ({ id, eventId: `e${id}`, roomName: "r", userId: "u", content: `m${id}`, threadId: null, metadata: null, timestamp: "" });
const ids = (ms: Message[]) => ms.map((m) => m.id);

afterEach(() => {
  vi.useRealTimers();
});

describe("MessageSequencer", () => {
  it("holds live messages during a join and does not move the offset with them until the answer", () => {
    const s = new MessageSequencer();
    expect(s.live(msg(12))).toEqual([]); // before the first answer: held
    expect(ids(s.joined({ events: [], gap: false, latestId: 10 }))).toEqual([12]);
    expect(s.offset).toBe(12);
    expect(ids(s.live(msg(13)))).toEqual([13]);
    expect(s.offset).toBe(13);

    s.beginResync();
    // Live messages arrive before the replay that fills the gap: the offset stays at 13.
    expect(s.live(msg(20))).toEqual([]);
    expect(s.live(msg(21))).toEqual([]);
    expect(s.offset).toBe(13);
    const out = s.joined({ events: [msg(13), msg(15), msg(20)], gap: false, latestId: 20 });
    expect(ids(out)).toEqual([15, 20, 21]);
    expect(s.offset).toBe(21);
    expect(s.live(msg(21))).toEqual([]);
    expect(s.live(msg(20))).toEqual([]);
  });

  it("starts at the latest id when the room has messages, at 0 when it has none", () => {
    const a = new MessageSequencer();
    a.joined({ events: [], gap: false, latestId: 41 });
    expect(a.offset).toBe(41);
    const b = new MessageSequencer();
    b.joined({ events: [], gap: false, latestId: null });
    expect(b.offset).toBe(0);
    const c = new MessageSequencer(7); // an offset the application kept
    expect(c.offset).toBe(7);
  });

  it("remembers many ids without growing: forgotten ones count as seen", () => {
    const s = new MessageSequencer();
    s.joined(undefined);
    for (let i = 1; i <= 12_000; i++) expect(s.live(msg(i))).toHaveLength(1);
    expect(s.live(msg(1))).toEqual([]);
    expect(s.live(msg(11_999))).toEqual([]);
    expect(ids(s.live(msg(12_001)))).toEqual([12_001]);
  });
});

describe("Room reorder window", () => {
  it("gives live messages that arrive out of id order within the window in id order, each after its own wait", async () => {
    vi.useFakeTimers();
    const host: RoomHost = {
      userId: "me",
      anonymous: false,
      typingTimings: { refreshMs: 2000, idleMs: 2500 },
      reorderWindowMs: 150,
      request: (<T>(event: string) => (event === "room:join" ? Promise.resolve({ room: {}, joined: true, members: [], memberCount: 0, typing: [], replay: { events: [], gap: false, latestId: 5 } } as T) : new Promise<T>(() => {}))) as RoomHost["request"],
      signal: () => {},
      presenceOf: () => ({ presence: undefined, version: 0 }),
      forget: () => {},
    };
    const room = new Room(host, "r", undefined);
    const joined = room.whenJoined();
    room.join();
    await joined;
    await vi.advanceTimersByTimeAsync(1);
    const got: number[] = [];
    room.on("message", (m) => got.push(m.id));
    vi.advanceTimersByTime(100);
    room.onMessage(msg(8)); // arrives first
    vi.advanceTimersByTime(140);
    room.onMessage(msg(7)); // 140 ms later: still inside 8's window
    room.onMessage(msg(8)); // a duplicate
    vi.advanceTimersByTime(9);
    expect(got).toEqual([]);
    vi.advanceTimersByTime(1); // 8's window ends: 7 goes with it, first
    expect(got).toEqual([7, 8]);
    room.onMessage(msg(9));
    vi.advanceTimersByTime(150);
    expect(got).toEqual([7, 8, 9]);
    expect(room.offset).toBe(9);
  });
});

describe("Room members through a pending join", () => {
  it("applies membership, presence and typing events that arrive while a join is pending over the answer's snapshot", async () => {
    let answer!: (v: unknown) => void;
    const host: RoomHost = {
      userId: "me",
      anonymous: false,
      typingTimings: { refreshMs: 2000, idleMs: 2500 },
      reorderWindowMs: 0,
      request: (<T>(event: string) => (event === "room:join" ? new Promise<T>((r) => (answer = r as (v: unknown) => void)) : new Promise<T>(() => {}))) as RoomHost["request"],
      signal: () => {},
      presenceOf: (id) => ({ presence: id === "x" ? { status: "online", customStatus: null, lastSeen: null } : undefined, version: 1 }),
      forget: () => {},
    };
    const room = new Room(host, "r", undefined);
    const joined = room.whenJoined();
    room.join();
    // Meanwhile (the socket is already in the room): x joins, alice goes busy then bob leaves, bob types.
    room.onUserJoined("x");
    room.onPresence({ userId: "alice", status: "busy", customStatus: { text: "lunch" }, lastSeen: null });
    room.onTyping({ roomName: "r", threadId: null, users: ["bob"] });
    room.onUserLeft("bob");
    room.onUserLeft("me"); // this user's own leave elsewhere: overtaken by this join
    const member = (userId: string, status: "online" | "offline") => ({ userId, role: "member", joinedAt: "", status, customStatus: null, lastSeen: null });
    answer({ room: {}, joined: false, members: [member("me", "online"), member("alice", "online"), member("bob", "online")], memberCount: 3, typing: [] });
    await joined;
    expect(room.joined).toBe(true);
    expect([...room.members.keys()].sort()).toEqual(["alice", "me", "x"]);
    expect(room.members.get("alice")).toEqual({ status: "busy", customStatus: { text: "lunch" }, lastSeen: null });
    expect(room.typingUsers).toEqual(["bob"]);
  });
});

describe("tokens", () => {
  it("reads exp and iat from a JWT without verifying it, and refreshes a quarter of its lifetime early", () => {
    const now = Date.now();
    const t = jwt.sign({ sub: "a", iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 40 }, "some-secret-that-we-do-not-know");
    expect(tokenTimes(t).exp).toBe(Math.floor(now / 1000) + 40);
    const delay = refreshDelayMs(t, now)!;
    expect(delay).toBeGreaterThan(28_000);
    expect(delay).toBeLessThanOrEqual(30_000);
    // Long-lived: at most 60 s early.
    const long = jwt.sign({ sub: "a", iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 3600 }, "x");
    expect(refreshDelayMs(long, now)).toBeGreaterThan(3_530_000);
    expect(refreshDelayMs("not.a.jwt", now)).toBeUndefined();
    expect(refreshDelayMs(jwt.sign({ sub: "a" }, "x", { noTimestamp: true }), now)).toBeUndefined();
    // base64url payloads with - and _ and no padding.
    const payload = Buffer.from(JSON.stringify({ sub: "ü>>>???", exp: 123 })).toString("base64url");
    expect(tokenTimes(`h.${payload}.s`).exp).toBe(123);
  });
});

describe("TypingThrottle", () => {
  it("starts once per refresh period while typing, stops after the pause, and a reset sends nothing", () => {
    vi.useFakeTimers();
    const sent: string[] = [];
    const t = new TypingThrottle((op) => sent.push(op), { refreshMs: 2000, idleMs: 2500 });
    for (let i = 0; i < 30; i++) {
      t.keystroke();
      vi.advanceTimersByTime(100);
    }
    expect(sent).toEqual(["start", "start"]); // at 0 and at 2000 ms
    vi.advanceTimersByTime(2500);
    expect(sent).toEqual(["start", "start", "stop"]);
    t.keystroke();
    t.reset(); // a send cleared it on the server
    vi.advanceTimersByTime(5000);
    expect(sent).toEqual(["start", "start", "stop", "start"]);
  });
});

describe("Outbox", () => {
  function fakeTransport() {
    const calls: { event: string; payload: any; cb: (err: Error | null, answer?: Ack<unknown>) => void }[] = [];
    const t: OutboxTransport & { up: boolean } = {
      up: false,
      ready: () => t.up,
      emit: (event, payload, _timeout, cb) => calls.push({ event, payload, cb }),
    };
    return { t, calls };
  }

  it("waits for the connection, resends with the same payload after a lost answer, ignores stale answers", async () => {
    const { t, calls } = fakeTransport();
    const box = new Outbox(t, { ackTimeoutMs: 1000, maxPendingSends: 10 });
    const p = box.request<any>("message:send", { clientMessageId: "x" }, { send: true });
    expect(calls).toHaveLength(0);
    t.up = true;
    box.flush();
    expect(calls).toHaveLength(1);
    t.up = false;
    box.disconnected();
    t.up = true;
    box.flush();
    expect(calls).toHaveLength(2);
    expect(calls[1].payload).toBe(calls[0].payload);
    calls[0].cb(null, { ok: true, data: { id: 1 } }); // the first attempt's late answer: ignored
    calls[1].cb(null, { ok: true, data: { id: 2 } });
    await expect(p).resolves.toEqual({ id: 2 });
    expect(box.pendingSends).toBe(0);
  });

  it("retries RATE_LIMITED after the advertised delay and rejects other refusals", async () => {
    vi.useFakeTimers();
    const { t, calls } = fakeTransport();
    t.up = true;
    const box = new Outbox(t, { ackTimeoutMs: 1000, maxPendingSends: 10 });
    const p = box.request<any>("message:send", {}, { send: true });
    calls[0].cb(null, { ok: false, error: { code: "RATE_LIMITED", message: "slow down", details: { retryAfterMs: 700 } } });
    vi.advanceTimersByTime(650);
    expect(calls).toHaveLength(1);
    vi.advanceTimersByTime(100);
    expect(calls).toHaveLength(2);
    calls[1].cb(null, { ok: false, error: { code: "FORBIDDEN", message: "no" } });
    await expect(p).rejects.toMatchObject({ code: "FORBIDDEN", message: "no" });
  });
});

describe("client message ids", () => {
  it("are UUIDs, different each time, also without crypto.randomUUID", () => {
    const a = newClientMessageId();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newClientMessageId()).not.toBe(a);
    const c = globalThis.crypto as { randomUUID?: unknown };
    const original = c.randomUUID;
    Object.defineProperty(c, "randomUUID", { value: undefined, configurable: true, writable: true });
    try {
      const b = newClientMessageId();
      expect(b).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(newClientMessageId()).not.toBe(b);
    } finally {
      Object.defineProperty(c, "randomUUID", { value: original, configurable: true, writable: true });
    }
  });
});
