// Presence over real sockets: many devices, the grace period after the last
// disconnect, presence:update / presence:get, and who receives presence:changed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackError, ackOk, connect, expectNoEvent, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { until } from "../helpers/wait.js";

const GRACE = 800;
let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay({ REALTIME_PRESENCE_GRACE: String(GRACE), REALTIME_PRESENCE_HEARTBEAT: "1000" });
});
afterAll(async () => {
  await relay?.dispose();
});

const about = (userId: string, status?: string) => (p: any) => p.userId === userId && (status === undefined || p.status === status);

/** alice in a room with bob; stranger connected, sharing no room with alice. */
async function scene() {
  const room = await createRoom(relay.db, uid("presence"));
  const alice = uid("alice");
  const bob = uid("bob");
  const a = await connect(relay.url, token(alice));
  const b = await connect(relay.url, token(bob));
  const stranger = await connect(relay.url, token(uid("stranger")));
  await ackOk(a, "room:join", { roomName: room });
  await ackOk(b, "room:join", { roomName: room });
  return { room, alice, bob, a, b, stranger, close: () => [a, b, stranger].forEach((s) => s.disconnect()) };
}

describe("presence:update and presence:changed", () => {
  it("goes to the user's own sockets and room co-members, not to a socket sharing no room", async () => {
    const s = await scene();
    const a2 = await connect(relay.url, token(s.alice));
    const toBob = nextEvent(s.b, "presence:changed", about(s.alice, "away"));
    const toOwnOther = nextEvent(a2, "presence:changed", about(s.alice, "away"));
    const toSelf = nextEvent(s.a, "presence:changed", about(s.alice, "away"));
    const notStranger = expectNoEvent(s.stranger, "presence:changed", 500, about(s.alice));

    const custom = { text: "In a meeting", emoji: "📅" };
    const data = await ackOk(s.a, "presence:update", { status: "away", customStatus: custom });
    expect(data).toMatchObject({ userId: s.alice, status: "away", customStatus: custom });
    const seen = await toBob;
    expect(seen).toMatchObject({ userId: s.alice, status: "away", customStatus: custom });
    expect(seen.lastSeen).toBeTypeOf("string");
    await toOwnOther;
    await toSelf;
    await notStranger;

    // presence:get reads it back (alice is in a public room, which anyone may watch); a user the
    // asker may not see (here: one in no room at all) is left out.
    const nobody = uid("nobody");
    const got = await ackOk(s.stranger, "presence:get", { userIds: [s.alice, nobody] });
    expect(got).toEqual([expect.objectContaining({ userId: s.alice, status: "away", customStatus: custom })]);
    expect(await ackOk(s.stranger, "presence:get", { userIds: [] })).toEqual([]);

    // customStatus omitted keeps it; null clears it.
    expect((await ackOk(s.a, "presence:update", { status: "busy" })).customStatus).toEqual(custom);
    const cleared = nextEvent(s.b, "presence:changed", (p: any) => p.userId === s.alice && p.customStatus === null);
    expect((await ackOk(s.a, "presence:update", { status: "busy", customStatus: null })).customStatus).toBeNull();
    expect((await cleared).status).toBe("busy");

    // Setting the same status again announces nothing.
    const quiet = expectNoEvent(s.b, "presence:changed", 300, about(s.alice));
    await ackOk(s.a, "presence:update", { status: "busy" });
    await quiet;
    a2.disconnect();
    s.close();
  });

  it("a chosen status survives a new device", async () => {
    const s = await scene();
    const busy = nextEvent(s.b, "presence:changed", about(s.alice, "busy"));
    await ackOk(s.a, "presence:update", { status: "busy" });
    await busy;
    const quiet = expectNoEvent(s.b, "presence:changed", 300, about(s.alice));
    const a2 = await connect(relay.url, token(s.alice));
    await quiet;
    expect((await ackOk(s.b, "presence:get", { userIds: [s.alice] }))[0].status).toBe("busy");
    a2.disconnect();
    s.close();
  });

  it("refuses bad presence payloads with BAD_REQUEST", async () => {
    const c = await connect(relay.url, token(uid()));
    await ackError(c, "presence:update", "BAD_REQUEST", { status: "invisible" });
    await ackError(c, "presence:update", "BAD_REQUEST", { status: "online", customStatus: "text" });
    await ackError(c, "presence:update", "BAD_REQUEST", { status: "online", customStatus: { text: 5 } });
    await ackError(c, "presence:update", "BAD_REQUEST", { status: "online", customStatus: { text: "x", mood: "odd" } });
    await ackError(c, "presence:update", "BAD_REQUEST", { status: "online", customStatus: { text: "x".repeat(129) } });
    await ackError(c, "presence:update", "BAD_REQUEST", { status: "online", customStatus: { expiresAt: "not a date" } });
    await ackError(c, "presence:get", "BAD_REQUEST", { userIds: Array.from({ length: 101 }, (_, i) => `u${i}`) });
    await ackError(c, "presence:get", "BAD_REQUEST", { userIds: "alice" });
    await ackError(c, "presence:get", "BAD_REQUEST", { userIds: [1, 2] });
    c.disconnect();
  });
});

