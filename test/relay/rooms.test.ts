// Rooms over the socket: room:join / room:leave answers, user:joined and
// user:left once per membership, rejoining on connect, and every row of the authorisation table,
// including anonymous connections on a relay that allows them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPg, createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackError, ackOk, collect, connect, connectError, expectNoEvent, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";

let relay: TestRelay;
let anon: TestRelay; // same database, REALTIME_ALLOW_ANONYMOUS=true

beforeAll(async () => {
  relay = await startRelay();
  anon = await startRelay({ REALTIME_ALLOW_ANONYMOUS: "true" }, { db: relay.db });
});
afterAll(async () => {
  await anon?.dispose();
  await relay?.dispose();
});

const roomName = (prefix: string) => uid(prefix);

describe("joins that overlap", () => {
  it("a socket whose join is in flight still hears of a member who joined meanwhile, once it is in", async () => {
    // Setup: bob's join is held in SQL (a DBA's uncommitted membership row for bob blocks his insert).
    const room = await createRoom(relay.db, roomName("overlap"));
    const [alice, bob] = [uid("alice"), uid("bob")];
    const a = await connect(relay.url, token(alice));
    const b = await connect(relay.url, token(bob));
    const dba = await connectPg(relay.db.url);
    try {
      await dba.query("begin");
      await dba.query("insert into realtime_room_members (room_id, user_id) select id, $2 from realtime_rooms where name = $1", [room, bob]);
      const heard = collect<{ userId: string }>(b, "user:joined");
      const bobJoin = ackOk(b, "room:join", { roomName: room });
      await new Promise((r) => setTimeout(r, 200)); // bob's join is waiting on the row lock

      // Action: alice joins while bob's join is in flight (through SQL: a room's joins through the
      // relay share a batch lane, so hers would wait behind his); then the DBA lets go.
      await relay.db.q("select realtime_add_member($1, $2)", [room, alice]);
      await new Promise((r) => setTimeout(r, 100));
      await dba.query("rollback");
      await bobJoin;

      // Assertions: bob heard of alice (held for his join, delivered once he was in), once.
      await new Promise((r) => setTimeout(r, 200));
      expect(heard.filter((e) => e.userId === alice)).toHaveLength(1);
    } finally {
      await dba.end();
      a.disconnect();
      b.disconnect();
    }
  });

  it("a socket whose join is refused hears nothing of the room", async () => {
    const room = await createRoom(relay.db, roomName("closed"), "channel", "private");
    const [owner, outsider] = [uid("owner"), uid("outsider")];
    await relay.db.q("select realtime_add_member($1, $2)", [room, owner]);
    const o = await connect(relay.url, token(owner));
    const x = await connect(relay.url, token(outsider));
    try {
      const heard = collect(x, "presence:changed");
      const refused = ackError(x, "room:join", "FORBIDDEN", { roomName: room });
      await ackOk(o, "presence:update", { status: "busy" });
      expect((await refused).code).toBe("FORBIDDEN");
      await new Promise((r) => setTimeout(r, 200));
      expect(heard.filter((p: any) => p.userId === owner)).toEqual([]);
    } finally {
      o.disconnect();
      x.disconnect();
    }
  });
});

