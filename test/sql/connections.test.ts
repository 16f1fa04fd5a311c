// Connections and relay nodes (functions/connections.sql): registering sockets, heartbeats, node
// restarts, and the stale sweep after a relay crash, including two sweeps running at once.
import { describe, expect, it } from "vitest";
import { connectPg } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { sleep } from "../helpers/wait.js";
import { at, date, expectSqlError, useDatabase } from "./support.js";

const ctx = useDatabase();

async function register(socket: string, user: string | null, node: string | null, t: number, anonymous = false) {
  return ctx.db.v("select realtime_register_connection($1, $2, $3, p_anonymous => $4, p_now => $5) as v", [socket, user, node, anonymous, at(t)]);
}
async function conn(socket: string) {
  return (await ctx.db.q("select * from realtime_connections where socket_id = $1 order by connected_at desc", [socket]))[0];
}
async function status(user: string) {
  return ctx.db.v("select status as v from realtime_presence where user_id = $1", [user]);
}
/** A relay heart-beating every `step` seconds from `from` to `to` (its run: the evidence a sweep needs). */
async function heartbeats(node: string, sockets: string[], from: number, to: number, step = 30) {
  for (let t = from; t < to; t += step) await ctx.db.q("select realtime_node_heartbeat($1, $2, $3)", [node, sockets, at(t)]);
  return ctx.db.v("select realtime_node_heartbeat($1, $2, $3) as v", [node, sockets, at(to)]);
}

describe("registering", () => {
  it("records the socket and returns presence and rooms", async () => {
    const [s, u] = [uid("s"), uid("u")];

    const r = await register(s, u, null, 0);

    expect(r).toMatchObject({ presence: { userId: u, status: "online" }, rooms: [] });
    expect(await conn(s)).toMatchObject({ user_id: u, disconnected_at: null, connected_at: date(0), last_activity: date(0), anonymous: false });
  });

  it("records an anonymous socket without presence", async () => {
    const s = uid("s");

    const r = await register(s, null, null, 0, true);

    expect(r).toMatchObject({ presence: null, rooms: [] });
    expect((await conn(s)).anonymous).toBe(true);
    expect(await ctx.db.v("select count(*)::int as v from realtime_presence where user_id is null")).toBe(0);
  });

  it("refuses a missing user (RT400) and a socket id that is already open (23505)", async () => {
    await expectSqlError(register(uid("s"), null, null, 0), "RT400", /user id/);
    await expectSqlError(register("", "u", null, 0), "RT400", /socket id/);
    const s = uid("s");
    await register(s, uid("u"), null, 0);
    await expectSqlError(register(s, uid("u"), null, 1), "23505");
  });

  it("lets a closed socket id be used again", async () => {
    const [s, u] = [uid("s"), uid("u")];
    await register(s, u, null, 0);
    await ctx.db.q("select realtime_close_connection($1, $2)", [s, at(1)]);

    await register(s, u, null, 2);

    expect(await ctx.db.v("select count(*)::int as v from realtime_connections where socket_id = $1", [s])).toBe(2);
  });
});

describe("registering in a batch", () => {
  it("registers every socket in one call and answers in input order, refusing bad rows without failing the others", async () => {
    const [s1, s2, s3, s4, open] = [uid("s"), uid("s"), uid("s"), uid("s"), uid("s")];
    const [zed, amy, node] = [uid("zed"), uid("amy"), uid("node-b")];
    await register(open, uid("u"), null, 0);

    const r = await ctx.db.v("select realtime_register_connections($1::jsonb, $2, $3) as v", [
      JSON.stringify([
        { socketId: s1, userId: zed, device: { os: "ios" } },
        { socketId: s2, userId: null },
        { socketId: open, userId: amy },
        { socketId: s3, userId: amy, metadata: { address: "::1" } },
        { socketId: s4, userId: null, anonymous: true },
      ]),
      node,
      at(1),
    ]);

    expect(r).toMatchObject([
      { presence: { userId: zed, status: "online" }, rooms: [] },
      { error: { code: "RT400", message: expect.stringMatching(/user id/) } },
      { error: { code: "23505" } },
      { presence: { userId: amy, status: "online" }, rooms: [] },
      { presence: null, rooms: [] },
    ]);
    expect(await conn(s1)).toMatchObject({ user_id: zed, node_id: node, device: { os: "ios" }, connected_at: date(1) });
    expect(await conn(s3)).toMatchObject({ user_id: amy, metadata: { address: "::1" } });
    expect((await conn(s4)).anonymous).toBe(true);
    expect(await conn(s2)).toBeUndefined();
    // Node never started: close its rows so the stale sweeps of other tests do not see them.
    await ctx.db.q("select realtime_node_stop($1)", [node]);
  });

  it("refuses anything but an array", async () => {
    await expectSqlError(ctx.db.v("select realtime_register_connections('{}'::jsonb) as v"), "RT400");
    expect(await ctx.db.v("select realtime_register_connections('[]'::jsonb) as v")).toEqual([]);
  });
});

