// Scenario 3: typing:start → typing:event latency at a steady rate with thousands of connections
// (relay and bare Socket.io in the same run; then bare at twice the rate, the load generator's
// ceiling), silent refreshes, and what each typing event costs the database (transactions, row
// writes, WAL).
import { performance } from "node:perf_hooks";
import { QUICK, type Headline, type Scenario } from "../lib/context.js";
import { counterDelta, freshDatabase, pgCounters, seedMemberships, withClient, type CounterDelta } from "../lib/db.js";
import { closeAll, connectAll, type BenchClient } from "../lib/clients.js";
import { startServer, type ServerHandle, type ServerKind } from "../lib/server.js";
import { paced } from "../lib/pace.js";
import { Samples, bytes, fmt, ms, now, round, sleep, table } from "../lib/stats.js";

const CONNECTIONS = QUICK ? 1000 : 5000;
const ROOM_SIZE = 10;
const RATE = 1000; // typing:start per second
const TYPING_MS = 300; // each start is followed by a stop after this long
const PHASE_MS = QUICK ? 3000 : 8000;
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

interface Instrumented {
  events: number;
  pending: Map<BenchClient, number>;
  latency: Samples;
}

/** Counts typing:event frames and times each typer's own start (no JSON.parse of the frames). */
function instrument(clients: BenchClient[]): Instrumented {
  const st: Instrumented = { events: 0, pending: new Map(), latency: new Samples() };
  for (const c of clients) {
    const needle = `"${c.userId}"`;
    c.socket.onRaw("typing:event", (f) => {
      st.events++;
      const t = st.pending.get(c);
      if (t !== undefined && f.includes(needle)) {
        st.latency.add(now() - t);
        st.pending.delete(c);
      }
    });
  }
  return st;
}

interface Steady {
  rate: number;
  seconds: number;
  starts: number;
  stops: number;
  startsPerSec: number;
  changed: number;
  errors: Record<string, number>;
  unanswered: number;
  latency: ReturnType<Samples["summary"]>;
  ack: ReturnType<Samples["summary"]>;
  typingEvents: number;
  serverCpuPct: number;
  generatorElu: number;
}

