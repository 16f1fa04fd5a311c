// Presence changes go out once per tick: however many members of a room change at once, a socket
// gets at most one presence frame for that room per tick (presence:changed when it is the room's
// only change, presence:diff with the changes in order otherwise), and no change of a user is lost
// or reordered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackOk, connect, type Client } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { until } from "../helpers/wait.js";

const TICK_MS = 200;
let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay({
    REALTIME_PRESENCE_TICK: String(TICK_MS),
    REALTIME_PRESENCE_GRACE: "0",
    REALTIME_PRESENCE_RATE_LIMIT: "1000",
  });
});
afterAll(async () => {
  await relay?.dispose();
});

interface Frame {
  at: number;
  name: string;
  payload: any;
}

describe("presence ticks", () => {
  it("coalesces a storm of changes into one frame per room per tick, every change there in order", async () => {
    const room = await createRoom(relay.db, uid("ticks"));
    const members = Array.from({ length: 20 }, () => uid("m"));
    for (const m of members) await relay.db.q("select realtime_add_member($1, $2)", [room, m]);
    const observer = await connect(relay.url, token(uid("observer")));
    await ackOk(observer, "room:join", { roomName: room });
    await new Promise((r) => setTimeout(r, 2 * TICK_MS));

    // Raw frames, before the test helper hands a diff's changes to presence:changed listeners.
    const frames: Frame[] = [];
    observer.onAny((name: string, payload: any) => {
      if (name === "presence:changed" || name === "presence:diff") frames.push({ at: Date.now(), name, payload });
    });

    // Everyone comes online at once, then each goes away, busy, online again as fast as it can.
    const sockets: Client[] = await Promise.all(members.map((m) => connect(relay.url, token(m))));
    await Promise.all(
      sockets.map(async (s) => {
        for (const status of ["away", "busy", "online"]) await ackOk(s, "presence:update", { status });
      }),
    );
    const changesOf = (f: Frame) => (f.name === "presence:diff" ? (f.payload.changes as any[]) : [f.payload]);
    const seen = () => frames.flatMap(changesOf);
    await until(() => members.every((m) => seen().filter((p) => p.userId === m).length >= 4), 10_000);

    const changes = seen();
    // Frames about the room's members (the observer's own presence:changed is not one).
    const memberSet = new Set(members);
    const roomFrames = frames.filter((f) => (f.name === "presence:changed" ? memberSet.has(f.payload.userId) : f.payload.roomName === room));
    // Far fewer frames than changes: 20 users × 4 changes.
    expect(changes.length).toBeGreaterThanOrEqual(members.length * 4);
    expect(roomFrames.length).toBeLessThan(changes.length / 4);
    expect(frames.some((f) => f.name === "presence:diff" && f.payload.changes.length > 1)).toBe(true);
    // One flush per tick: frames of the same flush arrive together, flushes a tick apart.
    const flushes: number[] = [];
    for (const f of roomFrames) if (flushes.length === 0 || f.at - flushes[flushes.length - 1]! > TICK_MS / 2) flushes.push(f.at);
    for (let i = 1; i < flushes.length; i++) expect(flushes[i]! - flushes[i - 1]!).toBeGreaterThanOrEqual(TICK_MS * 0.75);
    // No more than one frame for the room per flush.
    const perFlush = flushes.map((t) => roomFrames.filter((f) => f.at >= t && f.at - t <= TICK_MS / 2).length);
    for (const n of perFlush) expect(n).toBe(1);
    // Each user's changes, in the order they were made, none lost.
    for (const m of members) {
      expect(changes.filter((p) => p.userId === m).map((p) => p.status)).toEqual(["online", "away", "busy", "online"]);
    }
    for (const s of [observer, ...sockets]) s.disconnect();
  });

  it("a lone change goes out as presence:changed, once per socket, to the user's other sockets too", async () => {
    const room = await createRoom(relay.db, uid("lone"));
    const alice = uid("alice");
    const bob = uid("bob");
    const a1 = await connect(relay.url, token(alice));
    const a2 = await connect(relay.url, token(alice));
    const b = await connect(relay.url, token(bob));
    for (const s of [a1, b]) await ackOk(s, "room:join", { roomName: room });
    await new Promise((r) => setTimeout(r, 2 * TICK_MS));
    const got = new Map<Client, string[]>([[a2, []], [b, []]]);
    for (const [s, list] of got) s.onAny((name: string, p: any) => name.startsWith("presence:") && list.push(`${name}:${p.status ?? ""}`));
    await ackOk(a1, "presence:update", { status: "busy" });
    await until(() => got.get(b)!.length > 0 && got.get(a2)!.length > 0, 5000);
    await new Promise((r) => setTimeout(r, 2 * TICK_MS));
    expect(got.get(b)).toEqual(["presence:changed:busy"]);
    expect(got.get(a2)).toEqual(["presence:changed:busy"]);
    for (const s of [a1, a2, b]) s.disconnect();
  });
});