describe("relay crash", () => {
  it("disconnect_stale_connections closes a dead relay's sockets, takes users offline, clears typing and announces it", async () => {
    // Setup: two relays; alice on the one that crashes (typing), bob on the live one.
    const [dead, live] = [uid("node-dead"), uid("node-live")];
    const [alice, bob, sa, sb] = [uid("alice"), uid("bob"), uid("sa"), uid("sb")];
    const room = uid("room");
    await ctx.db.q("select realtime_node_start($1, 'host-a', 1, '{}', $2)", [dead, at(0)]);
    await ctx.db.q("select realtime_node_start($1, 'host-b', 2, '{}', $2)", [live, at(0)]);
    await register(sa, alice, dead, 1);
    await register(sb, bob, live, 1);
    await ctx.db.q("select realtime_create_room($1)", [room]);
    await ctx.db.q("select realtime_add_member($1, $2), realtime_add_member($1, $3)", [room, alice, bob]);
    await ctx.db.q("select realtime_start_typing($1, $2, null, $3, interval '1 hour', $4)", [room, alice, sa, at(2)]);
    // Only the live relay heartbeats (its sockets with it).
    expect(await heartbeats(live, [sb], 30, 100)).toEqual([]);
    await ctx.l.reset();

    // Action: a sweep at +100s (node timeout 90s).
    const closed = await ctx.db.q("select * from disconnect_stale_connections(p_now => $1)", [at(100)]);

    // Assertions
    expect(closed).toEqual([{ socket_id: sa, user_id: alice, node_id: dead, reason: "node dead" }]);
    expect(await conn(sa)).toMatchObject({ disconnected_at: date(100), close_reason: "node dead" });
    expect(await conn(sb)).toMatchObject({ disconnected_at: null, last_activity: date(100) });
    expect(await status(alice)).toBe("offline");
    expect(await status(bob)).toBe("online");
    expect(await ctx.db.q("select * from realtime_typing where room_name = $1", [room])).toEqual([]);
    await ctx.l.sync();
    expect(ctx.l.ofKind("presence").map((m) => [m.userId, m.status])).toEqual([[alice, "offline"]]);
    expect(ctx.l.ofKind("presence")[0].rooms).toEqual([room]);
    expect(ctx.l.ofKind("typing")).toEqual([{ v: 1, kind: "typing", room, threadId: null, users: [] }]);

    // A second sweep finds nothing more.
    expect(await ctx.db.q("select * from disconnect_stale_connections(p_now => $1)", [at(101)])).toEqual([]);

    // Action: the dead relay wakes up and heartbeats its old socket.
    const gone = await ctx.db.v("select realtime_node_heartbeat($1, $2, $3) as v", [dead, [sa, uid("unknown")], at(102)]);

    // Assertions: both ids are reported as not open, so the relay drops those sockets.
    expect(gone).toHaveLength(2);
    expect(gone[0]).toBe(sa);
    expect((await conn(sa)).disconnected_at).toEqual(date(100));
  });

  it("closes sockets of a node that was never registered, or stopped", async () => {
    const [s, u] = [uid("s"), uid("u")];
    await register(s, u, uid("ghost-node"), 200);

    const closed = await ctx.db.q("select * from disconnect_stale_connections(p_now => $1)", [at(201)]);

    expect(closed.filter((c) => c.socket_id === s)).toEqual([expect.objectContaining({ reason: "node dead" })]);
  });

  it("closes connections idle past the inactivity threshold, even on a live relay", async () => {
    const node = uid("node");
    const [busy, idle, nodeless] = [uid("busy"), uid("idle"), uid("nodeless")];
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [node, at(300)]);
    await register(busy, uid("u"), node, 300);
    await register(idle, uid("u"), node, 300);
    await register(nodeless, uid("u"), null, 300);
    await heartbeats(node, [busy], 330, 700);

    // 400 s idle: more than the 5 minute default.
    const closed = await ctx.db.q("select * from disconnect_stale_connections(p_now => $1)", [at(700)]);
    const mine = closed.filter((c) => [busy, idle, nodeless].includes(c.socket_id)).map((c) => [c.socket_id, c.reason]).sort();

    expect(mine).toEqual([[idle, "inactive"], [nodeless, "inactive"]].sort());
    expect((await conn(busy)).disconnected_at).toBeNull();
    // A socket the relay still touches is held, whatever the threshold; one it heartbeats past is not.
    const kept = await ctx.db.q("select * from disconnect_stale_connections($1, interval '90 seconds', interval '10 seconds') ", [at(720)]);
    expect(kept.map((c) => c.socket_id)).not.toContain(busy);
    await ctx.db.q("select realtime_node_heartbeat($1, $2, $3)", [node, [], at(725)]);
    const strict = await ctx.db.q("select * from disconnect_stale_connections($1, interval '90 seconds', interval '10 seconds') ", [at(726)]);
    expect(strict.map((c) => c.socket_id)).toContain(busy);
  });

  it("leaves the rows of a relay that could not heartbeat alone until its heartbeat may be expected", async () => {
    // Setup: a relay whose heartbeats failed for 5 minutes (a database outage or a network cut),
    // whose socket has not been touched for that long either.
    const [node, s] = [uid("node"), uid("s")];
    // (Times apart from the other tests' relays, whose heartbeats would be evidence too.)
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [node, at(5000)]);
    await register(s, uid("u"), node, 5000);

    const closed = await ctx.db.q("select * from disconnect_stale_connections(p_now => $1)", [at(5400)]);

    expect(closed.map((c) => c.socket_id)).not.toContain(s);
    expect((await conn(s)).disconnected_at).toBeNull();
  });

  it("gives a user shown online with no open connection a grace period, then settles them offline", async () => {
    // A crash emptied the UNLOGGED connections table: u is still shown online.
    const u = uid("u");
    await ctx.db.q("insert into realtime_presence (user_id, status, last_seen) values ($1, 'online', $2)", [u, at(0)]);
    await ctx.l.reset();

    await ctx.db.q("select * from disconnect_stale_connections(p_now => $1)", [at(800)]);
    await ctx.db.q("select realtime_tick($1)", [at(801)]);

    expect(await status(u)).toBe("online");
    await ctx.db.q("select realtime_tick($1)", [at(800 + 91)]);
    expect(await status(u)).toBe("offline");
    await ctx.l.sync();
    expect(ctx.l.ofKind("presence").filter((m) => m.userId === u).map((m) => m.status)).toEqual(["offline"]);
  });

  it("announces nothing for a user whose relay registers the socket again within the grace period", async () => {
    const [node, s, u] = [uid("node"), uid("s"), uid("u")];
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [node, at(0)]);
    await register(s, u, node, 0);
    // The crash: connection rows gone, presence kept.
    await ctx.db.q("delete from realtime_connections where socket_id = $1", [s]);
    await ctx.l.reset();

    await ctx.db.q("select * from disconnect_stale_connections(p_now => $1)", [at(10)]);
    // A presence update before the relay noticed is not stored as offline.
    await ctx.db.q("select realtime_set_presence($1, 'busy', null, $2)", [u, at(11)]);
    expect(await heartbeats(node, [s], 12, 12)).toEqual([s]);
    await register(s, u, node, 12);
    await ctx.db.q("select realtime_tick($1)", [at(200)]);

    expect(await status(u)).toBe("busy");
    await ctx.l.sync();
    expect(ctx.l.ofKind("presence").filter((m) => m.userId === u).map((m) => m.status)).toEqual(["busy"]);
  });

  it("deletes closed connection rows older than a day", async () => {
    const [s, u] = [uid("s"), uid("u")];
    await register(s, u, null, 0);
    await ctx.db.q("select realtime_close_connection($1, $2)", [s, at(1)]);

    await ctx.db.q("select * from disconnect_stale_connections(p_now => $1)", [at(1 + 86400 + 1)]);

    expect(await conn(s)).toBeUndefined();
  });
});

