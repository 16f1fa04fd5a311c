// Authorisation as a property (issue 8, item 3): fast-check builds random worlds of users and rooms
// of every kind with random memberships, roles and sender rights; every user tries to join, send,
// type and set presence everywhere; the acknowledgements must match the rules, and no socket may
// receive a message, typing, membership or presence event it is not allowed to see.
//
// The expectation comes from the test's own model of memberships (docs/protocol.md, Rooms), never from the
// SQL functions under test. Events are attributed to phases with a barrier: a
// realtime_broadcast_user() to every user after a phase's acknowledgements; notifications reach the
// relay in commit order and a socket's frames arrive in order, so whatever a phase caused reaches a
// socket before that phase's barrier (presence changes go out once per tick: the barrier waits a
// few ticks first).
import fc from "fast-check";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { type Ack, ackError, ackOk, connect, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";

const N_USERS = 8;
/** Presence changes wait up to a tick to go out together: a barrier waits that long first. */
const PRESENCE_TICK_MS = 50;
const NUM_RUNS = Number(process.env.AUTHZ_RUNS ?? 6);
const JWT_ROLES = ["editor", "announcer"];
const KINDS = ["public-channel", "private-channel", "public-group", "private-group", "dm", "public-broadcast", "private-broadcast"] as const;
type Kind = (typeof KINDS)[number];
type MemberRole = "owner" | "admin" | "member";

interface RoomSpec {
  kind: Kind;
  /** Initial members (not dm): user index and role. */
  members: [number, MemberRole][];
  /** The two users of a dm. */
  pair: number[];
  /** Broadcast rooms: metadata.senders (user indices) and metadata.senderRoles. */
  senders: number[];
  senderRoles: string[];
}
interface World {
  users: { roles: string[]; tabs: number }[];
  rooms: RoomSpec[];
  /** (user, room index modulo the room count) pairs that try room:leave. */
  leaves: [number, number][];
}

const userIndex = fc.integer({ min: 0, max: N_USERS - 1 });
const roomArb = (kind: Kind): fc.Arbitrary<RoomSpec> =>
  fc.record({
    kind: fc.constant(kind),
    members: fc.uniqueArray(fc.tuple(userIndex, fc.constantFrom<MemberRole>("member", "member", "member", "admin", "owner")), {
      selector: (m) => m[0],
      maxLength: 5,
    }),
    pair: fc.uniqueArray(userIndex, { minLength: 2, maxLength: 2 }),
    senders: fc.uniqueArray(userIndex, { maxLength: 2 }),
    senderRoles: fc.subarray(JWT_ROLES),
  });
const worldArb: fc.Arbitrary<World> = fc.record({
  users: fc.array(fc.record({ roles: fc.subarray(JWT_ROLES), tabs: fc.integer({ min: 1, max: 2 }) }), {
    minLength: N_USERS,
    maxLength: N_USERS,
  }),
  // Every kind at least once, plus a few more of any kind.
  rooms: fc
    .tuple(fc.tuple(...KINDS.map(roomArb)), fc.array(fc.constantFrom(...KINDS).chain(roomArb), { maxLength: 3 }))
    .map(([each, extra]) => [...each, ...extra]),
  leaves: fc.array(fc.tuple(userIndex, fc.nat()), { maxLength: 14 }),
});

let relay: TestRelay;
beforeAll(async () => {
  // Abuse limits are another suite's subject: here they must not refuse anything.
  relay = await startRelay({
    REALTIME_RATE_LIMIT: "10000",
    REALTIME_RATE_BURST: "10000",
    REALTIME_TYPING_RATE_LIMIT: "10000",
    REALTIME_PRESENCE_RATE_LIMIT: "1000",
    REALTIME_PRESENCE_TICK: String(PRESENCE_TICK_MS),
  });
});
afterAll(async () => {
  await relay?.dispose();
});

// ---- one socket and what it received -------------------------------------------------------

interface Tab {
  user: number;
  socket: Socket;
  /** Barriers seen so far: events are attributed to the phase they arrived in. */
  phase: number;
  events: { phase: number; name: string; payload: any }[];
}

function openTab(user: number, jwt: string): Promise<Tab> {
  const socket = io(relay.url, { transports: ["websocket"], reconnection: false, forceNew: true, timeout: 10_000, auth: { token: jwt } });
  const tab: Tab = { user, socket, phase: 0, events: [] };
  // Attached before connecting, so nothing the relay sends is missed.
  socket.onAny((name: string, payload: any) => {
    if (name === "test:barrier") tab.phase = payload.phase + 1;
    // A room's presence changes of one tick come as one presence:diff: each change is checked
    // like a presence:changed, and the diff's room like any room event.
    else if (name === "presence:diff") {
      tab.events.push({ phase: tab.phase, name, payload: { roomName: payload?.roomName } });
      for (const change of payload?.changes ?? []) tab.events.push({ phase: tab.phase, name: "presence:changed", payload: change });
    } else tab.events.push({ phase: tab.phase, name, payload });
  });
  return new Promise((resolve, reject) => {
    socket.once("authenticated", () => resolve(tab));
    socket.once("connect_error", (err: Error & { data?: unknown }) => reject(new Error(`connect_error ${JSON.stringify(err.data)}`)));
  });
}

function emitAck(tab: Tab, event: string, payload: unknown): Promise<Ack> {
  return tab.socket.timeout(10_000).emitWithAck(event, payload) as Promise<Ack>;
}

// ---- the model --------------------------------------------------------------------------------

interface Room {
  spec: RoomSpec;
  name: string;
  isPublic: boolean;
  isBroadcast: boolean;
  /** Current members and their role. */
  members: Map<number, MemberRole>;
}

const snapshot = (rooms: Room[]) => rooms.map((r) => new Set(r.members.keys()));

function canJoin(room: Room, u: number): boolean {
  if (room.members.has(u)) return true;
  if (room.spec.kind === "dm") return room.spec.pair.includes(u);
  return room.isPublic;
}

function canSend(room: Room, u: number, world: World): boolean {
  const role = room.members.get(u);
  if (role === undefined) return false;
  if (!room.isBroadcast) return true;
  return (
    role === "owner" ||
    role === "admin" ||
    room.spec.senders.includes(u) ||
    world.users[u].roles.some((r) => room.spec.senderRoles.includes(r))
  );
}

const stats = { runs: 0, pairs: 0, acks: 0, events: 0, phases: 0 };

// ---- one world --------------------------------------------------------------------------------

async function runWorld(world: World): Promise<void> {
  const run = uid("authz");
  const userIds = world.users.map((_, i) => `${run}-u${i}`);

  // Build the world with SQL. Rooms of a dm pair already opened are the same room: dropped.
  const rooms: Room[] = [];
  const dmPairs = new Set<string>();
  for (const [i, spec] of world.rooms.entries()) {
    if (spec.kind === "dm") {
      const key = [...spec.pair].sort().join(",");
      if (dmPairs.has(key)) continue;
      dmPairs.add(key);
      const dm = await relay.db.v("select realtime_open_dm($1, $2) as v", [userIds[spec.pair[0]], userIds[spec.pair[1]]]);
      rooms.push({ spec, name: dm.name, isPublic: false, isBroadcast: false, members: new Map(spec.pair.map((u) => [u, "member"])) });
      continue;
    }
    const [visibility, type] = spec.kind.split("-") as ["public" | "private", "channel" | "group" | "broadcast"];
    const name = `${run}-r${i}-${spec.kind}`;
    const metadata = type === "broadcast" ? { senders: spec.senders.map((u) => userIds[u]), senderRoles: spec.senderRoles } : {};
    await relay.db.q("select realtime_create_room($1, $2, $3, $4::jsonb)", [name, type, visibility, JSON.stringify(metadata)]);
    for (const [u, role] of spec.members) await relay.db.q("select realtime_add_member($1, $2, $3)", [name, userIds[u], role]);
    rooms.push({ spec, name, isPublic: visibility === "public", isBroadcast: type === "broadcast", members: new Map(spec.members) });
  }
  const roomIndex = new Map(rooms.map((r, i) => [r.name, i]));

  // Memberships before and after each phase; an event of phase k may concern a room the socket's
  // user was a member of at either end of it (each phase only adds or only removes members).
  const phases: { before: Set<number>[]; after: Set<number>[] }[] = [];
  let tabs: Tab[] = [];
  const barrier = async () => {
    const k = phases.length - 1;
    const seen = tabs.map(
      (t) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`barrier ${k} not seen by ${userIds[t.user]}`)), 10_000);
          const check = (name: string, p: any) => {
            if (name === "test:barrier" && p.phase === k) {
              clearTimeout(timer);
              t.socket.offAny(check);
              resolve();
            }
          };
          t.socket.onAny(check);
        }),
    );
    await new Promise((r) => setTimeout(r, 3 * PRESENCE_TICK_MS));
    await relay.db.q("select realtime_broadcast_user(u, 'test:barrier', jsonb_build_object('phase', $2::int)) from unnest($1::text[]) u", [
      userIds,
      k,
    ]);
    await Promise.all(seen);
  };
  const phase = async (act: () => Promise<unknown>) => {
    const before = snapshot(rooms);
    phases.push({ before, after: before });
    await act();
    phases[phases.length - 1].after = snapshot(rooms);
    await barrier();
  };

  try {
    // Phase 0: everyone connects (some users with two tabs; only tab 0 acts).
    await phase(async () => {
      tabs = await Promise.all(
        world.users.flatMap((spec, u) => Array.from({ length: spec.tabs }, () => openTab(u, token(userIds[u], { roles: spec.roles })))),
      );
    });
    const actor = (u: number) => tabs.find((t) => t.user === u)!;
    const forEachUser = async (fn: (u: number, tab: Tab) => Promise<void>) => {
      await Promise.all(world.users.map((_, u) => fn(u, actor(u))));
    };
    const expectAck = (res: Ack, allowed: boolean, what: string) => {
      stats.acks += 1;
      if (allowed) expect(res.ok, `${what}: ${JSON.stringify(res)}`).toBe(true);
      else expect(res.ok ? res : res.error.code, `${what}: ${JSON.stringify(res)}`).toBe("FORBIDDEN");
    };

    // Joins: allowed exactly where the model says; the answer's members are real members.
    const joinAll = () =>
      forEachUser(async (u, tab) => {
        for (const room of rooms) {
          const allowed = canJoin(room, u);
          const wasMember = room.members.has(u);
          const res = await emitAck(tab, "room:join", { roomName: room.name });
          expectAck(res, allowed, `${userIds[u]} joins ${room.name}`);
          if (!res.ok) continue;
          expect(res.data.joined).toBe(!wasMember);
          room.members.set(u, room.members.get(u) ?? "member");
          for (const m of res.data.members as { userId: string }[]) {
            const idx = userIds.indexOf(m.userId);
            expect(idx, `${m.userId} listed as a member of ${room.name}`).toBeGreaterThanOrEqual(0);
            expect(room.spec.kind === "dm" ? room.spec.pair.includes(idx) : true).toBe(true);
          }
        }
      });

    // Sends, typing and one presence change per user. Memberships do not change meanwhile.
    const sent: { phase: number; id: number; room: number }[] = [];
    const typed: { phase: number; room: number }[] = [];
    const actAll = (status: string) =>
      phase(() =>
        forEachUser(async (u, tab) => {
          for (const [r, room] of rooms.entries()) {
            const send = await emitAck(tab, "message:send", { roomName: room.name, content: `${userIds[u]} to ${room.name}` });
            expectAck(send, canSend(room, u, world), `${userIds[u]} sends to ${room.name}`);
            if (send.ok) sent.push({ phase: phases.length - 1, id: send.data.id, room: r });
            const typing = await emitAck(tab, "typing:start", { roomName: room.name });
            expectAck(typing, room.members.has(u), `${userIds[u]} types in ${room.name}`);
            if (typing.ok && typing.data.changed) typed.push({ phase: phases.length - 1, room: r });
          }
          expect((await emitAck(tab, "presence:update", { status })).ok).toBe(true);
        }),
      );

    await phase(joinAll); // phase 1
    await actAll("busy"); // phase 2
    // Phase 3: some users leave some rooms (members or not).
    await phase(async () => {
      const tries = new Map<string, [number, number]>();
      for (const [u, n] of world.leaves) tries.set(`${u}:${n % rooms.length}`, [u, n % rooms.length]);
      await Promise.all(
        [...tries.values()].map(async ([u, r]) => {
          const room = rooms[r];
          const wasMember = room.members.has(u);
          const res = await emitAck(actor(u), "room:leave", { roomName: room.name });
          stats.acks += 1;
          expect(res).toEqual({ ok: true, data: { roomName: room.name, left: wasMember } });
          room.members.delete(u);
        }),
      );
    });
    await actAll("away"); // phase 4
    await phase(joinAll); // phase 5: a dm user who left may come back, a private room's may not

    // ---- what every socket received ----
    const allowedIn = (k: number, r: number, u: number) => phases[k].before[r].has(u) || phases[k].after[r].has(u);
    const sharesRoom = (k: number, u: number, w: number) => rooms.some((_, r) => allowedIn(k, r, u) && allowedIn(k, r, w));
    const VISIBLE = new Set(["message:new", "typing:event", "user:joined", "user:left", "presence:diff"]);
    const HARMLESS = new Set(["connected", "authenticated", "error", "pong"]);
    for (const tab of tabs) {
      const who = `${userIds[tab.user]} (socket ${tab.socket.id})`;
      for (const e of tab.events) {
        stats.events += 1;
        if (VISIBLE.has(e.name)) {
          const r = roomIndex.get(e.payload?.roomName);
          expect(r, `${who} got ${e.name} for a room outside this world: ${JSON.stringify(e.payload)}`).toBeDefined();
          expect(allowedIn(e.phase, r!, tab.user), `${who} got ${e.name} in phase ${e.phase}: ${JSON.stringify(e.payload)}`).toBe(true);
        } else if (e.name === "presence:changed") {
          const w = userIds.indexOf(e.payload?.userId);
          expect(w, `${who} got presence of a user outside this world: ${JSON.stringify(e.payload)}`).toBeGreaterThanOrEqual(0);
          expect(w === tab.user || sharesRoom(e.phase, tab.user, w), `${who} got presence of ${userIds[w]} in phase ${e.phase}`).toBe(true);
        } else {
          expect(HARMLESS.has(e.name), `${who} got an unexpected event ${e.name}`).toBe(true);
        }
      }
      // Every message sent to a room reached each socket of each member exactly once, and no one else.
      for (const m of sent) {
        const got = tab.events.filter((e) => e.name === "message:new" && e.payload.id === m.id);
        const member = phases[m.phase].before[m.room].has(tab.user);
        expect(got.length, `${who}: message ${m.id} in ${rooms[m.room].name}`).toBe(member ? 1 : 0);
        if (member) expect(got[0].phase).toBe(m.phase);
      }
      // Every typing change reached each member's sockets.
      for (const t of typed) {
        if (!phases[t.phase].before[t.room].has(tab.user)) continue;
        const got = tab.events.some((e) => e.phase === t.phase && e.name === "typing:event" && e.payload.roomName === rooms[t.room].name);
        expect(got, `${who}: typing in ${rooms[t.room].name}, phase ${t.phase}`).toBe(true);
      }
      // Each presence change reached the user and those sharing a room with them (once, or once in
      // each shared room's presence:diff when several members changed in one tick), and no one else.
      for (const [k, status] of [
        [2, "busy"],
        [4, "away"],
      ] as const) {
        for (let w = 0; w < N_USERS; w++) {
          const got = tab.events.filter((e) => e.phase === k && e.name === "presence:changed" && e.payload.userId === userIds[w] && e.payload.status === status);
          const allowed = w === tab.user || sharesRoom(k, tab.user, w);
          if (allowed) expect(got.length, `${who}: presence ${status} of ${userIds[w]}`).toBeGreaterThanOrEqual(1);
          else expect(got.length, `${who}: presence ${status} of ${userIds[w]}`).toBe(0);
        }
      }
    }

    // The model agrees with the database about who is a member of what.
    const rows = await relay.db.q<{ name: string; user_id: string }>(
      `select r.name, m.user_id from realtime_room_members m join realtime_rooms r on r.id = m.room_id
        where m.left_at is null and r.name = any ($1::text[])`,
      [rooms.map((r) => r.name)],
    );
    const fromDb = rows.map((x) => `${x.name} ${x.user_id}`).sort();
    const fromModel = rooms.flatMap((r) => [...r.members.keys()].map((u) => `${r.name} ${userIds[u]}`)).sort();
    expect(fromDb).toEqual(fromModel);

    stats.runs += 1;
    stats.pairs += N_USERS * rooms.length;
    stats.phases += phases.length;
  } finally {
    for (const t of tabs) t.socket.disconnect();
  }
}

