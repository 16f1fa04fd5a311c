// room:join in natural batches: a join storm costs a few database calls, every join is answered as
// if alone (members, replay, refusals), and one refused join does not fail its batch.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ack, ackOk, connect } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";

let relay: TestRelay;
beforeAll(async () => {
  relay = await startRelay({ REALTIME_RATE_LIMIT: "10000", REALTIME_RATE_BURST: "10000" });
});
afterAll(async () => {
  await relay?.dispose();
});

const joinCalls = async () => {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const m = /realtime_sql_duration_seconds_count\{call="join_rooms",ok="true"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
};

describe("room:join in batches", () => {
  it("answers 150 simultaneous joins of 10 rooms in far fewer calls, each with its members; a private room's refusals among them fail alone", async () => {
    const rooms = await Promise.all(Array.from({ length: 10 }, () => createRoom(relay.db, uid("storm"))));
    const closed = await createRoom(relay.db, uid("closed"), "channel", "private");
    const users = Array.from({ length: 150 }, () => uid("joiner"));
    const clients = await Promise.all(users.map((u) => connect(relay.url, token(u))));
    const joinedHeard = clients.map((c) => {
      const heard: string[] = [];
      c.on("user:joined", (e: { userId: string }) => heard.push(e.userId));
      return heard;
    });
    const before = await joinCalls();

    // Every tenth client also tries the private room it is not a member of, in the same storm.
    const [answers, refused] = await Promise.all([
      Promise.all(clients.map((c, i) => ack(c, "room:join", { roomName: rooms[i % rooms.length] }))),
      Promise.all(clients.filter((_, i) => i % 10 === 0).map((c) => ack(c, "room:join", { roomName: closed }))),
    ]);

    const calls = (await joinCalls()) - before;
    expect(answers.filter((a) => !a.ok)).toEqual([]);
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThan(users.length / 3);
    for (const a of refused) expect(a).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });

    // Each answer lists its own user among the members; the database agrees about every membership.
    answers.forEach((a, i) => {
      if (!a.ok) return;
      expect(a.data.room.name).toBe(rooms[i % rooms.length]);
      expect(a.data.members.map((m: { userId: string }) => m.userId)).toContain(users[i]);
    });
    const rows = await relay.db.q<{ n: number }>(
      "select count(*)::int as n from realtime_room_members m join realtime_rooms r on r.id = m.room_id where r.name = any ($1::text[]) and m.left_at is null",
      [rooms],
    );
    expect(rows[0]!.n).toBe(users.length);

    // No socket hears of a member's join twice (live and again as held for its own join).
    await new Promise((r) => setTimeout(r, 300));
    joinedHeard.forEach((heard, i) => expect(heard.length, `${users[i]} heard ${heard.length} joins, ${new Set(heard).size} users`).toBe(new Set(heard).size));

    // Every socket is in its room: a message reaches all 15 members.
    const received = clients
      .filter((_, i) => i % rooms.length === 3)
      .map((c) => new Promise<string>((resolve) => c.once("message:new", (m: { content: string }) => resolve(m.content))));
    await ackOk(clients[3]!, "message:send", { roomName: rooms[3], content: "all here" });
    expect(await Promise.all(received)).toEqual(Array(15).fill("all here"));
    for (const c of clients) c.disconnect();
  });
});
