// Connection lifecycle against the database: rows opened and closed with sockets, sockets whose rows
// are gone registered again in place at the next heartbeat, and graceful shutdown (transports
// closed so clients reconnect by themselves, no open rows left for the node, node marked stopped,
// event log flushed).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackOk, connect, connectError, nextEvent } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";
import { until } from "../helpers/wait.js";

let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay({ REALTIME_PRESENCE_HEARTBEAT: "1000", REALTIME_PRESENCE_GRACE: "0" });
});
afterAll(async () => {
  await relay?.dispose();
});

const openRows = (db: TestRelay["db"], nodeId: string) =>
  db.v<number>("select count(*)::int as v from realtime_connections where node_id = $1 and disconnected_at is null", [nodeId]);

describe("connection rows", () => {
  it("records a socket on connect and closes its row on disconnect", async () => {
    const user = uid("row");
    const c = await connect(relay.url, token(user));
    const [row] = await relay.db.q("select socket_id, user_id, node_id, anonymous, device from realtime_connections where id = $1", [
      c.authInfo.sessionId,
    ]);
    expect(row).toMatchObject({ socket_id: c.id, user_id: user, node_id: relay.nodeId, anonymous: false });
    c.disconnect();
    const closed = await until(async () => {
      const [r] = await relay.db.q("select disconnected_at, close_reason from realtime_connections where id = $1", [c.authInfo.sessionId]);
      return r.disconnected_at ? r : null;
    });
    expect(closed!.close_reason).toBe("disconnect");
  });

  it("keeps a device object sent in the handshake", async () => {
    const c = await connect(relay.url, { token: token(uid("dev")), device: { platform: "test", version: 3 } });
    const device = await relay.db.v("select device as v from realtime_connections where id = $1", [c.authInfo.sessionId]);
    expect(device).toEqual({ platform: "test", version: 3 });
    c.disconnect();
  });

  it("registers again in place, at the next heartbeat, a live socket whose row was closed or lost", async () => {
    // Setup: two users in a room, each on a live socket.
    const [ann, ben] = [uid("ann"), uid("ben")];
    const room = await createRoom(relay.db, uid("kept"));
    const a = await connect(relay.url, token(ann));
    const b = await connect(relay.url, token(ben));
    await ackOk(a, "room:join", { roomName: room });
    await ackOk(b, "room:join", { roomName: room });
    const disconnects: string[] = [];
    const presence: Array<{ userId: string; status: string }> = [];
    for (const c of [a, b]) c.on("disconnect", (reason: string) => disconnects.push(reason));
    b.on("presence:changed", (p: { userId: string; status: string }) => presence.push(p));

    // Action: a sweep closed a's row; a crash emptied the table under b (the UNLOGGED table).
    expect(await relay.db.v("select realtime_close_connection($1) as v", [a.id])).toBe(true);
    await relay.db.q("delete from realtime_connections where socket_id = $1", [b.id]);

    // Assertions: both rows open again within a heartbeat or two, the sockets never dropped, still
    // in the room (a message reaches both), and no offline was announced for b's user.
    await until(async () => (await relay.db.v<number>(
      "select count(*)::int as v from realtime_connections where socket_id = any($1) and disconnected_at is null", [[a.id, b.id]])) === 2 || null, 5000);
    expect(disconnects).toEqual([]);
    const seen = nextEvent<{ content: string }>(a, "message:new", (m) => m.content === "still here");
    await ackOk(b, "message:send", { roomName: room, content: "still here" });
    await seen;
    expect(presence.filter((p) => p.userId === ben && p.status === "offline")).toEqual([]);
    a.disconnect();
    b.disconnect();
  });
});

describe("handshakes registered in batches", () => {
  it("registers concurrent handshakes together, each with its own row and rooms", async () => {
    const metric = async () => {
      const text = await (await fetch(`${relay.url}/metrics`)).text();
      const m = /realtime_sql_duration_seconds_count\{call="register_connections",ok="true"\} (\d+)/.exec(text);
      return m ? Number(m[1]) : 0;
    };
    // One lane: every handshake that arrives while a registration call is in flight joins the next
    // call (with several lanes the 40 would spread over them and could each find theirs free).
    const relay = await startRelay({ REALTIME_BATCH_LANES: "1" });
    const users = Array.from({ length: 40 }, () => uid("storm"));
    const room = await createRoom(relay.db, uid("storm-room"));
    for (const u of users.slice(0, 2)) await relay.db.q("select realtime_add_member($1, $2)", [room, u]);
    const before = await metric();

    const clients = await Promise.all(users.map((u) => connect(relay.url, token(u))));

    const calls = (await metric()) - before;
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThan(users.length); // batched, not one call per handshake
    const rows = await relay.db.q<{ id: string; socket_id: string; user_id: string }>(
      "select id, socket_id, user_id from realtime_connections where socket_id = any ($1::text[]) and disconnected_at is null",
      [clients.map((c) => c.id)],
    );
    const bySocket = new Map(rows.map((r) => [r.socket_id, r]));
    clients.forEach((c, i) => {
      expect(bySocket.get(c.id!)).toMatchObject({ id: c.authInfo.sessionId, user_id: users[i] });
      expect(c.authInfo.rooms).toEqual(i < 2 ? [room] : []);
    });
    for (const c of clients) c.disconnect();
    await relay.stop();
  });
});

describe("graceful shutdown", () => {
  it("closes every client's transport (so it reconnects by itself), leaves no open row for the node, marks it stopped and flushes the event log", async () => {
    const own = await startRelay({ REALTIME_PRESENCE_GRACE: "5000" });
    try {
      const room = await createRoom(own.db, uid("shutdown"));
      const users = [uid("s1"), uid("s2")];
      const clients = await Promise.all(users.map((u) => connect(own.url, token(u))));
      const second = await connect(own.url, token(users[0])); // a second device
      for (const c of clients) await ackOk(c, "room:join", { roomName: room });
      expect(await openRows(own.db, own.nodeId)).toBe(3);

      const reasons = [...clients, second].map((c) => nextEvent<string>(c, "disconnect", () => true, 5000));
      await own.stop();
      // Not "io server disconnect", after which a socket.io client would not try again.
      expect(await Promise.all(reasons)).toEqual(["transport close", "transport close", "transport close"]);

      expect(await openRows(own.db, own.nodeId)).toBe(0);
      const reasonsInDb = await own.db.q("select distinct close_reason from realtime_connections where node_id = $1", [own.nodeId]);
      expect(reasonsInDb).toEqual([{ close_reason: "node stopped" }]);
      const node = (await own.db.q("select stopped_at from realtime_nodes where id = $1", [own.nodeId]))[0];
      expect(node.stopped_at).toBeInstanceOf(Date);
      // A rolling restart does not flap presence: the users stay visible for the grace period,
      // with their offline time scheduled (realtime_tick of any relay settles it).
      const presence = await own.db.q(
        "select status, offline_at > now() as scheduled from realtime_presence where user_id = any($1) order by user_id",
        [users],
      );
      expect(presence).toEqual([
        { status: "online", scheduled: true },
        { status: "online", scheduled: true },
      ]);
      // The batched event log was flushed: one connect per socket.
      const connects = await own.db.v<number>(
        "select count(*)::int as v from realtime_events where type = 'connect' and user_id = any($1)",
        [users],
      );
      expect(connects).toBe(3);

      // The port no longer accepts connections.
      const err = await connectError(own.url, token(uid()));
      expect(err.message).toBeTruthy();
    } finally {
      await own.dispose();
    }
  });
});
