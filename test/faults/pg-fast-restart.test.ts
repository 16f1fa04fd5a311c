// PostgreSQL restarted cleanly (pg_ctl stop -m fast, then start) while clients send: nothing
// acknowledged is lost, nothing is stored or delivered twice, every member gets every stored message
// (late, through its replay, is fine) and every client is back in its rooms.
import { beforeAll, describe, expect, it } from "vitest";
import { healthy } from "../helpers/health.js";
import { sleep } from "../helpers/wait.js";
import { cleanupWorld, startWorld, type World } from "./world.js";

let w: World | undefined;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
cleanupWorld(() => w);

describe("fault: PostgreSQL fast restart", () => {
  it("loses, duplicates and strands nothing", async () => {
    const world = w!;
    const relay = await world.relay("pg-fast");
    const rooms = await world.rooms("pgfast", 2);
    const h = world.history("pg-fast-restart");
    const clients = Array.from({ length: 12 }, (_, i) => h.client(relay.url, `f-user-${i}`, i % 3 === 0 ? rooms : [rooms[i % 2]]));
    await Promise.all(clients.map((c) => c.ready));

    const traffic = h.traffic(clients, { intervalMs: 250 });
    await sleep(1500);
    await world.pg.stop("fast");
    await sleep(1500);
    await world.pg.start();
    const restartedAt = Date.now();
    await healthy(relay.url);
    const probe = await h.probe(relay.url, restartedAt, 10_000);
    await sleep(1500);
    await traffic.stop();
    const s = await h.check();

    expect.soft(s.lost, "acknowledged but not stored").toBe(0);
    expect.soft(s.duplicated, "duplicated").toBe(0);
    expect.soft(s.missing, "stored but not received").toBe(0);
    expect.soft(probe.stranded, "clients not back in their rooms").toEqual([]);
  }, 90_000);
});
