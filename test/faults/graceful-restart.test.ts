// Graceful restart: a relay gets SIGTERM and a new one starts on the same port. Every client
// (socket.io-client with default options, and python-socketio) must be back in its rooms within 5 s
// of the new relay answering /health, and must not have been told "io server disconnect" (which
// tells a socket.io client not to reconnect).
import { beforeAll, describe, expect, it } from "vitest";
import { healthy } from "../helpers/health.js";
import { freePort } from "../helpers/ports.js";
import { sleep } from "../helpers/wait.js";
import { cleanupWorld, startWorld, type World } from "./world.js";

let w: World | undefined;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
cleanupWorld(() => w);

describe("fault: graceful relay restart", () => {
  it("brings every client back into its rooms within 5 s, with nothing lost, duplicated or missing", async () => {
    const world = w!;
    const port = await freePort();
    const first = await world.relay("graceful", { REALTIME_PORT: String(port) });
    const rooms = await world.rooms("graceful", 3);
    const h = world.history("graceful-restart");
    const clients = Array.from({ length: 12 }, (_, i) => h.client(first.url, `g-user-${i}`, [rooms[i % 3], rooms[(i + 1) % 3]]));
    const py = h.python(first.url, "g-python", rooms);
    await Promise.all([...clients.map((c) => c.ready), py.ready]);

    const traffic = h.traffic(clients, { intervalMs: 300 });
    await sleep(1500);
    const stoppedAt = Date.now();
    const code = await first.kill("SIGTERM");
    const second = await world.relay("graceful", { REALTIME_PORT: String(port) });
    const answeredAt = await healthy(second.url);
    const probe = await h.probe(second.url, answeredAt, 15_000);
    await sleep(1000);
    await traffic.stop();
    h.extra.relayExitCode = code;
    h.extra.pythonBack = !probe.stranded.includes(py.name);
    // Back by the server's word (authenticated, listing the rooms), then confirmed by the probe
    // (recoverSeconds: the probe's delivery, which adds a send and a re-join round trip).
    const back = h.backSeconds(stoppedAt, answeredAt);
    h.extra.backInRoomsSeconds = back;
    const s = await h.check();

    expect.soft(s.lost, "acknowledged but not stored").toBe(0);
    expect.soft(s.duplicated, "duplicated").toBe(0);
    expect.soft(s.missing, "stored but not received").toBe(0);
    expect.soft(probe.stranded, "clients not back in their rooms").toEqual([]);
    expect.soft(back ?? Infinity, "seconds from /health until the last client was back in its rooms").toBeLessThanOrEqual(5);
    expect.soft(s.disconnectReasons["io server disconnect"] ?? 0, "clients told io server disconnect").toBe(0);
  }, 90_000);
});