describe("room:join and room:leave", () => {
  it("joins a public channel: answers room, members with presence and typers; announces user:joined", async () => {
    const room = await createRoom(relay.db, roomName("general"));
    const alice = uid("alice");
    const bob = uid("bob");
    const a = await connect(relay.url, token(alice));
    await ackOk(a, "room:join", { roomName: room });

    const b = await connect(relay.url, token(bob));
    const joinedSeen = nextEvent(a, "user:joined", (p: any) => p.userId === bob);
    const data = await ackOk(b, "room:join", { roomName: room });
    expect(data.room).toMatchObject({ name: room, type: "channel", visibility: "public" });
    expect(data.joined).toBe(true);
    expect(data.memberCount).toBe(2);
    expect(data.typing).toEqual([]);
    expect(data.members).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ userId: alice, status: "online", role: "member" }),
        expect.objectContaining({ userId: bob, status: "online" }),
      ]),
    );
    expect(await joinedSeen).toEqual({ roomName: room, userId: bob });
    a.disconnect();
    b.disconnect();
  });

  it("fires user:joined and user:left once per membership change, not for a second tab", async () => {
    const room = await createRoom(relay.db, roomName("tabs"));
    const watcher = await connect(relay.url, token(uid("watcher")));
    await ackOk(watcher, "room:join", { roomName: room });
    const joined = collect(watcher, "user:joined");
    const left = collect(watcher, "user:left");

    const user = uid("tabby");
    const tab1 = await connect(relay.url, token(user));
    const tab2 = await connect(relay.url, token(user));

    const firstJoin = nextEvent(watcher, "user:joined", (p: any) => p.userId === user);
    // The member notification also moves the user's other tab into the room.
    const tab2Joined = nextEvent(tab2, "user:joined", (p: any) => p.userId === user);
    expect((await ackOk(tab1, "room:join", { roomName: room })).joined).toBe(true);
    await firstJoin;
    await tab2Joined;

    const again = await ackOk(tab2, "room:join", { roomName: room });
    expect(again.joined).toBe(false);
    await expectNoEvent(watcher, "user:joined", 300, (p: any) => p.userId === user);
    expect(joined.filter((p) => p.userId === user)).toHaveLength(1);

    // tab2 receives room messages although only tab1 asked to join.
    const got = nextEvent(tab2, "message:new", (m: any) => m.roomName === room);
    await ackOk(watcher, "message:send", { roomName: room, content: "hello tabs" });
    expect((await got).content).toBe("hello tabs");

    // Leaving from one tab ends the membership: one user:left, and both tabs leave the room.
    const leftSeen = nextEvent(watcher, "user:left", (p: any) => p.userId === user);
    const tab2Left = nextEvent(tab2, "user:left", (p: any) => p.userId === user);
    expect(await ackOk(tab1, "room:leave", { roomName: room })).toEqual({ roomName: room, left: true });
    expect(await leftSeen).toEqual({ roomName: room, userId: user });
    await tab2Left;
    expect(left.filter((p) => p.userId === user)).toHaveLength(1);

    const noMessage1 = expectNoEvent(tab1, "message:new", 300);
    const noMessage2 = expectNoEvent(tab2, "message:new", 300);
    await ackOk(watcher, "message:send", { roomName: room, content: "after leave" });
    await noMessage1;
    await noMessage2;

    // Leaving again is not a membership change.
    expect(await ackOk(tab2, "room:leave", { roomName: room })).toEqual({ roomName: room, left: false });
    await expectNoEvent(watcher, "user:left", 300, (p: any) => p.userId === user);
    for (const s of [watcher, tab1, tab2]) s.disconnect();
  });

  it("puts a new socket back into its user's rooms: authenticated.rooms, and messages without room:join", async () => {
    const room1 = await createRoom(relay.db, roomName("back1"));
    const room2 = await createRoom(relay.db, roomName("back2"));
    const user = uid("returning");
    const first = await connect(relay.url, token(user));
    await ackOk(first, "room:join", { roomName: room1 });
    await ackOk(first, "room:join", { roomName: room2 });
    first.disconnect();

    const again = await connect(relay.url, token(user));
    expect([...again.authInfo.rooms].sort()).toEqual([room1, room2].sort());

    const other = await connect(relay.url, token(uid("sender")));
    await ackOk(other, "room:join", { roomName: room2 });
    const got = nextEvent(again, "message:new", (m: any) => m.roomName === room2);
    await ackOk(other, "message:send", { roomName: room2, content: "welcome back" });
    expect(await got).toMatchObject({ roomName: room2, content: "welcome back" });
    again.disconnect();
    other.disconnect();
  });

  it("refuses an unknown room with NOT_FOUND", async () => {
    const c = await connect(relay.url, token(uid()));
    const err = await ackError(c, "room:join", "NOT_FOUND", { roomName: "no-such-room" });
    expect(err.message).toMatch(/does not exist/);
    await ackError(c, "message:send", "NOT_FOUND", { roomName: "no-such-room", content: "hi" });
    c.disconnect();
  });
});

