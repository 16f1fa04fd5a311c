// The relay's LISTEN session is killed (pg_terminate_backend on application_name
// 'realtime-listen'); while it is gone a DBA changes a user's presence and adds a connected user to
// a room. Both must reach the relay's sockets after it reconnects: members see presence:changed
// and user:joined, and the added user's socket receives the room's messages. The database refuses
// new sessions for a second meanwhile, so the gap is certain and not a race with the reconnect.
import { beforeAll, describe, expect, it } from "vitest";
import { sleep, within } from "../helpers/wait.js";
import { cleanupWorld, startWorld, type World } from "./world.js";

let w: World | undefined;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
cleanupWorld(() => w);

describe("fault: LISTEN connection killed", () => {
  it("delivers a presence change and a membership change made while it was down", async () => {
    const world = w!;
    const relay = await world.relay("listen");
    const [room] = await world.rooms("listen", 1);
    const h = world.history("listen-killed");
    const members = Array.from({ length: 6 }, (_, i) => h.client(relay.url, `l-user-${i}`, [room]));
    const newcomer = h.client(relay.url, "l-newcomer", [], { member: false });
    await Promise.all([...members.map((c) => c.ready), newcomer.ready]);
    const subject = members[0].userId;
    const joinedSeen = members.map((m) => m.collect<{ roomName: string; userId: string }>("user:joined"));
    const newcomerMessages = newcomer.collect<{ roomName: string; content: string }>("message:new");

    const traffic = h.traffic(members, { intervalMs: 400 });
    await sleep(800);
    // pg-listen reconnects at once, a few milliseconds after the kill. So that the changes fall in
    // the gap for sure, the database refuses new sessions for a second (the relay's pooled sessions
    // stay), as it would while a DBA restarts a pooler; the changes come from a session opened before.
    const dba = await world.pg.client();
    const admin = await world.pg.client("postgres");
    const listening = async () =>
      (await dba.query<{ pid: number }>("select pid from pg_stat_activity where application_name = 'realtime-listen' and query ilike 'listen%'")).rows;
    const before = await listening();
    let inGap = false;
    let changedAt = 0;
    await admin.query("alter database realtime with allow_connections false");
    try {
      await dba.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'realtime-listen'");
      await within(async () => (await listening()).length === 0, 5000, 1);
      await dba.query("select realtime_set_presence($1, 'busy', null::jsonb)", [subject]);
      await dba.query("select realtime_add_member($1, 'l-newcomer')", [room]);
      changedAt = Date.now();
      inGap = (await listening()).length === 0;
      await sleep(1000);
    } finally {
      await admin.query("alter database realtime with allow_connections true");
    }
    const back = await within(async () => (await listening()).length > 0, 15_000, 50);
    await dba.end();
    await admin.end();
    const reconnectedAt = Date.now();

    const others = members.slice(1);
    const presenceOk = await within(() => others.every((m) => m.presence.some((p) => p.userId === subject && p.status === "busy" && p.at >= changedAt)), 8000);
    const joinedOk = await within(() => joinedSeen.slice(1).every((seen) => seen.some((j) => j.userId === "l-newcomer" && j.roomName === room)), 2000);
    // The newcomer's socket follows the membership: a message to the room reaches it.
    const inRoom = await within(async () => {
      const rec = await h.send(members[1], room, { content: `listen:to-newcomer:${Date.now()}` });
      return rec.ok && (await within(() => newcomerMessages.some((m) => m.content === rec.content), 500, 25));
    }, 8000, 0);
    h.extra.deliveredAfterSeconds = presenceOk && joinedOk ? Math.round((Date.now() - reconnectedAt) / 100) / 10 : null;
    const probe = await h.probe(relay.url, Date.now(), 10_000);
    await traffic.stop();
    Object.assign(h.extra, {
      listenSessionsBefore: before.length,
      changesInGap: inGap,
      listenBack: back,
      presenceDelivered: others.filter((m) => m.presence.some((p) => p.userId === subject && p.status === "busy" && p.at >= changedAt)).length,
      membershipDelivered: joinedSeen.slice(1).filter((seen) => seen.some((j) => j.userId === "l-newcomer")).length,
      of: others.length,
      newcomerInRoom: inRoom,
    });
    const s = await h.check();

    expect(before.length, "one LISTEN session before the fault").toBe(1);
    expect.soft(inGap, "the changes were made while the LISTEN session was down").toBe(true);
    expect.soft(back, "the LISTEN session came back").toBe(true);
    expect.soft(presenceOk, "members saw the presence change made in the gap").toBe(true);
    expect.soft(joinedOk, "members saw user:joined for the membership made in the gap").toBe(true);
    expect.soft(inRoom, "the added user's socket receives the room's messages").toBe(true);
    expect.soft(s.lost, "acknowledged but not stored").toBe(0);
    expect.soft(s.duplicated, "duplicated").toBe(0);
    expect.soft(s.missing, "stored but not received").toBe(0);
    expect.soft(probe.stranded, "clients not back in their rooms").toEqual([]);
  }, 90_000);
});
