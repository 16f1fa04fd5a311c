// A DBA holds `lock table realtime_events in access exclusive mode` (the table messages are stored
// in) for 5 s. Sends during the lock get a prompt coded answer (BUSY or UNAVAILABLE, not a hang);
// the client retries each refused send with the same clientMessageId once the lock is gone, and
// every message ends up stored once, including a retry of a send that had been acknowledged.
import { beforeAll, describe, expect, it } from "vitest";
import type { SendRecord } from "../helpers/history.js";
import { sleep } from "../helpers/wait.js";
import { cleanupWorld, startWorld, type World } from "./world.js";

const LOCK_MS = 5000;
// Prompt: the answer comes well before the lock is released, so no send waits the lock out (a
// send queued behind a batch that is itself waiting may take two lock timeouts).
const PROMPT_MS = 4500;

let w: World | undefined;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
cleanupWorld(() => w);

describe("fault: DBA lock on the messages table", () => {
  it("answers sends promptly with a code, loses nothing and stores each clientMessageId once", async () => {
    const world = w!;
    const relay = await world.relay("lock");
    const rooms = await world.rooms("lock", 2);
    const h = world.history("dba-lock");
    const clients = Array.from({ length: 8 }, (_, i) => h.client(relay.url, `d-user-${i}`, [rooms[i % 2]]));
    await Promise.all(clients.map((c) => c.ready));
    let n = 0;
    const send = (c: (typeof clients)[number], content?: string, cmid?: string) =>
      h.send(c, c.rooms[0], { clientMessageId: cmid ?? `cmid-${c.userId}-${++n}`, content, timeoutMs: 10_000 });

    const before = await Promise.all(clients.map((c) => send(c)));

    const dba = await world.pg.client();
    await dba.query("begin");
    await dba.query("lock table realtime_events in access exclusive mode");
    const lockedAt = Date.now();
    let releasedAt = 0;
    const release = (async () => {
      await sleep(LOCK_MS);
      await dba.query("commit");
      releasedAt = Date.now();
      await dba.end();
    })();
    const during: SendRecord[] = [];
    const senders = clients.map(async (c) => {
      while (Date.now() - lockedAt < LOCK_MS - 1000) {
        during.push(await send(c));
        await sleep(300);
      }
    });
    await Promise.all(senders);
    await release;

    // The client retries whatever was not acknowledged, with the same clientMessageId and content.
    for (const rec of [...during]) {
      if (rec.ok) continue;
      const c = clients.find((x) => x.name === rec.client)!;
      for (let attempt = 0; attempt < 10; attempt++) {
        const retry = await send(c, rec.content, rec.clientMessageId);
        if (retry.ok) break;
        await sleep(300);
      }
    }
    // A retry of a send that was acknowledged (its answer lost, as far as the client knows).
    const again = await send(clients[0], before[0].content, before[0].clientMessageId);
    const probe = await h.probe(relay.url, releasedAt, 10_000);

    const latencies = during.map((r) => (r.answeredAt ?? Date.now()) - r.sentAt);
    const codes = [...new Set(during.filter((r) => !r.ok).map((r) => (r.unanswered ? "NO ANSWER" : r.code)))];
    Object.assign(h.extra, {
      sendsDuringLock: during.length,
      acknowledgedDuringLock: during.filter((r) => r.ok).length,
      slowestAnswerMs: Math.max(...latencies),
      refusalCodes: codes,
      retryOfAcknowledged: { ok: again.ok, sameId: again.id === before[0].id },
    });
    const s = await h.check();

    expect.soft(Math.max(...latencies), "slowest answer while the table was locked (ms)").toBeLessThanOrEqual(PROMPT_MS);
    expect.soft(codes.filter((c) => c !== "BUSY" && c !== "UNAVAILABLE"), "codes other than BUSY and UNAVAILABLE").toEqual([]);
    expect.soft(s.lost, "acknowledged but not stored").toBe(0);
    expect.soft(s.duplicatedStored, "stored twice for one clientMessageId").toBe(0);
    expect.soft(s.duplicated, "duplicated").toBe(0);
    expect.soft(s.missing, "stored but not received").toBe(0);
    expect.soft(again.ok && again.id === before[0].id, "a retried acknowledged send answers the stored message").toBe(true);
    expect.soft(probe.stranded, "clients not back in their rooms").toEqual([]);
  }, 90_000);
});