describe("authorisation table", () => {
  it("private group: a non-member is FORBIDDEN; after realtime_add_member the live socket follows and may join", async () => {
    const owner = uid("owner");
    const room = await createRoom(relay.db, roomName("private"), "group", "private", {}, owner);
    const o = await connect(relay.url, token(owner));
    expect(o.authInfo.rooms).toContain(room);

    const carol = uid("carol");
    const c = await connect(relay.url, token(carol));
    await ackError(c, "room:join", "FORBIDDEN", { roomName: room });
    await ackError(c, "message:send", "FORBIDDEN", { roomName: room, content: "let me in" });

    // A DBA adds carol: her live socket is moved into the room by the member notification.
    const moved = nextEvent(c, "user:joined", (p: any) => p.userId === carol && p.roomName === room);
    const ownerSaw = nextEvent(o, "user:joined", (p: any) => p.userId === carol);
    expect(await relay.db.v("select realtime_add_member($1, $2) as v", [room, carol])).toBe(true);
    await moved;
    await ownerSaw;
    const got = nextEvent(c, "message:new", (m: any) => m.roomName === room);
    await ackOk(o, "message:send", { roomName: room, content: "welcome carol" });
    expect((await got).content).toBe("welcome carol");

    const data = await ackOk(c, "room:join", { roomName: room });
    expect(data.joined).toBe(false);
    expect(data.room).toMatchObject({ name: room, type: "group", visibility: "private" });
    expect(data.members.map((m: any) => m.userId).sort()).toEqual([carol, owner].sort());
    expect(data.members.find((m: any) => m.userId === owner).role).toBe("owner");
    await ackOk(c, "message:send", { roomName: room, content: "thanks" });

    // Removed by SQL: the socket leaves the room.
    const removed = nextEvent(c, "user:left", (p: any) => p.userId === carol);
    await relay.db.q("select realtime_remove_member($1, $2)", [room, carol]);
    await removed;
    const noMore = expectNoEvent(c, "message:new", 300);
    await ackOk(o, "message:send", { roomName: room, content: "carol is gone" });
    await noMore;
    await ackError(c, "message:send", "FORBIDDEN", { roomName: room, content: "still here?" });
    o.disconnect();
    c.disconnect();
  });

  it("dm: only its two users may join and send", async () => {
    const a = uid("dma");
    const b = uid("dmb");
    const dm = await relay.db.v("select realtime_open_dm($1, $2) as v", [a, b]);
    expect(dm.type).toBe("dm");
    const ca = await connect(relay.url, token(a));
    const cb = await connect(relay.url, token(b));
    const cx = await connect(relay.url, token(uid("intruder")));
    expect(ca.authInfo.rooms).toContain(dm.name);

    expect((await ackOk(ca, "room:join", { roomName: dm.name })).room.type).toBe("dm");
    await ackOk(cb, "room:join", { roomName: dm.name });
    await ackError(cx, "room:join", "FORBIDDEN", { roomName: dm.name });
    await ackError(cx, "message:send", "FORBIDDEN", { roomName: dm.name, content: "psst" });

    const got = nextEvent(cb, "message:new", (m: any) => m.roomName === dm.name);
    const noLeak = expectNoEvent(cx, "message:new", 300);
    await ackOk(ca, "message:send", { roomName: dm.name, content: "just us" });
    expect(await got).toMatchObject({ userId: a, content: "just us" });
    await noLeak;
    for (const s of [ca, cb, cx]) s.disconnect();
  });

  it("broadcast room: a member without permission is FORBIDDEN to send; a JWT role in metadata.senderRoles may", async () => {
    const room = await createRoom(relay.db, roomName("announce"), "broadcast", "public", { senderRoles: ["announcer"] });
    const listener = await connect(relay.url, token(uid("reader")));
    await ackOk(listener, "room:join", { roomName: room });
    const err = await ackError(listener, "message:send", "FORBIDDEN", { roomName: room, content: "can I?" });
    expect(err.message).toMatch(/permitted senders/);

    const announcer = await connect(relay.url, token(uid("boss"), { role: "announcer" }));
    await ackOk(announcer, "room:join", { roomName: room });
    const got = nextEvent(listener, "message:new", (m: any) => m.roomName === room);
    await ackOk(announcer, "message:send", { roomName: room, content: "hear ye" });
    expect((await got).content).toBe("hear ye");

    // Hasura allowed roles count too.
    const hasura = await connect(
      relay.url,
      token(uid("hboss"), { "https://hasura.io/jwt/claims": { "x-hasura-allowed-roles": ["user", "announcer"] } }),
    );
    await ackOk(hasura, "room:join", { roomName: room });
    await ackOk(hasura, "message:send", { roomName: room, content: "me too" });
    for (const s of [listener, announcer, hasura]) s.disconnect();
  });
});