describe("node restart and stop", () => {
  it("realtime_node_start with the same id closes the rows of the earlier process (no resurrection)", async () => {
    const node = uid("node");
    const [s, u] = [uid("s"), uid("u")];
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [node, at(0)]);
    await register(s, u, node, 1);
    await ctx.l.reset();

    const closed = await ctx.db.v("select realtime_node_start($1, p_now => $2) as v", [node, at(5)]);

    expect(closed).toBe(1);
    expect(await conn(s)).toMatchObject({ disconnected_at: date(5), close_reason: "node restarted" });
    expect(await status(u)).toBe("offline");
    await ctx.l.sync();
    expect(ctx.l.ofKind("presence").filter((m) => m.userId === u).map((m) => m.status)).toEqual(["offline"]);
    expect(await ctx.db.v("select realtime_node_heartbeat($1, $2, $3) as v", [node, [s], at(6)])).toEqual([s]);
  });

  it("realtime_node_stop closes the node's sockets and marks it stopped", async () => {
    const node = uid("node");
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [node, at(0)]);
    await register(uid("s"), uid("u"), node, 1);
    await register(uid("s"), uid("u"), node, 1);

    expect(await ctx.db.v("select realtime_node_stop($1, $2) as v", [node, at(2)])).toBe(2);

    expect(await ctx.db.v("select stopped_at as v from realtime_nodes where id = $1", [node])).toEqual(date(2));
    expect(await ctx.db.v("select count(*)::int as v from realtime_connections where node_id = $1 and close_reason = 'node stopped'", [node])).toBe(2);
  });

  it("refuses a bad node id (RT400)", async () => {
    await expectSqlError(ctx.db.q("select realtime_node_start('')"), "RT400", /node id/);
    await expectSqlError(ctx.db.q("select realtime_node_start($1)", ["n".repeat(129)]), "RT400");
  });

  it("keeps a relay's own timings, refusing ones that are not positive numbers (RT400)", async () => {
    const node = uid("node");
    await ctx.db.q(`select realtime_node_start($1, p_metadata => '{"heartbeatMs": 1000, "staleAfterMs": 3000}')`, [node]);
    expect(await ctx.db.v("select realtime_node_stale_after(n) as v from realtime_nodes n where id = $1", [node])).toEqual({ seconds: 3 });
    await expectSqlError(ctx.db.q(`select realtime_node_start($1, p_metadata => '{"staleAfterMs": "soon"}')`, [uid("n")]), "RT400", /positive numbers/);
    await expectSqlError(ctx.db.q(`select realtime_node_start($1, p_metadata => '{"heartbeatMs": 0}')`, [uid("n")]), "RT400");
    await expectSqlError(ctx.db.q(`select realtime_node_start($1, p_metadata => '[]')`, [uid("n")]), "RT400");
  });
});

