// PostgreSQL crash (pg_ctl stop -m immediate, then start) while clients send. On top of the history
// checks: no member is told that a user who stayed connected went offline, and the live sockets are
// in realtime_connections again within about two heartbeats of the restart (the table is UNLOGGED,
// so a crash empties it).
import { beforeAll, describe, expect, it } from "vitest";
import { healthy } from "../helpers/health.js";
import { sleep, within } from "../helpers/wait.js";
import { cleanupWorld, HEARTBEAT_MS, startWorld, type World } from "./world.js";

let w: World | undefined;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
cleanupWorld(() => w);

describe("fault: PostgreSQL crash", () => {
  it("loses nothing acknowledged, keeps connected users online and re-registers the live sockets", async () => {
    const world = w!;
    const relay = await world.relay("pg-crash");
    const rooms = await world.rooms("pgcrash", 2);
    const h = world.history("pg-crash");
    const clients = Array.from({ length: 12 }, (_, i) => h.client(relay.url, `c-user-${i}`, i % 3 === 0 ? rooms : [rooms[i % 2]]));
    await Promise.all(clients.map((c) => c.ready));
    const users = clients.map((c) => c.userId);

    const traffic = h.traffic(clients, { intervalMs: 200 });
    await sleep(1500);
    const crashedAt = Date.now();
    await world.pg.stop("immediate");
    await sleep(1000);
    await world.pg.start();
    const restartedAt = Date.now();

    // The sockets that are open now must be open rows again.
    const liveRegistered = async () => {
      const ids = clients.filter((c) => c.socket.connected).map((c) => c.socket.id);
      if (ids.length < clients.length) return false;
      try {
        const [row] = await world.pg.sql<{ n: number }>(
          "select count(*)::int as n from realtime_connections where disconnected_at is null and socket_id = any ($1::text[])",
          [ids],
        );
        return row.n === ids.length;
      } catch {
        return false;
      }
    };
    const registered = await within(liveRegistered, 10_000, 100);
    h.extra.connectionsBackSeconds = registered ? Math.round((Date.now() - restartedAt) / 100) / 10 : null;

    await healthy(relay.url);
    const probe = await h.probe(relay.url, restartedAt, 10_000);
    await sleep(1500);
    await traffic.stop();
    const offline = h.offlineAbout(users, crashedAt);
    h.extra.offlineForConnected = offline.length;
    const s = await h.check();

    expect.soft(s.lost, "acknowledged but not stored").toBe(0);
    expect.soft(s.duplicated, "duplicated").toBe(0);
    expect.soft(s.missing, "stored but not received").toBe(0);
    expect.soft(probe.stranded, "clients not back in their rooms").toEqual([]);
    expect.soft(offline.length, "offline presence for users who stayed connected").toBe(0);
    expect.soft(registered, "live sockets back in realtime_connections").toBe(true);
    expect.soft((h.extra.connectionsBackSeconds as number | null) ?? Infinity, "seconds until the live sockets are registered again").toBeLessThanOrEqual(
      (2 * HEARTBEAT_MS + 1000) / 1000,
    );
  }, 90_000);
});