describe("devices and the grace period", () => {
  it("closing one of two devices keeps the user online and announces nothing", async () => {
    const s = await scene();
    const a2 = await connect(relay.url, token(s.alice));
    const quiet = expectNoEvent(s.b, "presence:changed", GRACE + 700, about(s.alice));
    s.a.disconnect();
    await quiet;
    expect((await ackOk(s.b, "presence:get", { userIds: [s.alice] }))[0].status).toBe("online");

    // The last device going away: offline after the grace period, to co-members only.
    const offline = nextEvent(s.b, "presence:changed", about(s.alice, "offline"), GRACE + 3000);
    const notStranger = expectNoEvent(s.stranger, "presence:changed", GRACE + 1000, about(s.alice));
    const t0 = Date.now();
    a2.disconnect();
    const seen = await offline;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(GRACE - 50);
    expect(Date.parse(seen.lastSeen)).toBeLessThanOrEqual(Date.now());
    await notStranger;
    s.close();
  });

  it("a reconnect within the grace period announces no offline", async () => {
    const s = await scene();
    const quiet = expectNoEvent(s.b, "presence:changed", GRACE + 1000, about(s.alice));
    s.a.disconnect();
    // The relay recorded the disconnect and the grace period is running.
    await until(() => relay.db.v("select offline_at is not null as v from realtime_presence where user_id = $1", [s.alice]));
    const again = await connect(relay.url, token(s.alice));
    expect(again.authInfo.rooms).toContain(s.room);
    await quiet;
    expect((await ackOk(s.b, "presence:get", { userIds: [s.alice] }))[0].status).toBe("online");
    again.disconnect();
    s.close();
  });

  it("coming back after going offline announces online again", async () => {
    const s = await scene();
    const offline = nextEvent(s.b, "presence:changed", about(s.alice, "offline"), GRACE + 3000);
    s.a.disconnect();
    await offline;
    expect((await ackOk(s.b, "presence:get", { userIds: [s.alice] }))[0].status).toBe("offline");
    const online = nextEvent(s.b, "presence:changed", about(s.alice, "online"));
    const again = await connect(relay.url, token(s.alice));
    await online;
    again.disconnect();
    s.close();
  });
});

describe("presence:get visibility", () => {
  it("answers what presence:changed would show: self, room co-members and public-room members; leaves the rest out", async () => {
    const carol = uid("carol");
    const dave = uid("dave");
    const erin = uid("erin"); // never connected, member of the group
    const ghost = uid("ghost"); // in no room
    const group = await createRoom(relay.db, uid("secret"), "group", "private");
    for (const u of [carol, dave, erin]) await relay.db.q("select realtime_add_member($1, $2)", [group, u]);
    const c = await connect(relay.url, token(carol));
    const stranger = await connect(relay.url, token(uid("stranger")));
    await ackOk(c, "presence:update", { status: "busy" });

    const ids = [carol, dave, erin, ghost];
    // A co-member sees the whole group, offline included, in the order asked.
    const d = await connect(relay.url, token(dave));
    expect((await ackOk(d, "presence:get", { userIds: ids })).map((p: any) => [p.userId, p.status])).toEqual([
      [carol, "busy"],
      [dave, "online"],
      [erin, "offline"],
    ]);
    // A stranger sees none of them; a user always sees themself.
    expect(await ackOk(stranger, "presence:get", { userIds: ids })).toEqual([]);
    expect((await ackOk(c, "presence:get", { userIds: [carol, ghost] })).map((p: any) => p.userId)).toEqual([carol]);

    // After carol leaves the group, dave no longer sees her.
    await relay.db.q("select realtime_remove_member($1, $2)", [group, carol]);
    expect((await ackOk(d, "presence:get", { userIds: [carol] }))).toEqual([]);
    for (const s of [c, d, stranger]) s.disconnect();
  });

  it("shows anonymous connections public-room members only", async () => {
    const anon = await startRelay({ REALTIME_ALLOW_ANONYMOUS: "true" }, { db: relay.db });
    try {
      const lobby = await createRoom(relay.db, uid("lobby"));
      const group = await createRoom(relay.db, uid("hidden"), "group", "private");
      const open = uid("open");
      const closed = uid("closed");
      await relay.db.q("select realtime_add_member($1, $2)", [lobby, open]);
      await relay.db.q("select realtime_add_member($1, $2)", [group, closed]);
      const viewer = await connect(anon.url, {});
      expect((await ackOk(viewer, "presence:get", { userIds: [open, closed] })).map((p: any) => p.userId)).toEqual([open]);
      viewer.disconnect();
    } finally {
      await anon.stop();
    }
  });

  it("answers everyone with REALTIME_PRESENCE_VISIBILITY=all", async () => {
    const all = await startRelay({ REALTIME_PRESENCE_VISIBILITY: "all" }, { db: relay.db });
    try {
      const ghost = uid("ghost");
      const c = await connect(all.url, token(uid("asker")));
      expect(await ackOk(c, "presence:get", { userIds: [ghost] })).toEqual([
        { userId: ghost, status: "offline", customStatus: null, lastSeen: null },
      ]);
      c.disconnect();
    } finally {
      await all.stop();
    }
  });
});
