// The SDK against a relay that is restarted on the same port while two clients chat: every message
// reaches each client exactly once and in id order, sends made while the relay is down wait and are
// stored once, and members, presence and typing come back from the re-join.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { chatter, expectExactlyOnceInOrder, freeLowPort, recordMessages, sdkClient, sleep, uniq, waitFor, SECRET, type Recorded } from "./support.js";

let db: TestDatabase;
let relay: TestRelay;
let env: Record<string, string>;
const clients: Recorded[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freeLowPort();
  env = {
    REALTIME_JWT_SECRET: SECRET,
    REALTIME_PORT: String(port),
    REALTIME_PRESENCE_GRACE: "300",
    REALTIME_PRESENCE_HEARTBEAT: "1000",
  };
  relay = await startRelay(env, { db });
});

afterAll(async () => {
  for (const c of clients) c.client.close();
  await relay?.stop();
  await db?.drop();
});

function client(userId: string, options: Parameters<typeof sdkClient>[2] = {}): Recorded {
  const c = sdkClient(relay.url, userId, options);
  clients.push(c);
  return c;
}

async function restartRelay(downMs = 300): Promise<void> {
  await relay.stop();
  await sleep(downMs);
  relay = await startRelay(env, { db });
}

async function storedIds(room: string): Promise<number[]> {
  const rows = await db.q<{ seq: string }>("select seq from realtime_events where room_name = $1 and type = 'message' order by seq", [room]);
  return rows.map((r) => Number(r.seq));
}

/** Members of a room as the server has them: realtime_room_members with realtime_presence. */
async function serverMembers(room: string): Promise<Record<string, { status: string; text: string | null }>> {
  const rows = await db.q<{ user_id: string; status: string; text: string | null }>(
    `select m.user_id, coalesce(p.status, 'offline') as status, p.custom_status ->> 'text' as text
     from realtime_room_members m join realtime_rooms r on r.id = m.room_id
     left join realtime_presence p on p.user_id = m.user_id
     where r.name = $1 and m.left_at is null`,
    [room],
  );
  return Object.fromEntries(rows.map((r) => [r.user_id, { status: r.status, text: r.text ?? null }]));
}

function clientMembers(members: Map<string, { status: string; customStatus: { text?: string } | null }>) {
  return Object.fromEntries([...members].map(([id, m]) => [id, { status: m.status, text: m.customStatus?.text ?? null }]));
}

