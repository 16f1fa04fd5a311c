// The SDK with two relays sharing PostgreSQL and Redis, each client behind its own load balancer
// (a TCP proxy preferring one relay, falling back to the other). One relay is killed with SIGKILL
// while two clients chat: its client moves to the other relay, and each client still gets every
// stored message exactly once and in id order.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import {
  chatter,
  expectExactlyOnceInOrder,
  recordMessages,
  sdkClient,
  sleep,
  spawnRelay,
  startBalancer,
  uniq,
  waitFor,
  type Balancer,
  type Recorded,
  type RelayProcess,
} from "./support.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

let db: TestDatabase;
const relays: RelayProcess[] = [];
const balancers: Balancer[] = [];
const clients: Recorded[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const env = {
    DATABASE_URL: db.url,
    REALTIME_REDIS_URL: REDIS_URL,
    REALTIME_REDIS_PREFIX: uniq("sdk-cluster"),
    REALTIME_PRESENCE_HEARTBEAT: "1000",
    REALTIME_STALE_AFTER: "3000",
    REALTIME_PRESENCE_GRACE: "300",
  };
  relays.push(...(await Promise.all([spawnRelay(env, uniq("sdk-a")), spawnRelay(env, uniq("sdk-b"))])));
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.client.close();
  for (const b of balancers) await b.close();
  await Promise.all(relays.map((r) => r.kill("SIGKILL")));
  await db?.drop();
});

describe("SDK with two relays and Redis, one killed", () => {
  it("keeps every message exactly once and in order for both clients when a relay is SIGKILLed", async () => {
    const [r1, r2] = relays;
    const toR1 = await startBalancer(() => [r1.port, r2.port]);
    const toR2 = await startBalancer(() => [r2.port, r1.port]);
    balancers.push(toR1, toR2);
    const room = uniq("cluster-chat");
    await db.q("select realtime_create_room($1)", [room]);

    const a = sdkClient(toR1.url, uniq("alice"), { reorderWindowMs: 150 });
    const b = sdkClient(toR2.url, uniq("bob"), { reorderWindowMs: 150 });
    clients.push(a, b);
    await Promise.all([a.client.connect(), b.client.connect()]);
    const ra = await a.client.join(room);
    const rb = await b.client.join(room);
    await waitFor(() => ra.members.size === 2 && rb.members.size === 2, 5000, "both members").catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify([[...ra.members.keys()], [...rb.members.keys()]])}`);
    });
    const gotA = recordMessages(ra);
    const gotB = recordMessages(rb);

    const chatA = chatter(ra, "a", 50);
    const chatB = chatter(rb, "b", 50);
    await sleep(1000);
    await r1.kill("SIGKILL");
    await sleep(1500);
    const [sentA, sentB] = await Promise.all([chatA.stop(), chatB.stop()]);

    const stored = (await db.q<{ seq: string }>("select seq from realtime_events where room_name = $1 and type = 'message' order by seq", [room])).map((r) => Number(r.seq));
    expect(sentA.length + sentB.length).toBe(stored.length);
    await waitFor(() => gotA.length >= stored.length && gotB.length >= stored.length, 10_000, "both caught up");
    await sleep(300);
    expectExactlyOnceInOrder(gotA, stored, "alice (moved to the other relay)");
    expectExactlyOnceInOrder(gotB, stored, "bob");
    expect(gotB.filter((m) => m.userId === a.userId).map((m) => m.content)).toEqual(sentA.map((m) => m.content));
    expect(a.states).toContain("reconnecting");
    expect(a.client.state).toBe("connected");
    expect(b.states).toEqual(["connecting", "connected"]);

    // Members as the server has them once the dead relay's connections are swept: both still online.
    const server = async () =>
      Object.fromEntries(
        (
          await db.q<{ user_id: string; status: string }>(
            `select m.user_id, coalesce(p.status, 'offline') as status from realtime_room_members m
             join realtime_rooms r on r.id = m.room_id left join realtime_presence p on p.user_id = m.user_id
             where r.name = $1 and m.left_at is null`,
            [room],
          )
        ).map((r) => [r.user_id, r.status]),
      );
    const view = () => Object.fromEntries([...rb.members].map(([id, m]) => [id, m.status]));
    await sleep(4000);
    await waitFor(async () => JSON.stringify(view()) === JSON.stringify(await server()), 10_000, "bob's members equal the server's");
    expect(view()).toEqual({ [a.userId]: "online", [b.userId]: "online" });
  }, 90_000);
});
