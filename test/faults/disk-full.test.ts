// Disk full (SQLSTATE 53100), for real: the private cluster's data directory is a 64 MiB tmpfs (its
// write-ahead log stays on the ordinary disk, as on servers with a separate WAL volume), and a file
// fills what is left of it while clients send. Sends must be answered UNAVAILABLE with a message,
// nothing acknowledged may be lost, and service resumes once the file is removed.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { SendRecord } from "../helpers/history.js";
import { sleep, within } from "../helpers/wait.js";
import { cleanupWorld, startWorld, type World } from "./world.js";

let w: World | undefined;
beforeAll(async () => {
  // No checkpoint during the test: with the disk full, some of a checkpoint's writes are PANICs.
  w = await startWorld({ pg: { tmpfsMb: 64, settings: { checkpoint_timeout: "1h", max_wal_size: "1GB" } } });
}, 60_000);
cleanupWorld(() => w);

describe("fault: disk full", () => {
  it("answers UNAVAILABLE while the disk is full, loses nothing acknowledged and resumes when space is freed", async () => {
    const world = w!;
    const relay = await world.relay("disk");
    const rooms = await world.rooms("disk", 2);
    const h = world.history("disk-full");
    const clients = Array.from({ length: 8 }, (_, i) => h.client(relay.url, `x-user-${i}`, i % 3 === 0 ? rooms : [rooms[i % 2]]));
    await Promise.all(clients.map((c) => c.ready));

    const traffic = h.traffic(clients, { intervalMs: 150 });
    await sleep(1000);
    const filler = path.join(world.pg.dataDir, "filler");
    const dd = spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=1M"], { encoding: "utf8" });
    const fullAt = Date.now();
    const free = spawnSync("df", ["--output=avail", "-k", world.pg.dataDir], { encoding: "utf8" }).stdout.trim().split("\n").pop();
    // Until the first refusal (the table's last page had room) and a few seconds more.
    const refusedOnce = await within(() => h.sends.some((s) => s.sentAt >= fullAt && !s.ok && !s.unanswered), 15_000);
    await sleep(3000);
    fs.rmSync(filler, { force: true });
    const freedAt = Date.now();
    const duringFull: SendRecord[] = h.sends.filter((s) => s.sentAt >= fullAt && s.sentAt < freedAt);
    const resumed = await within(() => h.sends.some((s) => s.sentAt >= freedAt && s.ok), 15_000, 50);
    const resumedAt = Date.now();
    const probe = await h.probe(relay.url, freedAt, 10_000);
    await sleep(1000);
    await traffic.stop();

    const refused = duringFull.filter((s) => !s.ok);
    const log = world.pg.log();
    Object.assign(h.extra, {
      ddExit: dd.status,
      freeKbAfterFill: Number(free),
      sendsWhileFull: duringFull.length,
      acknowledgedWhileFull: duringFull.filter((s) => s.ok).length,
      refusedWhileFull: Object.fromEntries(
        [...new Set(refused.map((s) => s.code ?? "NO ANSWER"))].map((c) => [c, refused.filter((s) => (s.code ?? "NO ANSWER") === c).length]),
      ),
      refusalMessage: refused.find((s) => s.message)?.message ?? null,
      serverLogDiskFull: /No space left on device/.test(log),
      serverPanic: /PANIC/.test(log),
      resumeSeconds: resumed ? Math.round((resumedAt - freedAt) / 100) / 10 : null,
    });
    const s = await h.check();

    expect(refusedOnce, "a send was refused once the disk was full (the fault took effect)").toBe(true);
    expect.soft(refused.filter((r) => r.unanswered || r.code !== "UNAVAILABLE").map((r) => r.code ?? "NO ANSWER"), "refusals other than UNAVAILABLE").toEqual([]);
    expect.soft(refused.every((r) => r.unanswered || (r.message ?? "").length > 0), "every refusal has a message").toBe(true);
    expect.soft(h.extra.serverPanic, "the server did not PANIC").toBe(false);
    expect.soft(resumed, "sends succeed again after space is freed").toBe(true);
    expect.soft(s.lost, "acknowledged but not stored").toBe(0);
    expect.soft(s.duplicated, "duplicated").toBe(0);
    expect.soft(s.missing, "stored but not received").toBe(0);
    expect.soft(probe.stranded, "clients not back in their rooms").toEqual([]);
  }, 90_000);
});
