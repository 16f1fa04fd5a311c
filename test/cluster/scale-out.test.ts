// Three relay processes on one database and one Redis behave as one server.
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Socket } from "socket.io-client";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_REDIS_URL } from "../helpers/env.js";
import { type RelayProcess, spawnRelay } from "../helpers/processes.js";
import { collect, connect, nextEvent } from "../helpers/sockets.js";
import { clusterToken } from "../helpers/tokens.js";
import { sleep, until } from "../helpers/wait.js";

let db: TestDatabase;
let relays: RelayProcess[] = [];
const sockets: Socket[] = [];

async function client(relay: RelayProcess, userId: string): Promise<Socket> {
  const socket = await connect(relay.url, clusterToken(userId));
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  db = await createTestDatabase();
  const env = {
    DATABASE_URL: db.url,
    REALTIME_REDIS_URL: TEST_REDIS_URL,
    REALTIME_REDIS_PREFIX: `rt-test-${crypto.randomBytes(4).toString("hex")}`,
    REALTIME_PRESENCE_GRACE: "0",
    REALTIME_RATE_LIMIT: "1000",
    REALTIME_RATE_BURST: "1000",
  };
  relays = await Promise.all([spawnRelay(env), spawnRelay(env), spawnRelay(env)]);
  await db.q("select realtime_create_room('general')");
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(relays.map((r) => r.kill()));
  await db?.drop();
});

describe("several relays over Redis", () => {
  it("delivers every message exactly once to every member, in order per sender", async () => {
    const users = ["u0", "u1", "u2", "u3", "u4", "u5"];
    const clients = await Promise.all(users.map((u, i) => client(relays[i % 3], u)));
    for (const c of clients) expect((await c.emitWithAck("room:join", { roomName: "general" })).ok).toBe(true);
    const received = clients.map((c) => collect<{ id: number; userId: string; content: string }>(c, "message:new"));

    const perSender = 20;
    const sentIds: number[] = [];
    await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; k < perSender; k++) {
          const ack = await c.emitWithAck("message:send", { roomName: "general", content: `${users[i]}:${k}` });
          expect(ack.ok).toBe(true);
          sentIds.push(ack.data.id);
        }
      }),
    );
    const total = users.length * perSender;
    await until(() => received.every((r) => r.length >= total), 15_000);
    await sleep(300); // anything extra would be a duplicate

    for (const messages of received) {
      const ids = messages.map((m) => m.id);
      expect(new Set(ids).size).toBe(ids.length); // no duplicates
      expect([...ids].sort((a, b) => a - b)).toEqual([...sentIds].sort((a, b) => a - b)); // none missing
      for (const sender of users) {
        const seq = messages.filter((m) => m.userId === sender).map((m) => Number(m.content.split(":")[1]));
        expect(seq).toEqual([...Array(perSender).keys()]); // in order per sender
      }
    }
  });

  it("delivers a SQL-originated broadcast exactly once per socket", async () => {
    const clients = await Promise.all([client(relays[0], "b0"), client(relays[1], "b1"), client(relays[2], "b2"), client(relays[2], "b0")]);
    for (const c of clients) await c.emitWithAck("room:join", { roomName: "general" });
    const seen = clients.map((c) => collect<{ n: number }>(c, "note"));
    for (let n = 0; n < 10; n++) await db.q("select realtime_broadcast('general', 'note', jsonb_build_object('n', $1::int))", [n]);
    await until(() => seen.every((s) => s.length >= 10), 10_000);
    await sleep(300);
    for (const s of seen) expect(s.map((p) => p.n)).toEqual([...Array(10).keys()]);
  });

  it("fires user:joined once per membership change and moves the user's sockets on every relay", async () => {
    await db.q("select realtime_create_room('lobby')");
    const watcher = await client(relays[2], "watcher");
    await watcher.emitWithAck("room:join", { roomName: "lobby" });
    const joined = collect<{ userId: string }>(watcher, "user:joined");
    const carolA = await client(relays[0], "carol");
    const carolB = await client(relays[1], "carol");

    expect((await carolA.emitWithAck("room:join", { roomName: "lobby" })).data.joined).toBe(true);
    expect((await carolB.emitWithAck("room:join", { roomName: "lobby" })).data.joined).toBe(false);
    await until(() => joined.some((j) => j.userId === "carol"), 10_000);
    await sleep(300);
    expect(joined.filter((j) => j.userId === "carol")).toHaveLength(1);

    // carol's socket on relay B was moved into the room by the membership notification.
    const onB = nextEvent(carolB, "message:new", (m: any) => m.content === "hi carol", 5000);
    await watcher.emitWithAck("message:send", { roomName: "lobby", content: "hi carol" });
    await onB;
  });

  it("aggregates the presence of one user connected to two relays", async () => {
    await db.q("select realtime_create_room('presence-room')");
    const frank = await client(relays[2], "frank");
    await frank.emitWithAck("room:join", { roomName: "presence-room" });
    const erinA = await client(relays[0], "erin");
    const erinB = await client(relays[1], "erin");
    await erinA.emitWithAck("room:join", { roomName: "presence-room" });
    const changes = collect<{ userId: string; status: string }>(frank, "presence:changed");

    erinA.close();
    await sleep(800);
    expect(changes.filter((c) => c.userId === "erin" && c.status === "offline")).toHaveLength(0);
    expect(await db.v("select status as v from realtime_presence where user_id = 'erin'")).toBe("online");

    erinB.close();
    await until(() => changes.some((c) => c.userId === "erin" && c.status === "offline"), 10_000);
  });

  it("reports connections per relay and in total in /metrics", async () => {
    const text = await (await fetch(`${relays[0].url}/metrics`)).text();
    const open = await db.q<{ node_id: string; n: number }>(
      "select node_id, count(*)::int as n from realtime_connections where disconnected_at is null group by node_id",
    );
    for (const row of open) {
      expect(text).toContain(`realtime_cluster_connections{node="${row.node_id}"} ${row.n}`);
    }
    const total = open.reduce((sum, r) => sum + r.n, 0);
    const fromMetrics = [...text.matchAll(/^realtime_cluster_connections\{node="[^"]+"\} (\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
    expect(fromMetrics).toBe(total);
    expect(total).toBeGreaterThan(0);
  });
});
