// Redis and PostgreSQL faults: a private redis-server is stopped and restarted (the shared one is
// untouched); the LISTEN session is killed with pg_terminate_backend; the database refuses the
// relay's connections for a while.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Socket } from "socket.io-client";
import { connectPg, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ROOT_DATABASE_URL } from "../helpers/env.js";
import { startPrivateRedis, type PrivateRedis } from "../helpers/faults.js";
import { health } from "../helpers/health.js";
import { type RelayProcess, spawnRelay } from "../helpers/processes.js";
import { collect, connect, nextEvent } from "../helpers/sockets.js";
import { clusterToken } from "../helpers/tokens.js";
import { sleep, until } from "../helpers/wait.js";

let db: TestDatabase;
let redis: PrivateRedis | undefined;
const relays: RelayProcess[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await startPrivateRedis();
  const env = {
    DATABASE_URL: db.url,
    REALTIME_REDIS_URL: redis.url,
    REALTIME_PRESENCE_GRACE: "0",
    REALTIME_TYPING_TIMEOUT: "60000",
    REALTIME_LOG_EVENT_TYPES: "connect,disconnect,error,join",
  };
  relays.push(await spawnRelay(env, "fault-a"), await spawnRelay(env, "fault-b"));
  await db.q("select realtime_create_room('faults')");
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(relays.map((r) => r.kill()));
  await redis?.destroy();
  await db?.drop();
});

describe("Redis down", () => {
  it("keeps local delivery, reports it in /health, and resumes cross-relay delivery when Redis returns", async () => {
    const [a, b] = relays;
    const ivan = await connect(a.url, clusterToken("ivan"));
    const kim = await connect(a.url, clusterToken("kim"));
    const jack = await connect(b.url, clusterToken("jack"));
    sockets.push(ivan, kim, jack);
    for (const s of [ivan, kim, jack]) await s.emitWithAck("room:join", { roomName: "faults" });

    await redis!.kill();
    await until(async () => (await health(a.url)).body.dependencies.redis.ok === false, 10_000);
    const h = await health(a.url);
    expect(h.status).toBe(200); // the database is fine: degraded, not unavailable
    expect(h.body.status).toBe("degraded");

    const local = nextEvent(kim, "message:new", (m: any) => m.content === "while redis is down", 5000);
    const ack = await ivan.emitWithAck("message:send", { roomName: "faults", content: "while redis is down" });
    expect(ack.ok).toBe(true);
    await local;

    await redis!.restart();
    await until(async () => (await health(a.url)).body.dependencies.redis.ok && (await health(b.url)).body.dependencies.redis.ok, 15_000);
    const remote = nextEvent(jack, "message:new", (m: any) => m.content === "after redis is back", 5000);
    await ivan.emitWithAck("message:send", { roomName: "faults", content: "after redis is back" });
    await remote;
    expect(a.proc.exitCode).toBeNull();
    expect(b.proc.exitCode).toBeNull();
  });
});

describe("PostgreSQL faults", () => {
  it("brings the LISTEN connection back after pg_terminate_backend and resyncs what it missed", async () => {
    const [a] = relays;
    const lena = await connect(a.url, clusterToken("lena"));
    sockets.push(lena);
    await lena.emitWithAck("room:join", { roomName: "faults" });
    await db.q("select realtime_add_member('faults', 'mo')");
    const typing = collect<{ users: string[] }>(lena, "typing:event");

    const killed = await db.q(
      "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'realtime-listen'",
    );
    expect(killed.length).toBe(2); // one LISTEN session per relay
    // Sent while the LISTEN sessions are down: the notification is lost, the resync repairs it.
    await db.q("select realtime_start_typing('faults', 'mo', null, null, interval '60 seconds')");
    await until(() => typing.some((t) => t.users.includes("mo")), 15_000);

    // Notifications flow again.
    const note = nextEvent(lena, "after-listen-restart", undefined, 5000);
    await until(async () => {
      await db.q("select realtime_broadcast('faults', 'after-listen-restart', '{}')");
      return Promise.race([note.then(() => true), sleep(300).then(() => false)]);
    }, 15_000, { stepMs: 0 });
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/^realtime_listener_reconnects_total [1-9]/m);
  });

  it("answers UNAVAILABLE instead of hanging while the database refuses connections, and writes buffered events afterwards", async () => {
    const [a] = relays;
    const nina = await connect(a.url, clusterToken("nina"));
    sockets.push(nina);
    await nina.emitWithAck("room:join", { roomName: "faults" });

    const root = await connectPg(TEST_ROOT_DATABASE_URL);
    await root.query(`alter database "${db.name}" with allow_connections false`);
    try {
      await db.q(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and application_name like 'realtime-relay%'",
      );
      const started = Date.now();
      const ack = await nina.timeout(8000).emitWithAck("room:join", { roomName: "faults" });
      expect(Date.now() - started).toBeLessThan(6000);
      expect(ack.ok).toBe(false);
      expect(ack.error.code).toBe("UNAVAILABLE");
      const h = await health(a.url);
      expect(h.status).toBe(503);
      expect(h.body.dependencies.database.ok).toBe(false);
    } finally {
      await root.query(`alter database "${db.name}" with allow_connections true`);
      await root.end();
    }
    // The error logged during the outage was buffered and is written once the database is back.
    await until(
      async () =>
        (await db.v("select count(*)::int as v from realtime_events where type = 'error' and user_id = 'nina' and data ->> 'code' = 'UNAVAILABLE'")) >= 1,
      10_000,
    );
    const ack = await nina.emitWithAck("ping");
    expect(ack.ok).toBe(true);
    expect((await health(a.url)).status).toBe(200);
  });
});