describe("anonymous connections (REALTIME_ALLOW_ANONYMOUS=true)", () => {
  it("may join a public room and receive, but not send, type or set presence", async () => {
    const room = await createRoom(relay.db, roomName("lobby"));
    const guest = await connect(anon.url, null);
    expect(guest.authInfo.anonymous).toBe(true);
    expect(guest.authInfo.userId).toMatch(/^anon:/);
    expect(guest.authInfo.rooms).toEqual([]);

    const data = await ackOk(guest, "room:join", { roomName: room });
    expect(data.joined).toBe(false);
    expect(data.members.map((m: any) => m.userId)).not.toContain(guest.authInfo.userId);

    // A signed-in user on the same relay (messages are delivered by that relay's adapter).
    const member = await connect(anon.url, token(uid("member")));
    expect(member.authInfo.anonymous).toBe(false);
    await ackOk(member, "room:join", { roomName: room });
    const got = nextEvent(guest, "message:new", (m: any) => m.roomName === room);
    await ackOk(member, "message:send", { roomName: room, content: "hello guests" });
    expect((await got).content).toBe("hello guests");

    await ackError(guest, "message:send", "FORBIDDEN", { roomName: room, content: "hi" });
    await ackError(guest, "typing:start", "FORBIDDEN", { roomName: room });
    await ackError(guest, "typing:stop", "FORBIDDEN", { roomName: room });
    await ackError(guest, "presence:update", "FORBIDDEN", { status: "away" });
    await ackError(guest, "auth:refresh", "FORBIDDEN", { token: token(uid()) });
    // Reading presence and ping are fine.
    expect(await ackOk(guest, "presence:get", { userIds: [member.authInfo.userId] })).toEqual([
      expect.objectContaining({ userId: member.authInfo.userId, status: "online" }),
    ]);
    expect((await ackOk(guest, "ping")).timestamp).toBeTypeOf("number");
    // Leaving works without a membership.
    expect(await ackOk(guest, "room:leave", { roomName: room })).toEqual({ roomName: room, left: false });
    guest.disconnect();
    member.disconnect();
  });

  it("is refused private groups, private channels, dms and public broadcast rooms are readable", async () => {
    const owner = uid("owner");
    const group = await createRoom(relay.db, roomName("secret"), "group", "private", {}, owner);
    const privChannel = await createRoom(relay.db, roomName("staff"), "channel", "private");
    const bcast = await createRoom(relay.db, roomName("news"), "broadcast", "public");
    const dm = await relay.db.v("select realtime_open_dm($1, $2) as v", [uid("x"), uid("y")]);
    const guest = await connect(anon.url, null);
    await ackError(guest, "room:join", "FORBIDDEN", { roomName: group });
    await ackError(guest, "room:join", "FORBIDDEN", { roomName: privChannel });
    await ackError(guest, "room:join", "FORBIDDEN", { roomName: dm.name });
    await ackError(guest, "room:join", "NOT_FOUND", { roomName: "nope-" + uid() });
    expect((await ackOk(guest, "room:join", { roomName: bcast })).room.type).toBe("broadcast");
    guest.disconnect();
  });

  it("a relay without anonymous access still refuses tokenless connections", async () => {
    // (Same database, the other relay.) Shown here beside the anonymous relay for contrast.
    expect((await connectError(relay.url, null)).data.code).toBe("UNAUTHORIZED");
  });
});
