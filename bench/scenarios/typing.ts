// Scenario 3: typing:start → typing:event latency at a steady rate with thousands of connections,
// silent refreshes, and what each typing event costs the database (transactions, row writes, WAL).
import { QUICK, type Scenario } from "../lib/context.js";
import { counterDelta, freshDatabase, pgCounters, seedMemberships, withClient, type CounterDelta } from "../lib/db.js";
import { closeAll, connectAll, type BenchClient } from "../lib/clients.js";
import { startServer } from "../lib/server.js";
import { paced } from "../lib/pace.js";
import { Samples, bytes, fmt, ms, now, round, sleep, status, table, targetTable, type TargetRow } from "../lib/stats.js";

const CONNECTIONS = QUICK ? 1000 : 5000;
const ROOM_SIZE = 10;
const RATE = 1000; // typing:start per second
const TYPING_MS = 300; // each start is followed by a stop after this long
const PHASE_MS = QUICK ? 3000 : 10_000;
const REFRESHERS = Math.min(1000, CONNECTIONS);

interface Cost {
  seconds: number;
  xacts: number;
  rowWrites: number;
  walBytes: number;
  walRecords: number;
  tables: CounterDelta["tables"];
}

function net(d: CounterDelta, idle: CounterDelta): Cost {
  const f = d.seconds / idle.seconds;
  return {
    seconds: round(d.seconds, 1),
    xacts: round(d.xactCommit - idle.xactCommit * f, 0),
    rowWrites: round(d.rowWrites - idle.rowWrites * f, 0),
    walBytes: round(d.walBytes - idle.walBytes * f, 0),
    walRecords: round(d.walRecords - idle.walRecords * f, 0),
    tables: d.tables,
  };
}