describe("authorisation over random worlds", () => {
  it(`joins, sends, typing and presence match the rules, and no socket sees what it may not (${NUM_RUNS} worlds of ${N_USERS} users)`, async () => {
    await fc.assert(fc.asyncProperty(worldArb, runWorld), { numRuns: NUM_RUNS, endOnFailure: true });
    console.info(`authorisation: ${stats.runs} worlds, ${stats.pairs} (user, room) pairs, ${stats.acks} acknowledgements, ${stats.events} events checked`);
    expect(stats.runs).toBe(NUM_RUNS);
    expect(stats.events).toBeGreaterThan(0);
  }, 120_000);
});

describe("typing after losing a membership (found by the property above)", () => {
  it("a typing:start repeated within the throttle after room:leave or a removal by SQL is refused, not answered from memory", async () => {
    const room = await createRoom(relay.db, uid("typing-leave"));
    const user = uid("typist");
    const c = await connect(relay.url, token(user));
    await ackOk(c, "room:join", { roomName: room });
    expect((await ackOk(c, "typing:start", { roomName: room })).changed).toBe(true);
    await ackOk(c, "room:leave", { roomName: room });
    await ackError(c, "typing:start", "FORBIDDEN", { roomName: room });

    await ackOk(c, "room:join", { roomName: room });
    await ackOk(c, "typing:start", { roomName: room });
    const removed = nextEvent(c, "user:left", (p: any) => p.userId === user);
    await relay.db.q("select realtime_remove_member($1, $2)", [room, user]);
    await removed;
    await ackError(c, "typing:start", "FORBIDDEN", { roomName: room });
    expect(await relay.db.v("select count(*)::int as v from realtime_typing where room_name = $1", [room])).toBe(0);
    c.disconnect();
  });
});
