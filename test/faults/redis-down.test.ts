// Redis killed (SIGKILL) for about 10 s and restarted on the same port, with two relays and rooms
// whose members are spread over both, during traffic. After recovery every member has every stored
// message exactly once (late is fine: the requirement is that none stays missing).
import { beforeAll, describe, expect, it } from "vitest";
import { health } from "../helpers/health.js";
import { sleep, within } from "../helpers/wait.js";
import { cleanupWorld, startWorld, type World } from "./world.js";

let w: World | undefined;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
cleanupWorld(() => w);

describe("fault: Redis killed for 10 s", () => {
  it("leaves no stored message missing on any member once Redis is back", async () => {
    const world = w!;
    const [a, b] = await Promise.all([world.relay("redis-a"), world.relay("redis-b")]);
    const rooms = await world.rooms("redis", 2);
    const h = world.history("redis-down");
    const clients = Array.from({ length: 12 }, (_, i) => h.client(i % 2 === 0 ? a.url : b.url, `r-user-${i}`, i % 3 === 0 ? rooms : [rooms[i % 2]]));
    await Promise.all(clients.map((c) => c.ready));

    const traffic = h.traffic(clients, { intervalMs: 300 });
    await sleep(1000);
    await world.redis.kill("SIGKILL");
    await sleep(10_000);
    await world.redis.restart();
    const restartedAt = Date.now();
    const redisOk = await within(
      async () => (await health(a.url, 2000)).body?.dependencies?.redis?.ok === true && (await health(b.url, 2000)).body?.dependencies?.redis?.ok === true,
      15_000,
    );
    h.extra.redisBackSeconds = redisOk ? Math.round((Date.now() - restartedAt) / 100) / 10 : null;
    const probe = await h.probe(a.url, restartedAt, 10_000);
    await sleep(1500);
    await traffic.stop();
    h.extra.socketsClosed = clients.reduce((n, c) => n + c.disconnects.length, 0);
    const s = await h.check(8000);

    expect.soft(redisOk, "both relays report Redis again").toBe(true);
    expect.soft(s.lost, "acknowledged but not stored").toBe(0);
    expect.soft(s.duplicated, "duplicated").toBe(0);
    expect.soft(s.missing, "stored but not received").toBe(0);
    expect.soft(probe.stranded, "clients not back in their rooms").toEqual([]);
  }, 90_000);
});
