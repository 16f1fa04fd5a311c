// Scenario 5: SQL-originated broadcast. Several pg connections call realtime_broadcast(...) in
// batches (one transaction per batch); the relay forwards each notification to the socket in the
// room. Forwarded notifications/s at the maximum (bounded backlog) and at the target rate, with
// commit-to-socket latency.
import pg from "pg";
import { DATABASE_URL, QUICK, type Headline, type Scenario } from "../lib/context.js";
import { freshDatabase, seedMemberships } from "../lib/db.js";
import { closeAll, connectAll, type BenchClient } from "../lib/clients.js";
import { startServer } from "../lib/server.js";
import { Samples, epochMs, fmt, ms, now, round, sleep, table } from "../lib/stats.js";

const CONNS = 4;
const BATCH = 100;
const TARGET_RATE = 20_000;
const MAX_TOTAL = QUICK ? 40_000 : 200_000;
const FIXED_MS = QUICK ? 3000 : 8000;
const WINDOW = 20_000; // at most this many sent and not yet received (max phase)
const SQL = `select count(*) filter (where realtime_broadcast('bcast', 'bench', jsonb_build_object('t', $1::float8, 'k', g))) as n
             from generate_series($2::int, $3::int) g`;

interface PhaseResult {
  phase: string;
  sent: number;
  received: number;
  seconds: number;
  forwardedPerSec: number;
  latency: ReturnType<Samples["summary"]>;
  serverCpuPct: number;
  errors: number;
}

export const broadcast: Scenario = {
  name: "broadcast",
  title: "SQL-originated broadcast (realtime_broadcast → relay → socket)",
  async run() {
    await freshDatabase();
    await seedMemberships([["b0", "bcast"]]);
    const server = await startServer("relay", { profileName: "broadcast" });
    let clients: BenchClient[] = [];
    const pools = Array.from({ length: CONNS }, () => new pg.Client({ connectionString: DATABASE_URL, application_name: "realtime-bench-broadcast" }));
    try {
      clients = await connectAll(server.url, [{ userId: "b0", rooms: ["bcast"] }], 10);
      await Promise.all(pools.map((c) => c.connect()));
      let received = 0;
      let latency = new Samples();
      let lastReceive = 0;
      clients[0].socket.on("bench", (p: { t: number }) => {
        received++;
        lastReceive = now();
        latency.add(epochMs() - p.t);
      });
      let key = 0;
      let errors = 0;
      const sendBatch = async (c: pg.Client, n: number) => {
        const from = key + 1;
        key += n;
        try {
          await c.query(SQL, [epochMs(), from, from + n - 1]);
        } catch {
          errors++;
        }
      };

      const phase = async (name: string, drive: (stop: () => boolean, sent: () => number) => Promise<void>, maxMs: number): Promise<PhaseResult> => {
        received = 0;
        latency = new Samples();
        const k0 = key;
        const e0 = errors;
        const s0 = await server.stats();
        const t0 = now();
        const deadline = t0 + maxMs;
        await drive(() => now() >= deadline, () => key - k0);
        const sent = key - k0;
        const drainUntil = now() + 10_000;
        while (received < sent && now() < drainUntil) await sleep(20);
        const s1 = await server.stats();
        const seconds = ((lastReceive || now()) - t0) / 1000;
        return {
          phase: name,
          sent,
          received,
          seconds: round(seconds, 2),
          forwardedPerSec: round(received / seconds, 0),
          latency: latency.summary(),
          serverCpuPct: round((100 * (s1.cpuUserMs + s1.cpuSystemMs - s0.cpuUserMs - s0.cpuSystemMs)) / ((now() - t0) * 1), 0),
          errors: errors - e0,
        };
      };

      // Warm-up.
      await Promise.all(pools.map((c) => sendBatch(c, BATCH)));
      await sleep(1000);

      // Maximum: every connection sends batches back to back while the backlog (sent, not yet
      // received) stays under WINDOW; MAX_TOTAL notifications in all.
      const max = await phase(
        "max (closed loop)",
        async (stop, sent) => {
          await Promise.all(
            pools.map(async (c) => {
              while (!stop() && sent() < MAX_TOTAL) {
                if (sent() - received >= WINDOW) {
                  await sleep(1);
                  continue;
                }
                await sendBatch(c, Math.min(BATCH, MAX_TOTAL - sent()));
              }
            }),
          );
        },
        60_000,
      );
      await sleep(1000);

      // Fixed rate: TARGET_RATE per second in all, paced per connection.
      const fixed = await phase(
        `fixed ${fmt(TARGET_RATE)}/s`,
        async (stop) => {
          const t0 = now();
          const perConn = TARGET_RATE / CONNS;
          await Promise.all(
            pools.map(async (c) => {
              let mine = 0;
              while (!stop()) {
                const due = Math.floor(((now() - t0) / 1000) * perConn) - mine;
                if (due < 1) {
                  await sleep(1);
                  continue;
                }
                const n = Math.min(due, 500);
                mine += n;
                await sendBatch(c, n);
              }
            }),
          );
        },
        FIXED_MS,
      );

      const headlines: Headline[] = [
        {
          metric: "notifications forwarded per second (max)",
          target: `≥ ${fmt(TARGET_RATE)}/s, none lost`,
          unit: "/s",
          relay: max.forwardedPerSec,
          check: (v) => v >= TARGET_RATE && max.received === max.sent,
          note: max.received === max.sent ? undefined : `${fmt(max.sent - max.received)} lost`,
        },
        {
          metric: `delivery latency p99 at ${fmt(TARGET_RATE)}/s`,
          target: "≤ 10 ms",
          unit: "ms",
          relay: fixed.latency.p99,
          check: (v) => v <= 10 && fixed.received === fixed.sent && fixed.forwardedPerSec >= TARGET_RATE * 0.95,
        },
        { metric: `delivery latency p50 at ${fmt(TARGET_RATE)}/s`, target: "(reported)", unit: "ms", relay: fixed.latency.p50 },
      ];
      const detail = table(
        ["phase", "sent", "received", "forwarded/s", "p50", "p99", "max", "relay CPU", "SQL errors"],
        [max, fixed].map((p) => [
          p.phase,
          fmt(p.sent),
          fmt(p.received),
          fmt(p.forwardedPerSec),
          ms(p.latency.p50),
          ms(p.latency.p99),
          ms(p.latency.max),
          `${p.serverCpuPct}%`,
          p.errors,
        ]),
      );
      const markdown = [
        detail,
        "",
        `${CONNS} pg connections run \`select realtime_broadcast('bcast', 'bench', {t, k}) from generate_series(...)\` in batches of up to ${BATCH} (max) /` +
          ` paced batches (fixed), one transaction per batch; one socket in the room receives every event.` +
          ` Latency: the moment the batch was sent (before its transaction commits) → the socket's event, same clock.` +
          ` Max phase: ${fmt(MAX_TOTAL)} notifications with at most ${fmt(WINDOW)} outstanding.`,
      ].join("\n");
      return { markdown, data: { conns: CONNS, batch: BATCH, max, fixed }, headlines };
    } finally {
      await Promise.all(pools.map((c) => c.end().catch(() => {})));
      await server.stop();
      await closeAll(clients);
    }
  },
};