describe("SDK across a relay restart", () => {
  it("two clients chatting through a restart each get every message exactly once, in id order", async () => {
    const room = uniq("restart-chat");
    await db.q("select realtime_create_room($1)", [room]);
    const a = client(uniq("alice"));
    const b = client(uniq("bob"));
    await Promise.all([a.client.connect(), b.client.connect()]);
    const [ra, rb] = await Promise.all([a.client.join(room), b.client.join(room)]);
    const gotA = recordMessages(ra);
    const gotB = recordMessages(rb);
    let gaps = 0;
    ra.on("gap", () => gaps++);
    rb.on("gap", () => gaps++);

    const chatA = chatter(ra, "a", 40);
    const chatB = chatter(rb, "b", 40);
    await sleep(600);
    await restartRelay(400);
    await sleep(800);
    const [sentA, sentB] = await Promise.all([chatA.stop(), chatB.stop()]);

    const stored = await storedIds(room);
    await waitFor(() => gotA.length >= stored.length && gotB.length >= stored.length, 10_000, "both clients caught up");
    await sleep(200); // nothing more may arrive
    expect(sentA.length + sentB.length).toBe(stored.length);
    expectExactlyOnceInOrder(gotA, stored, "alice");
    expectExactlyOnceInOrder(gotB, stored, "bob");
    // Each send resolved with its stored message; sends retried across the restart were stored once.
    expect(sentA.map((m) => m.id).sort((x, y) => x - y)).toEqual(stored.filter((id) => gotA.find((m) => m.id === id)!.userId === a.userId));
    const dup = await db.q("select client_message_id from realtime_events where room_name = $1 and type = 'message' group by 1 having count(*) > 1", [room]);
    expect(dup).toEqual([]);
    expect(gaps).toBe(0);
    // What alice sent, bob got in the order she sent it (and the other way round).
    expect(gotB.filter((m) => m.userId === a.userId).map((m) => m.content)).toEqual(sentA.map((m) => m.content));
    expect(gotA.filter((m) => m.userId === b.userId).map((m) => m.content)).toEqual(sentB.map((m) => m.content));

    expect(a.states).toContain("reconnecting");
    expect(a.client.state).toBe("connected");
    expect(b.client.state).toBe("connected");
    expect(a.client.pendingSends + b.client.pendingSends).toBe(0);
  }, 60_000);

  it("members follow joins, leaves and presence, equal to the server's realtime_presence, also after a restart", async () => {
    const room = uniq("restart-members");
    await db.q("select realtime_create_room($1)", [room]);
    const a = client(uniq("alice"));
    const b = client(uniq("bob"));
    const c = client(uniq("carol"));
    await Promise.all([a.client.connect(), b.client.connect(), c.client.connect()]);
    const ra = await a.client.join(room);
    const rb = await b.client.join(room);
    await waitFor(() => ra.members.has(b.userId), 5000, "alice sees bob join");
    const rc = await c.client.join(room);
    await waitFor(() => ra.members.size === 3 && rb.members.size === 3, 5000, "three members");

    await a.client.setPresence({ status: "busy", customStatus: { text: "in a meeting" } });
    await waitFor(() => rb.members.get(a.userId)?.status === "busy", 5000, "bob sees alice busy");
    expect(rb.members.get(a.userId)?.customStatus?.text).toBe("in a meeting");
    expect(clientMembers(rb.members)).toEqual(await serverMembers(room));

    await rc.leave();
    await waitFor(() => !ra.members.has(c.userId) && !rb.members.has(c.userId), 5000, "carol gone");
    expect(clientMembers(ra.members)).toEqual(await serverMembers(room));

    await restartRelay(200);
    await waitFor(() => a.client.state === "connected" && b.client.state === "connected" && ra.joined && rb.joined, 15_000, "both back");
    // Bob goes: alice's view follows him offline (after the grace).
    b.client.close();
    const expected = async () => JSON.stringify(clientMembers(ra.members)) === JSON.stringify(await serverMembers(room));
    await waitFor(async () => ra.members.get(b.userId)?.status === "offline" && (await expected()), 10_000, "bob offline for alice");
    expect(clientMembers(ra.members)).toEqual(await serverMembers(room));
  }, 60_000);

  it("typing appears for the other member and clears after a pause and on send", async () => {
    const room = uniq("restart-typing");
    await db.q("select realtime_create_room($1)", [room]);
    const a = client(uniq("alice"));
    const b = client(uniq("bob"), { typing: { refreshMs: 1000, idleMs: 800 } });
    await Promise.all([a.client.connect(), b.client.connect()]);
    const ra = await a.client.join(room);
    const rb = await b.client.join(room);
    const seen: string[][] = [];
    ra.on("typing", (users) => seen.push(users));

    for (let i = 0; i < 5; i++) {
      rb.typing();
      await sleep(50);
    }
    await waitFor(() => ra.typingUsers.includes(b.userId), 5000, "alice sees bob typing");
    expect(rb.typingUsers).toEqual([]); // a user does not see themself
    const startedAt = Date.now();
    await waitFor(() => ra.typingUsers.length === 0, 5000, "typing cleared after the pause");
    expect(Date.now() - startedAt).toBeLessThan(2500); // the SDK's stop, not the server's 3 s expiry

    rb.typing();
    await waitFor(() => ra.typingUsers.includes(b.userId), 5000, "typing again");
    const sent = Date.now();
    await rb.send("done typing");
    await waitFor(() => ra.typingUsers.length === 0, 5000, "cleared by the send");
    expect(Date.now() - sent).toBeLessThan(700);
    expect(seen).toEqual([[b.userId], [], [b.userId], []]);
  }, 30_000);
});