export const typing: Scenario = {
  name: "typing",
  title: "Typing indicators (latency, silent refreshes, database cost)",
  async run() {
    const specs = Array.from({ length: CONNECTIONS }, (_, i) => ({ userId: `t${i}`, rooms: [`tr${Math.floor(i / ROOM_SIZE)}`] }));
    await freshDatabase();
    await seedMemberships(specs.map((s) => [s.userId, s.rooms[0]] as [string, string]));
    const server = await startServer("relay", { maxConnections: CONNECTIONS + 100, profileName: "typing" });
    let clients: BenchClient[] = [];
    try {
      console.log(`connecting ${CONNECTIONS} clients (rooms of ${ROOM_SIZE})`);
      clients = await connectAll(server.url, specs, 500);
      let events = 0;
      const pending = new Map<BenchClient, number>();
      const latency = new Samples();
      for (const c of clients) {
        c.socket.on("typing:event", (ev: { users?: string[] }) => {
          events++;
          const t = pending.get(c);
          if (t !== undefined && ev.users?.includes(c.userId)) {
            latency.add(now() - t);
            pending.delete(c);
          }
        });
      }
      await sleep(3000);
      return await withClient(async (pgc) => {
        // 1. Idle: what the relay costs with no typing (its tick and heartbeat) and other activity
        // in the cluster (pg_stat_wal is cluster-wide): subtracted from the phases below.
        const i0 = await pgCounters(pgc);
        await sleep(PHASE_MS);
        const i1 = await pgCounters(pgc);
        const idle = counterDelta(i0, i1);

        // 2. Steady typing: RATE starts per second, each a change of the room's typers, each
        // followed by a stop TYPING_MS later (also a change).
        const ack = new Samples();
        let starts = 0;
        let stops = 0;
        let changed = 0;
        let errors = 0;
        let errorSample: string | undefined;
        let next = 0;
        const e0 = events;
        const s0 = await server.stats();
        const t0 = await pgCounters(pgc);
        const pacer = paced(RATE, () => {
          const c = clients[next++ % clients.length];
          const t = now();
          pending.set(c, t);
          starts++;
          c.socket.emit("typing:start", { roomName: c.rooms[0] }, (res: { ok: boolean; data?: { changed?: boolean }; error?: { message: string } }) => {
            ack.add(now() - t);
            if (res?.ok && res.data?.changed) changed++;
            if (!res?.ok) {
              errors++;
              errorSample ??= res?.error?.message;
            }
          });
          setTimeout(() => {
            stops++;
            c.socket.emit("typing:stop", { roomName: c.rooms[0] }, () => {});
          }, TYPING_MS);
        });
        await sleep(PHASE_MS);
        pacer.stop();
        await sleep(TYPING_MS + 1500);
        for (let quietSince = events, until = now() + 15_000; now() < until; ) {
          await sleep(500);
          if (events === quietSince) break;
          quietSince = events;
        }
        await sleep(1200);
        const t1 = await pgCounters(pgc);
        const s1 = await server.stats();
        const typingEvents = events - e0;
        const typingCost = net(counterDelta(t0, t1), idle);
        const unanswered = pending.size;
        pending.clear();

        // 3. Refreshes: REFRESHERS users start typing, then each sends typing:start again once a
        // second (within the 3 s timeout): no typing:event may follow.
        let next2 = 0;
        const refreshers = clients.slice(0, REFRESHERS);
        const warm = paced(RATE, () => {
          const c = refreshers[next2++];
          if (c) c.socket.emit("typing:start", { roomName: c.rooms[0] }, () => {});
        });
        await sleep((REFRESHERS / RATE) * 1000 + 500);
        warm.stop();
        // Wait for quiet: no typing:event for a second (backlog of the previous phase delivered).
        for (let quietSince = events, until = now() + 15_000; now() < until; ) {
          await sleep(1000);
          if (events === quietSince) break;
          quietSince = events;
        }
        await sleep(1200); // statistics of the warm-up flushed (backends report at most once a second)
        const refreshAck = new Samples();
        let refreshes = 0;
        let refreshChanged = 0;
        next2 = 0;
        const e1 = events;
        const r0 = await pgCounters(pgc);
        const pacer2 = paced(RATE, () => {
          const c = refreshers[next2++ % refreshers.length];
          const t = now();
          refreshes++;
          c.socket.emit("typing:start", { roomName: c.rooms[0] }, (res: { ok: boolean; data?: { changed?: boolean } }) => {
            refreshAck.add(now() - t);
            if (res?.data?.changed) refreshChanged++;
          });
        });
        await sleep(PHASE_MS);
        pacer2.stop();
        await sleep(1200);
        const r1 = await pgCounters(pgc);
        const refreshEvents = events - e1;
        const refreshCost = net(counterDelta(r0, r1), idle);
        for (const c of refreshers) c.socket.emit("typing:stop", { roomName: c.rooms[0] });
        await sleep(500);

        const secs = PHASE_MS / 1000;
        const changes = starts + stops;
        const walPerEvent = typingCost.walBytes / changes;
        const walPerRefresh = refreshCost.walBytes / refreshes;
        const rows: TargetRow[] = [
          {
            metric: `typing:start → typing:event p50 (${fmt(CONNECTIONS)} connections, ${fmt(RATE)} starts/s)`,
            target: "≤ 10 ms",
            measured: ms(latency.p(50)),
            status: status(latency.p(50) <= 10),
            note: QUICK ? "BENCH_QUICK: fewer connections" : undefined,
          },
          {
            metric: "typing:start → typing:event p99",
            target: "≤ 50 ms",
            measured: `${ms(latency.p(99))} (max ${ms(latency.max)}, ${fmt(latency.n)} of ${fmt(starts)} measured, ${errors} errors)`,
            status: status(latency.p(99) <= 50 && errors === 0 && unanswered === 0),
          },
          {
            metric: "typing:event broadcasts caused by refreshes",
            target: "0",
            measured: `${refreshEvents} events for ${fmt(refreshes)} refreshes (${refreshChanged} acks said changed)`,
            status: status(refreshEvents === 0 && refreshChanged === 0),
          },
          {
            metric: "WAL per typing event (start or stop, net of idle)",
            target: "near zero (≤ 100 B: a commit record, no row WAL)",
            measured: `${bytes(walPerEvent)}; refresh ${bytes(walPerRefresh)}`,
            status: status(walPerEvent <= 100 && walPerRefresh <= 100),
          },
        ];
        const detail = table(
          ["phase", "events sent", "typing:event received", "acks p50 / p99", "xacts / event", "row writes / event", "WAL B / event", "WAL records / event", "tables written (ins/upd/del)"],
          [
            [
              `idle ${secs} s`,
              "-",
              "-",
              "-",
              `${fmt(idle.xactCommit / idle.seconds)}/s`,
              `${fmt(idle.rowWrites / idle.seconds)}/s`,
              `${bytes(idle.walBytes / idle.seconds)}/s`,
              `${fmt(idle.walRecords / idle.seconds)}/s`,
              Object.entries(idle.tables).map(([k, v]) => `${k} ${v.ins}/${v.upd}/${v.del}`).join(", ") || "-",
            ],
            [
              `typing ${secs} s`,
              `${fmt(starts)} starts + ${fmt(stops)} stops`,
              fmt(typingEvents),
              `${ms(ack.p(50))} / ${ms(ack.p(99))}`,
              fmt(typingCost.xacts / changes, 2),
              fmt(typingCost.rowWrites / changes, 2),
              fmt(walPerEvent, 1),
              fmt(typingCost.walRecords / changes, 2),
              Object.entries(typingCost.tables).map(([k, v]) => `${k} ${v.ins}/${v.upd}/${v.del}`).join(", "),
            ],
            [
              `refresh ${secs} s`,
              `${fmt(refreshes)} refreshes`,
              fmt(refreshEvents),
              `${ms(refreshAck.p(50))} / ${ms(refreshAck.p(99))}`,
              fmt(refreshCost.xacts / refreshes, 2),
              fmt(refreshCost.rowWrites / refreshes, 2),
              fmt(walPerRefresh, 1),
              fmt(refreshCost.walRecords / refreshes, 2),
              Object.entries(refreshCost.tables).map(([k, v]) => `${k} ${v.ins}/${v.upd}/${v.del}`).join(", "),
            ],
          ],
        );
        const markdown = [
          targetTable(rows),
          "",
          detail,
          "",
          `${fmt(CONNECTIONS)} connected clients in rooms of ${ROOM_SIZE}; ${fmt(RATE)} typing:start/s round-robin over the users, each followed by typing:stop after ${TYPING_MS} ms;` +
            ` latency: typing:start sent → the typer's own socket receives a typing:event listing it. Refresh: ${fmt(REFRESHERS)} typing users each send typing:start once a second.` +
            ` Database cost from pg_stat_database / pg_stat_user_tables (this database) and pg_stat_wal (cluster-wide: the idle phase's rate is subtracted);` +
            ` server CPU during typing ${fmt((100 * (s1.cpuUserMs + s1.cpuSystemMs - s0.cpuUserMs - s0.cpuSystemMs)) / ((PHASE_MS + TYPING_MS + 1500) * 1), 0)}%, typing:event socket deliveries ${fmt(typingEvents / secs)}/s.`,
          errorSample ? `typing:start error: ${errorSample}` : "",
        ].join("\n");
        return {
          markdown,
          data: {
            connections: CONNECTIONS,
            rate: RATE,
            latency: latency.summary(),
            ack: ack.summary(),
            refreshAck: refreshAck.summary(),
            starts,
            stops,
            changed,
            errors,
            unanswered,
            typingEvents,
            refreshes,
            refreshEvents,
            refreshChanged,
            idle,
            typingCost,
            refreshCost,
            rows,
          },
        };
      });
    } finally {
      await server.stop();
      await closeAll(clients);
    }
  },
};
