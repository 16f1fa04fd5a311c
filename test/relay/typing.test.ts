// Typing indicators over real sockets: typing:event only when the set of typers
// changes; refresh is silent; stop, expiry, sending a message and disconnecting clear it; threads
// are separate sets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackError, ackOk, connect, expectNoEvent, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { sleep } from "../helpers/wait.js";

// Long enough that a loaded machine does not expire indicators in the middle of a test.
const TYPING_TIMEOUT = 1500;
let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay({ REALTIME_TYPING_TIMEOUT: String(TYPING_TIMEOUT) });
});
afterAll(async () => {
  await relay?.dispose();
});

async function scene() {
  const room = await createRoom(relay.db, uid("typing"));
  const alice = uid("alice");
  const bob = uid("bob");
  const a = await connect(relay.url, token(alice));
  const b = await connect(relay.url, token(bob));
  await ackOk(a, "room:join", { roomName: room });
  await ackOk(b, "room:join", { roomName: room });
  return { room, alice, bob, a, b, close: () => [a, b].forEach((s) => s.disconnect()) };
}

const inRoom = (room: string, threadId: string | null = null) => (e: any) => e.roomName === room && e.threadId === threadId;

describe("typing", () => {
  it("start broadcasts the set, a refresh does not, stop broadcasts the empty set", async () => {
    const s = await scene();
    const seenByB = nextEvent(s.b, "typing:event", inRoom(s.room));
    const seenByA = nextEvent(s.a, "typing:event", inRoom(s.room));
    const started = await ackOk(s.a, "typing:start", { roomName: s.room });
    expect(started).toEqual({ changed: true, users: [s.alice] });
    expect(await seenByB).toEqual({ roomName: s.room, threadId: null, users: [s.alice] });
    await seenByA;

    // A second typer: the set changes again.
    const both = nextEvent(s.a, "typing:event", (e: any) => inRoom(s.room)(e) && e.users.length === 2);
    const bothAtB = nextEvent(s.b, "typing:event", (e: any) => inRoom(s.room)(e) && e.users.length === 2);
    await ackOk(s.b, "typing:start", { roomName: s.room });
    expect((await both).users).toEqual([s.alice, s.bob]);
    await bothAtB; // delivered to every socket before the silence below is measured

    // Refresh: no broadcast.
    const silent = expectNoEvent(s.b, "typing:event", 300);
    expect(await ackOk(s.a, "typing:start", { roomName: s.room })).toEqual({ changed: false });
    await silent;

    const stopped = nextEvent(s.b, "typing:event", (e: any) => inRoom(s.room)(e) && !e.users.includes(s.alice));
    expect(await ackOk(s.a, "typing:stop", { roomName: s.room })).toEqual({ changed: true });
    expect((await stopped).users).toEqual([s.bob]);
    // Stopping again changes nothing.
    const silent2 = expectNoEvent(s.b, "typing:event", 300);
    expect(await ackOk(s.a, "typing:stop", { roomName: s.room })).toEqual({ changed: false });
    await silent2;
    s.close();
  });

  it("expires after REALTIME_TYPING_TIMEOUT and announces it within timeout + 500 ms", async () => {
    const s = await scene();
    const started = nextEvent(s.b, "typing:event", inRoom(s.room));
    const t0 = Date.now();
    await ackOk(s.a, "typing:start", { roomName: s.room });
    await started;
    const cleared = await nextEvent(s.b, "typing:event", (e: any) => inRoom(s.room)(e) && e.users.length === 0, TYPING_TIMEOUT + 2000);
    const elapsed = Date.now() - t0;
    expect(cleared.users).toEqual([]);
    expect(elapsed).toBeGreaterThanOrEqual(TYPING_TIMEOUT - 50);
    expect(elapsed).toBeLessThanOrEqual(TYPING_TIMEOUT + 500);
    s.close();
  });

  it("a refresh keeps the indicator alive past the first timeout", async () => {
    const s = await scene();
    const started = nextEvent(s.b, "typing:event", inRoom(s.room));
    await ackOk(s.a, "typing:start", { roomName: s.room });
    await started;
    // Refresh at 60% of the timeout, twice; no clear may arrive meanwhile.
    const noClear = expectNoEvent(s.b, "typing:event", Math.round(TYPING_TIMEOUT * 1.2), (e: any) => inRoom(s.room)(e));
    await sleep(TYPING_TIMEOUT * 0.6);
    expect((await ackOk(s.a, "typing:start", { roomName: s.room })).changed).toBe(false);
    await noClear;
    await nextEvent(s.b, "typing:event", (e: any) => inRoom(s.room)(e) && e.users.length === 0, TYPING_TIMEOUT + 1500);
    s.close();
  });

  it("disconnecting clears the typer", async () => {
    const s = await scene();
    const started = nextEvent(s.b, "typing:event", inRoom(s.room, "th"));
    await ackOk(s.a, "typing:start", { roomName: s.room, threadId: "th" });
    expect((await started).users).toEqual([s.alice]);
    const cleared = nextEvent(s.b, "typing:event", (e: any) => inRoom(s.room, "th")(e) && e.users.length === 0, 2000);
    s.a.disconnect();
    const t0 = Date.now();
    await cleared;
    expect(Date.now() - t0).toBeLessThan(TYPING_TIMEOUT); // not by expiry
    s.b.disconnect();
  });

  it("sending a message clears the sender's typing", async () => {
    const s = await scene();
    const started = nextEvent(s.b, "typing:event", inRoom(s.room));
    await ackOk(s.a, "typing:start", { roomName: s.room });
    await started;
    const cleared = nextEvent(s.b, "typing:event", (e: any) => inRoom(s.room)(e) && e.users.length === 0, 2000);
    const t0 = Date.now();
    await ackOk(s.a, "message:send", { roomName: s.room, content: "done typing" });
    await cleared;
    expect(Date.now() - t0).toBeLessThan(TYPING_TIMEOUT);
    s.close();
  });

  it("keeps threads separate from the room and from each other", async () => {
    const s = await scene();
    const t1 = nextEvent(s.b, "typing:event", inRoom(s.room, "t1"));
    await ackOk(s.a, "typing:start", { roomName: s.room, threadId: "t1" });
    expect(await t1).toEqual({ roomName: s.room, threadId: "t1", users: [s.alice] });

    const roomLevel = nextEvent(s.a, "typing:event", inRoom(s.room));
    await ackOk(s.b, "typing:start", { roomName: s.room });
    expect((await roomLevel).users).toEqual([s.bob]); // alice's thread typing is not in the room set

    const t2 = nextEvent(s.b, "typing:event", inRoom(s.room, "t2"));
    expect((await ackOk(s.a, "typing:start", { roomName: s.room, threadId: "t2" })).changed).toBe(true);
    expect((await t2).users).toEqual([s.alice]);

    // room:join answers the current typers of every thread.
    const c = await connect(relay.url, token(uid("carol")));
    const joined = await ackOk(c, "room:join", { roomName: s.room });
    expect(joined.typing).toEqual(
      expect.arrayContaining([
        { userId: s.alice, threadId: "t1" },
        { userId: s.bob, threadId: null },
        { userId: s.alice, threadId: "t2" },
      ]),
    );
    expect(joined.typing).toHaveLength(3);

    // Stopping t1 leaves t2 and the room set alone.
    const t1Stop = nextEvent(s.b, "typing:event", (e: any) => inRoom(s.room, "t1")(e) && e.users.length === 0);
    const others = expectNoEvent(s.b, "typing:event", 300, (e: any) => e.threadId !== "t1");
    await ackOk(s.a, "typing:stop", { roomName: s.room, threadId: "t1" });
    await t1Stop;
    await others;
    c.disconnect();
    s.close();
  });

  it("leaving the room clears the typer", async () => {
    const s = await scene();
    const started = nextEvent(s.b, "typing:event", inRoom(s.room));
    await ackOk(s.a, "typing:start", { roomName: s.room });
    await started;
    const cleared = nextEvent(s.b, "typing:event", (e: any) => inRoom(s.room)(e) && e.users.length === 0, 2000);
    await ackOk(s.a, "room:leave", { roomName: s.room });
    await cleared;
    s.close();
  });

  it("refuses typing in a room the user is not a member of, and in an unknown room", async () => {
    const room = await createRoom(relay.db, uid("closed"));
    const c = await connect(relay.url, token(uid()));
    await ackError(c, "typing:start", "FORBIDDEN", { roomName: room });
    await ackError(c, "typing:start", "NOT_FOUND", { roomName: uid("missing") });
    // Stopping what was never started is harmless.
    expect(await ackOk(c, "typing:stop", { roomName: room })).toEqual({ changed: false });
    c.disconnect();
  });
});
