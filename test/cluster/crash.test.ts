// A relay killed with SIGKILL: the survivors close its connections within the documented bound
// (REALTIME_STALE_AFTER + one sweep interval), presence and typing follow, clients move over.
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Socket } from "socket.io-client";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_REDIS_URL } from "../helpers/env.js";
import { type RelayProcess, spawnRelay } from "../helpers/processes.js";
import { collect, connect, nextEvent } from "../helpers/sockets.js";
import { clusterToken } from "../helpers/tokens.js";
import { until } from "../helpers/wait.js";

const HEARTBEAT_MS = 1000;
const STALE_AFTER_MS = 2000;
const SWEEP_MS = HEARTBEAT_MS / 2; // the relay sweeps every half heartbeat
const BOUND_MS = STALE_AFTER_MS + SWEEP_MS;

let db: TestDatabase;
let env: Record<string, string>;
const relays: RelayProcess[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  env = {
    DATABASE_URL: db.url,
    REALTIME_REDIS_URL: TEST_REDIS_URL,
    REALTIME_REDIS_PREFIX: `rt-test-${crypto.randomBytes(4).toString("hex")}`,
    REALTIME_PRESENCE_HEARTBEAT: String(HEARTBEAT_MS),
    REALTIME_STALE_AFTER: String(STALE_AFTER_MS),
    REALTIME_PRESENCE_GRACE: "0",
    REALTIME_TYPING_TIMEOUT: "60000",
  };
  relays.push(await spawnRelay(env, "survivor"), await spawnRelay(env, "victim"));
  await db.q("select realtime_create_room('ops')");
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(relays.map((r) => r.kill()));
  await db?.drop();
});

describe("a relay killed with SIGKILL", () => {
  it("has its connections closed by the survivor within the bound, with presence and typing following", async () => {
    const [survivor, victim] = relays;
    const harry = await connect(survivor.url, clusterToken("harry"));
    const gina = await connect(victim.url, clusterToken("gina"));
    sockets.push(harry, gina);
    await harry.emitWithAck("room:join", { roomName: "ops" });
    await gina.emitWithAck("room:join", { roomName: "ops" });
    const typingSeen = nextEvent(harry, "typing:event", (e: any) => e.users.includes("gina"), 5000);
    expect((await gina.emitWithAck("typing:start", { roomName: "ops" })).ok).toBe(true);
    await typingSeen;

    const presence = collect<{ userId: string; status: string }>(harry, "presence:changed");
    const typing = collect<{ users: string[] }>(harry, "typing:event");
    const killedAt = Date.now();
    await victim.kill("SIGKILL");

    await until(() => presence.some((p) => p.userId === "gina" && p.status === "offline"), 15_000, { stepMs: 20 });
    const elapsed = Date.now() - killedAt;
    // One heartbeat of the victim may have just happened before the kill: allow that and slack.
    expect(elapsed).toBeLessThanOrEqual(BOUND_MS + HEARTBEAT_MS + 1000);
    await until(() => typing.some((t) => !t.users.includes("gina")), 10_000);

    const open = await db.v("select count(*)::int as v from realtime_connections where node_id = 'victim' and disconnected_at is null");
    expect(open).toBe(0);
    expect(await db.v("select count(*)::int as v from realtime_typing where user_id = 'gina'")).toBe(0);
    console.log(`victim's user offline ${elapsed} ms after SIGKILL (bound ${BOUND_MS} ms + one heartbeat)`);
  });

  it("lets the dead relay's clients reconnect to a live relay and get their rooms back", async () => {
    const gina = await connect(relays[0].url, clusterToken("gina"));
    sockets.push(gina);
    expect(gina.authInfo.rooms).toContain("ops");
    // The socket is in `ops` without a room:join: a message there reaches it.
    const harry = await connect(relays[0].url, clusterToken("harry"));
    sockets.push(harry);
    const got = nextEvent(gina, "message:new", (m: any) => m.content === "welcome back", 5000);
    await harry.emitWithAck("message:send", { roomName: "ops", content: "welcome back" });
    await got;
  });

  it("does not resurrect dead rows when restarted with the same node id", async () => {
    const before = await db.v("select count(*)::int as v from realtime_connections where node_id = 'victim'");
    expect(before).toBeGreaterThan(0);
    const restarted = await spawnRelay(env, "victim");
    relays.push(restarted);
    expect(await db.v("select count(*)::int as v from realtime_connections where node_id = 'victim' and disconnected_at is null")).toBe(0);
    const node = await db.q("select stopped_at, last_heartbeat from realtime_nodes where id = 'victim'");
    expect(node[0].stopped_at).toBeNull();
  });
});