/** rate typing:start/s round-robin over the clients, each followed by typing:stop TYPING_MS later. */
async function steady(server: ServerHandle, clients: BenchClient[], st: Instrumented, rate: number, phaseMs: number): Promise<Steady> {
  st.latency = new Samples();
  st.pending.clear();
  const ack = new Samples();
  const errors: Record<string, number> = {};
  let starts = 0;
  let stops = 0;
  let changed = 0;
  let next = 0;
  const e0 = st.events;
  const s0 = await server.stats();
  const elu0 = performance.eventLoopUtilization();
  const t0 = now();
  const pacer = paced(rate, () => {
    const c = clients[next++ % clients.length];
    const t = now();
    st.pending.set(c, t);
    starts++;
    c.socket.emit("typing:start", { roomName: c.rooms[0] }, (res: { ok: boolean; data?: { changed?: boolean }; error?: { code?: string } }) => {
      ack.add(now() - t);
      if (res?.ok && res.data?.changed) changed++;
      if (!res?.ok) {
        const code = res?.error?.code ?? "malformed answer";
        errors[code] = (errors[code] ?? 0) + 1;
      }
    });
    setTimeout(() => {
      stops++;
      c.socket.emit("typing:stop", { roomName: c.rooms[0] }, () => {});
    }, TYPING_MS);
  });
  await sleep(phaseMs);
  pacer.stop();
  const seconds = (now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  await sleep(TYPING_MS + 1500);
  for (let quietSince = st.events, until = now() + 15_000; now() < until; ) {
    await sleep(500);
    if (st.events === quietSince) break;
    quietSince = st.events;
  }
  const s1 = await server.stats();
  const unanswered = st.pending.size;
  st.pending.clear();
  const wall = (now() - t0) / 1000;
  return {
    rate,
    seconds: round(seconds, 2),
    starts,
    stops,
    startsPerSec: round(starts / seconds, 0),
    changed,
    errors,
    unanswered,
    latency: st.latency.summary(),
    ack: ack.summary(),
    typingEvents: st.events - e0,
    serverCpuPct: round((100 * (s1.cpuUserMs + s1.cpuSystemMs - s0.cpuUserMs - s0.cpuSystemMs)) / (wall * 1000), 0),
    generatorElu: round(elu.utilization, 2),
  };
}

function specs() {
  return Array.from({ length: CONNECTIONS }, (_, i) => ({ userId: `t${i}`, rooms: [`tr${Math.floor(i / ROOM_SIZE)}`] }));
}

interface RelaySide {
  steady: Steady;
  idle: CounterDelta;
  typingCost: Cost;
  refreshCost: Cost;
  refreshes: number;
  refreshEvents: number;
  refreshChanged: number;
  refreshAck: ReturnType<Samples["summary"]>;
}

async function relaySide(): Promise<RelaySide> {
  const list = specs();
  await freshDatabase();
  await seedMemberships(list.map((s) => [s.userId, s.rooms[0]] as [string, string]));
  const server = await startServer("relay", { maxConnections: CONNECTIONS + 100, profileName: "typing" });
  let clients: BenchClient[] = [];
  try {
    console.log(`  relay: connecting ${CONNECTIONS} clients (rooms of ${ROOM_SIZE})`);
    clients = await connectAll(server.url, list, 1000);
    const st = instrument(clients);
    await sleep(2000);
    return await withClient(async (pgc) => {
      // 1. Idle: what the relay costs with no typing (its tick and heartbeat) and other activity
      // in the cluster (pg_stat_wal is cluster-wide): subtracted from the phases below.
      const i0 = await pgCounters(pgc);
      await sleep(PHASE_MS / 2);
      const i1 = await pgCounters(pgc);
      const idle = counterDelta(i0, i1);

      // 2. Steady typing.
      const t0 = await pgCounters(pgc);
      const s = await steady(server, clients, st, RATE, PHASE_MS);
      await sleep(1200); // statistics flushed (backends report at most once a second)
      const t1 = await pgCounters(pgc);
      const typingCost = net(counterDelta(t0, t1), idle);
      console.log(`  relay steady: p50 ${ms(s.latency.p50)} p99 ${ms(s.latency.p99)}, errors ${JSON.stringify(s.errors)}`);

      // 3. Refreshes: REFRESHERS users start typing, round-robin at RATE/s, so each sends
      // typing:start about once a second, well within the typing timeout. The first round makes
      // them typers (changes, broadcast); from the second on every start is a refresh: no
      // typing:event may follow. Measured once the first round's events have arrived, while the rounds go on.
      const refreshers = clients.slice(0, REFRESHERS);
      const refreshAck = new Samples();
      let refreshes = 0;
      let refreshChanged = 0;
      let measuring = false;
      let next = 0;
      const pacer = paced(RATE, () => {
        const c = refreshers[next++ % refreshers.length];
        const t = now();
        const counted = measuring;
        if (counted) refreshes++;
        c.socket.emit("typing:start", { roomName: c.rooms[0] }, (res: { ok: boolean; data?: { changed?: boolean } }) => {
          if (!counted) return;
          refreshAck.add(now() - t);
          if (res?.data?.changed) refreshChanged++;
        });
      });
      await sleep((REFRESHERS / RATE) * 1000 + 1000);
      // The first round's typing:event frames delivered: quiet for half a second (the rounds go on,
      // so no indicator expires while waiting), at most 10 s.
      for (let quietSince = st.events, until = now() + 10_000; now() < until; ) {
        await sleep(500);
        if (st.events === quietSince) break;
        quietSince = st.events;
      }
      measuring = true;
      const e1 = st.events;
      const r0 = await pgCounters(pgc);
      await sleep(PHASE_MS);
      const r1 = await pgCounters(pgc);
      measuring = false;
      const refreshEvents = st.events - e1;
      pacer.stop();
      const refreshCost = net(counterDelta(r0, r1), idle);
      for (const c of refreshers) c.socket.emit("typing:stop", { roomName: c.rooms[0] });
      await sleep(500);
      return { steady: s, idle, typingCost, refreshCost, refreshes, refreshEvents, refreshChanged, refreshAck: refreshAck.summary() };
    });
  } finally {
    await server.stop();
    await closeAll(clients);
  }
}

async function bareSide(): Promise<{ steady: Steady; ceiling: Steady }> {
  const server = await startServer("bare", { maxConnections: CONNECTIONS + 100, profileName: "typing" });
  let clients: BenchClient[] = [];
  try {
    console.log(`  bare: connecting ${CONNECTIONS} clients (rooms of ${ROOM_SIZE})`);
    clients = await connectAll(server.url, specs(), 1000);
    const st = instrument(clients);
    await sleep(1000);
    const s = await steady(server as ServerHandle, clients, st, RATE, PHASE_MS);
    console.log(`  bare steady: p50 ${ms(s.latency.p50)} p99 ${ms(s.latency.p99)}`);
    const ceiling = await steady(server, clients, st, 2 * RATE, PHASE_MS / 2);
    console.log(`  bare at ${2 * RATE}/s (generator ceiling): ${fmt(ceiling.startsPerSec)} starts/s, p99 ${ms(ceiling.latency.p99)}`);
    return { steady: s, ceiling };
  } finally {
    await server.stop();
    await closeAll(clients);
  }
}

export const typing: Scenario = {
  name: "typing",
  title: "Typing indicators (latency against bare, silent refreshes, database cost)",
  async run() {
    const relay = await relaySide();
    await sleep(1000);
    const bare = await bareSide();
    const r = relay.steady;
    const b = bare.steady;
    const changes = r.starts + r.stops;
    const walPerEvent = relay.typingCost.walBytes / changes;
    const walPerRefresh = relay.refreshCost.walBytes / Math.max(1, relay.refreshes);
    const errCount = (s: Steady) => Object.values(s.errors).reduce((a, v) => a + v, 0) + s.unanswered;
    const headlines: Headline[] = [
      {
        metric: `typing:start → typing:event p50 (${fmt(CONNECTIONS)} connections, ${fmt(RATE)} starts/s)`,
        target: "≤ 10 ms",
        unit: "ms",
        relay: r.latency.p50,
        bare: b.latency.p50,
        check: (v) => v <= 10,
        note: QUICK ? "BENCH_QUICK: fewer connections" : undefined,
      },
      {
        metric: "typing:start → typing:event p99",
        target: "≤ 1.5x bare",
        unit: "ms",
        relay: r.latency.p99,
        bare: b.latency.p99,
        check: (v, bb) => bb !== undefined && v <= 1.5 * bb,
      },
      { metric: "typing starts errored or unanswered", target: "0", unit: "count", relay: errCount(r), bare: errCount(b), check: (v) => v === 0 },
      {
        metric: "typing:event frames caused by refreshes",
        target: "0",
        unit: "count",
        relay: relay.refreshEvents + relay.refreshChanged,
        check: (v) => v === 0,
        note: `${fmt(relay.refreshes)} refreshes measured`,
      },
      // pg_stat_wal is cluster-wide: other work on the cluster makes the net figure meaningless (it
      // can even go negative); a negative figure is not counted as met.
      {
        metric: "WAL per typing change (net of idle)",
        target: "≤ 100 B (and ≥ 0: else other WAL on the cluster swamped it)",
        unit: "B",
        relay: round(walPerEvent, 1),
        check: (v) => v >= 0 && v <= 100,
      },
      {
        metric: "WAL per refresh (net of idle)",
        target: "≤ 100 B (and ≥ 0)",
        unit: "B",
        relay: round(walPerRefresh, 1),
        check: (v) => v >= 0 && v <= 100,
      },
      {
        metric: `load generator: starts/s achieved against bare at ${fmt(2 * RATE)}/s offered`,
        target: `≥ 0.95x offered`,
        unit: "/s",
        relay: bare.ceiling.startsPerSec,
        check: (v) => v >= 0.95 * 2 * RATE,
        note: "figure in the relay column is the generator's",
      },
      {
        metric: "load generator: event loop busy at that rate",
        target: "< 100%",
        unit: "%",
        relay: round(bare.ceiling.generatorElu * 100, 0),
        check: (v) => v < 100,
      },
    ];
    const errs = (s: Steady) => Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(", ") || "0";
    const steadyTable = table(
      ["server", "starts/s offered", "achieved", "starts + stops", "typing:event received", "p50", "p99", "max", "measured", "errors", "unanswered", "ack p50 / p99", "server CPU", "generator loop busy"],
      [
        ["relay", r] as const,
        ["bare", b] as const,
        ["bare (generator ceiling)", bare.ceiling] as const,
      ].map(([name, s]) => [
        name,
        fmt(s.rate),
        fmt(s.startsPerSec),
        `${fmt(s.starts)} + ${fmt(s.stops)}`,
        fmt(s.typingEvents),
        ms(s.latency.p50),
        ms(s.latency.p99),
        ms(s.latency.max),
        fmt(s.latency.count),
        errs(s),
        fmt(s.unanswered),
        `${ms(s.ack.p50)} / ${ms(s.ack.p99)}`,
        `${s.serverCpuPct}%`,
        `${Math.round(s.generatorElu * 100)}%`,
      ]),
    );
    const idle = relay.idle;
    const tc = relay.typingCost;
    const rc = relay.refreshCost;
    const costTable = table(
      ["relay phase", "events", "xacts / event", "row writes / event", "WAL B / event", "WAL records / event", "tables written (ins/upd/del)"],
      [
        [
          `idle ${fmt(idle.seconds, 1)} s`,
          "-",
          `${fmt(idle.xactCommit / idle.seconds)}/s`,
          `${fmt(idle.rowWrites / idle.seconds)}/s`,
          `${bytes(idle.walBytes / idle.seconds)}/s`,
          `${fmt(idle.walRecords / idle.seconds)}/s`,
          Object.entries(idle.tables).map(([k, v]) => `${k} ${v.ins}/${v.upd}/${v.del}`).join(", ") || "-",
        ],
        [
          `typing ${fmt(tc.seconds, 1)} s`,
          `${fmt(r.starts)} starts + ${fmt(r.stops)} stops`,
          fmt(tc.xacts / changes, 2),
          fmt(tc.rowWrites / changes, 2),
          fmt(walPerEvent, 1),
          fmt(tc.walRecords / changes, 2),
          Object.entries(tc.tables).map(([k, v]) => `${k} ${v.ins}/${v.upd}/${v.del}`).join(", "),
        ],
        [
          `refresh ${fmt(rc.seconds, 1)} s`,
          `${fmt(relay.refreshes)} refreshes (ack p50 ${ms(relay.refreshAck.p50)}, p99 ${ms(relay.refreshAck.p99)}), ${relay.refreshEvents} typing:event, ${relay.refreshChanged} acks said changed`,
          fmt(rc.xacts / Math.max(1, relay.refreshes), 2),
          fmt(rc.rowWrites / Math.max(1, relay.refreshes), 2),
          fmt(walPerRefresh, 1),
          fmt(rc.walRecords / Math.max(1, relay.refreshes), 2),
          Object.entries(rc.tables).map(([k, v]) => `${k} ${v.ins}/${v.upd}/${v.del}`).join(", "),
        ],
      ],
    );
    const markdown = [
      steadyTable,
      "",
      costTable,
      "",
      `${fmt(CONNECTIONS)} connected clients in rooms of ${ROOM_SIZE}; ${fmt(RATE)} typing:start/s round-robin over the users for ${PHASE_MS / 1000} s, each followed by typing:stop after ${TYPING_MS} ms;` +
        ` latency: typing:start sent → the typer's own socket receives a typing:event listing it. The bare server emits typing:event to the room for both; then it takes ${fmt(2 * RATE)} starts/s for ${PHASE_MS / 2000} s (the generator's ceiling).` +
        ` Refresh (relay): ${fmt(REFRESHERS)} users send typing:start round-robin at ${fmt(RATE)}/s, each about once a second (typing timeout 3 s); the first round makes them typers,` +
        ` the measurement starts once no typing:event has arrived for 0.5 s after it and lasts ${PHASE_MS / 1000} s. Database cost from pg_stat_database / pg_stat_user_tables (this database) and pg_stat_wal (cluster-wide: the idle phase's rate is subtracted).`,
    ].join("\n");
    return { markdown, data: { connections: CONNECTIONS, rate: RATE, relay, bare }, headlines };
  },
};