describe("concurrent sweeps", () => {
  it("two disconnect_stale_connections in open transactions: one does the work, the other gets nothing", async () => {
    // Setup: a crashed relay with two sockets.
    const node = uid("crashed");
    const sockets = [uid("s"), uid("s")];
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [node, at(1000)]);
    for (const s of sockets) await register(s, uid("u"), node, 1000);
    // Another relay's heartbeats show the database was up all along.
    const witness = uid("witness");
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [witness, at(1000)]);
    await heartbeats(witness, [], 1030, 1200);
    const [a, b] = [await connectPg(ctx.db.url), await connectPg(ctx.db.url)];
    try {
      // Action: both sweep inside open transactions.
      await a.query("begin");
      await b.query("begin");
      const first = (await a.query("select * from disconnect_stale_connections(p_now => $1)", [at(1200)])).rows;
      const second = (await b.query("select * from disconnect_stale_connections(p_now => $1)", [at(1200)])).rows;
      await a.query("commit");
      await b.query("commit");

      // Assertions
      expect(first.filter((r) => r.node_id === node).map((r) => r.socket_id).sort()).toEqual([...sockets].sort());
      expect(second).toEqual([]);
      expect(await ctx.db.v("select count(*)::int as v from realtime_connections where node_id = $1 and disconnected_at is not null", [node])).toBe(2);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("two realtime_expire_typing in open transactions: one does the work, the other gets nothing", async () => {
    const u = uid("u");
    const room = uid("room");
    await ctx.db.q("select realtime_create_room($1), realtime_add_member($1, $2)", [room, u]);
    await ctx.db.q("select realtime_start_typing($1, $2, p_now => $3)", [room, u, at(0)]);
    await ctx.l.reset();
    const [a, b] = [await connectPg(ctx.db.url), await connectPg(ctx.db.url)];
    try {
      await a.query("begin");
      await b.query("begin");
      const first = (await a.query("select * from realtime_expire_typing($1)", [at(10)])).rows;
      const second = (await b.query("select * from realtime_expire_typing($1)", [at(10)])).rows;
      const tick = (await b.query("select realtime_tick($1) as v", [at(10)])).rows[0].v;
      await a.query("commit");
      await b.query("commit");

      expect(first).toContainEqual({ room_name: room, thread_id: null });
      expect(second).toEqual([]);
      expect(tick.typingExpired).toBe(0);
      await ctx.l.sync();
      expect(ctx.l.ofKind("typing").filter((m) => m.room === room)).toHaveLength(1);
    } finally {
      await a.end();
      await b.end();
    }
  });
});

describe("touching connections", () => {
  it("realtime_touch_connections updates last_activity in one call and returns the ids not open", async () => {
    const [s1, s2] = [uid("s"), uid("s")];
    await register(s1, uid("u"), null, 0);
    await register(s2, uid("u"), null, 0);

    const missing = await ctx.db.v("select realtime_touch_connections($1, $2) as v", [[s1, s2, "nope"], at(30)]);

    expect(missing).toEqual(["nope"]);
    expect((await conn(s1)).last_activity).toEqual(date(30));
    expect((await conn(s2)).last_activity).toEqual(date(30));
  });
});

describe("last_seen and graceful stops", () => {
  it("sets last_seen to the last sign of life of connections closed by the stale sweep", async () => {
    const [node, s, u] = [uid("n"), uid("s"), uid("u")];
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [node, at(0)]);
    await register(s, u, node, 0);
    await ctx.db.q("select realtime_touch_connections($1::text[], $2)", [[s], at(10)]);
    const witness = uid("witness");
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [witness, at(0)]);
    await heartbeats(witness, [], 30, 100);

    const closed = await ctx.db.q("select * from disconnect_stale_connections($1, interval '30 seconds', interval '1 hour')", [at(100)]);

    expect(closed.map((r) => r.socket_id)).toContain(s);
    const row = (await ctx.db.q("select status, last_seen from realtime_presence where user_id = $1", [u]))[0];
    expect(row).toEqual({ status: "offline", last_seen: date(10) });
  });

  it("keeps users visible for the grace period when their relay stops gracefully", async () => {
    const [node, s, u] = [uid("n"), uid("s"), uid("u")];
    await ctx.db.q("select realtime_node_start($1, p_now => $2)", [node, at(0)]);
    await register(s, u, node, 0);

    expect(await ctx.db.v("select realtime_node_stop($1, $2, interval '5 seconds') as v", [node, at(1)])).toBe(1);

    expect(await status(u)).toBe("online");
    await ctx.db.q("select realtime_tick($1)", [at(7)]);
    expect(await status(u)).toBe("offline");
  });
});

