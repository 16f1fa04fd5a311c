// One of two relays is killed with SIGKILL. Clients reach the relays through a load balancer (a TCP
// proxy that skips a relay refusing connections), so the dead relay's clients reconnect to the
// other one. Nothing acknowledged is lost and every member gets every stored message.
import { beforeAll, describe, expect, it } from "vitest";
import { type Balancer, startBalancer } from "../helpers/faults.js";
import { sleep } from "../helpers/wait.js";
import { cleanupWorld, startWorld, type World } from "./world.js";

let w: World | undefined;
let balancer: Balancer | undefined;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
cleanupWorld(() => w);

describe("fault: relay killed with SIGKILL", () => {
  it("moves the dead relay's clients to the live one with nothing lost or missing", async () => {
    const world = w!;
    const [a, b] = await Promise.all([world.relay("kill-a"), world.relay("kill-b")]);
    balancer = await startBalancer(() => [a.port, b.port]);
    try {
      const rooms = await world.rooms("kill", 2);
      const h = world.history("relay-sigkill");
      const clients = Array.from({ length: 12 }, (_, i) =>
        h.client(balancer!.url, `k-user-${i}`, i % 3 === 0 ? rooms : [rooms[i % 2]], { transports: ["websocket"] }),
      );
      await Promise.all(clients.map((c) => c.ready));
      const onB = (await Promise.all(clients.map(async (c) => c.socket.id))).length;

      const traffic = h.traffic(clients, { intervalMs: 250 });
      await sleep(1500);
      await b.kill("SIGKILL");
      const killedAt = Date.now();
      const probe = await h.probe(balancer.url, killedAt, 10_000);
      await sleep(1500);
      await traffic.stop();
      const users = clients.map((c) => c.userId);
      h.extra.clientsMoved = clients.filter((c) => c.disconnects.length > 0).length;
      h.extra.offlineForConnected = h.offlineAbout(users, killedAt).length;
      h.extra.sockets = onB;
      const s = await h.check();

      expect.soft(h.extra.clientsMoved, "clients of the killed relay").toBeGreaterThan(0);
      expect.soft(s.lost, "acknowledged but not stored").toBe(0);
      expect.soft(s.duplicated, "duplicated").toBe(0);
      expect.soft(s.missing, "stored but not received").toBe(0);
      expect.soft(probe.stranded, "clients not back in their rooms").toEqual([]);
    } finally {
      await balancer.close();
    }
  }, 90_000);
});
