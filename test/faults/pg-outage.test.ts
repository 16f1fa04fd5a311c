// PostgreSQL down for three times REALTIME_STALE_AFTER (the 70 s outage of production, scaled down
// with the timings): when it returns, no live socket has been closed and no member was told that a
// connected user went offline; sends during the outage were refused, nothing acknowledged is lost.
import { beforeAll, describe, expect, it } from "vitest";
import { healthy } from "../helpers/health.js";
import { sleep } from "../helpers/wait.js";
import { cleanupWorld, STALE_AFTER_MS, startWorld, type World } from "./world.js";

let w: World | undefined;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
cleanupWorld(() => w);

describe("fault: PostgreSQL outage longer than REALTIME_STALE_AFTER", () => {
  it("closes no live socket and shows no connected user offline", async () => {
    const world = w!;
    const relay = await world.relay("pg-outage");
    const rooms = await world.rooms("pgout", 2);
    const h = world.history("pg-outage");
    const clients = Array.from({ length: 10 }, (_, i) => h.client(relay.url, `o-user-${i}`, i % 3 === 0 ? rooms : [rooms[i % 2]]));
    await Promise.all(clients.map((c) => c.ready));
    const users = clients.map((c) => c.userId);

    const traffic = h.traffic(clients, { intervalMs: 400 });
    await sleep(1000);
    const downAt = Date.now();
    await world.pg.stop("fast");
    await sleep(3 * STALE_AFTER_MS);
    await world.pg.start();
    const upAt = Date.now();
    await healthy(relay.url);
    const probe = await h.probe(relay.url, upAt, 10_000);
    // Long enough for the relay's heartbeats and stale sweeps to have run a few times since.
    await sleep((3 * STALE_AFTER_MS) / 2);
    await traffic.stop();
    const closed = clients.reduce((n, c) => n + c.disconnects.filter((d) => d.at >= downAt).length, 0);
    const offline = h.offlineAbout(users, downAt);
    h.extra.outageSeconds = Math.round((upAt - downAt) / 100) / 10;
    h.extra.socketsClosed = closed;
    h.extra.offlineForConnected = offline.length;
    const s = await h.check();

    expect.soft(closed, "live sockets closed").toBe(0);
    expect.soft(offline.length, "offline presence for users who stayed connected").toBe(0);
    expect.soft(s.lost, "acknowledged but not stored").toBe(0);
    expect.soft(s.duplicated, "duplicated").toBe(0);
    expect.soft(s.missing, "stored but not received").toBe(0);
    expect.soft(probe.stranded, "clients not back in their rooms").toEqual([]);
  }, 90_000);
});