describe("per-user connection cap (maxPerUser)", () => {
  const batch = (rows: object[], node: string | null = null, t = 0) =>
    ctx.db.v("select realtime_register_connections($1::jsonb, $2, $3) as v", [JSON.stringify(rows), node, at(t)]);
  const open = (user: string) => ctx.db.v("select count(*)::int as v from realtime_connections where user_id = $1 and disconnected_at is null", [user]);

  it("refuses a user's connection past the limit with RT429, counting every relay and earlier rows of the batch", async () => {
    // Setup: two open connections of u on another relay.
    const [u, other] = [uid("u"), uid("u")];
    await register(uid("s"), u, "relay-a", 0);
    await register(uid("s"), u, "relay-b", 0);
    const [s3, s4, s5, s6] = [uid("s"), uid("s"), uid("s"), uid("s")];

    // Action
    const r = await batch([
      { socketId: s3, userId: u, maxPerUser: 3 },
      { socketId: s4, userId: u, maxPerUser: 3 },
      { socketId: s5, userId: other, maxPerUser: 3 },
      { socketId: s6, userId: u }, // no limit on this row
    ], "relay-c");

    // Assertions
    expect(r[0]).toMatchObject({ connectionId: expect.any(String), presence: { status: "online" } });
    expect(r[1]).toEqual({ error: { code: "RT429", message: `user ${u} already has 3 open connections (the limit is 3)` } });
    expect(r[2]).toMatchObject({ connectionId: expect.any(String) });
    expect(r[3]).toMatchObject({ connectionId: expect.any(String) });
    expect(await open(u)).toBe(4);
    expect(await ctx.db.v("select count(*)::int as v from realtime_connections where socket_id = $1", [s4])).toBe(0);
  });

  it("frees a place when a connection closes; ignores anonymous sockets; rejects a limit that is not a positive integer (RT400)", async () => {
    const [u, s1, s2, s3] = [uid("u"), uid("s"), uid("s"), uid("s")];
    await batch([{ socketId: s1, userId: u, maxPerUser: 1 }]);
    const refused = await batch([{ socketId: s2, userId: u, maxPerUser: 1 }]);
    await ctx.db.q("select realtime_close_connection($1, $2)", [s1, at(1)]);
    const after = await batch([{ socketId: s3, userId: u, maxPerUser: 1 }], null, 2);
    const anonymous = await batch([1, 2, 3].map(() => ({ socketId: uid("s"), anonymous: true, maxPerUser: 1 })));
    const bad = await batch([0, -1, 1.5, "2", true, {}].map((maxPerUser) => ({ socketId: uid("s"), userId: uid("u"), maxPerUser })));

    expect(refused[0].error.code).toBe("RT429");
    expect(after[0]).toMatchObject({ connectionId: expect.any(String) });
    expect(anonymous.every((x: any) => typeof x.connectionId === "string")).toBe(true);
    expect(bad.map((x: any) => x.error)).toEqual(Array(6).fill({ code: "RT400", message: "maxPerUser must be a positive integer" }));
    expect(await ctx.db.v("select realtime_register_connections($1::jsonb) as v", [JSON.stringify([{ socketId: uid("s"), userId: uid("u"), maxPerUser: null }])]))
      .toEqual([expect.objectContaining({ connectionId: expect.any(String) })]);
  });

  it("is exact when two relays register the same user at once: the second waits for the first and is refused", async () => {
    // Setup: two sessions, as two relays.
    const u = uid("u");
    const [a, b] = [await connectPg(ctx.db.url), await connectPg(ctx.db.url)];
    try {
      await a.query("begin");
      const first = (await a.query("select realtime_register_connections($1::jsonb, 'relay-a') as v", [JSON.stringify([{ socketId: uid("s"), userId: u, maxPerUser: 1 }])])).rows[0].v;
      const bPid = (await b.query("select pg_backend_pid() as pid")).rows[0].pid;

      // Action: b registers the same user while a's transaction is open.
      const second = b.query("select realtime_register_connections($1::jsonb, 'relay-b') as v", [JSON.stringify([{ socketId: uid("s"), userId: u, maxPerUser: 1 }])]);
      const waiting = async () => (await ctx.db.v("select wait_event_type as v from pg_stat_activity where pid = $1", [bPid])) === "Lock";
      for (let i = 0; i < 100 && !(await waiting()); i++) await sleep(20);
      const blocked = await ctx.db.v("select l.locktype as v from pg_locks l where l.pid = $1 and not l.granted", [bPid]);
      await a.query("commit");
      const secondResult = (await second).rows[0].v;

      // Assertions
      expect(blocked).toBe("advisory");
      expect(first[0]).toMatchObject({ connectionId: expect.any(String) });
      expect(secondResult[0].error).toEqual({ code: "RT429", message: `user ${u} already has 1 open connections (the limit is 1)` });
      expect(await open(u)).toBe(1);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("lets exactly maxPerUser of many concurrent registrations of one user through", async () => {
    const u = uid("u");
    const clients = await Promise.all(Array.from({ length: 8 }, () => connectPg(ctx.db.url)));
    try {
      const results = await Promise.all(clients.map(async (c, i) => {
        // Each session registers a batch: the user plus a neighbour that must not be affected.
        const rows = [{ socketId: uid("s"), userId: u, maxPerUser: 3 }, { socketId: uid("s"), userId: `${u}-solo-${i}`, maxPerUser: 3 }];
        return (await c.query("select realtime_register_connections($1::jsonb, $2) as v", [JSON.stringify(rows), `relay-${i}`])).rows[0].v;
      }));

      const mine = results.map((r: any[]) => r[0]);
      expect(mine.filter((x) => x.connectionId)).toHaveLength(3);
      expect(mine.filter((x) => x.error?.code === "RT429")).toHaveLength(5);
      expect(results.every((r: any[]) => typeof r[1].connectionId === "string")).toBe(true);
      expect(await open(u)).toBe(3);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
