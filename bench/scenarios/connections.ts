// Scenario 1: authenticated websocket clients (each in 2 rooms) ramped to N at a fixed rate, against
// the relay and then a bare Socket.io server in the same run (both tell each user's rooms it came
// online); then the bare server ramped at twice the rate, the load generator's ceiling.
import { performance } from "node:perf_hooks";
import { QUICK, fdLimit, type Headline, type Scenario } from "../lib/context.js";
import { freshDatabase, seedMemberships, withClient } from "../lib/db.js";
import { closeAll, ramp, waitAuthenticated, type ClientSpec } from "../lib/clients.js";
import { startServer, type ServerKind } from "../lib/server.js";
import { bytes, fmt, ms, round, sleep, table } from "../lib/stats.js";

const TARGET_N = 20_000;
const RATE = 500;
const CEILING_N = 10_000;
let ceilingDone = false;

interface Side {
  kind: ServerKind;
  connected: number;
  errors: number;
  errorSamples: string[];
  rate: number;
  seconds: number;
  p50: number;
  p99: number;
  max: number;
  maxPending: number;
  inTwoRooms: number;
  rssBase: number;
  rssAtN: number;
  heapBase: number;
  heapAtN: number;
  rssPerConn: number;
  heapPerConn: number;
  serverCpuSec: number;
  dbOpen?: number;
  generatorElu: number;
}

function specs(n: number): ClientSpec[] {
  const roomsB = Math.max(1, Math.ceil(n / 100));
  return Array.from({ length: n }, (_, i) => ({ userId: `u${i}`, rooms: [`a${Math.floor(i / 100)}`, `b${i % roomsB}`] }));
}

async function side(kind: ServerKind, n: number, rate = RATE): Promise<Side> {
  const list = specs(n);
  if (kind === "relay") {
    await freshDatabase();
    await seedMemberships(list.flatMap((s) => s.rooms.map((r) => [s.userId, r] as [string, string])));
  }
  const server = await startServer(kind, { maxConnections: n + 1000, profileName: "connections" });
  try {
    await sleep(1500);
    const base = await server.stats(true);
    const elu0 = performance.eventLoopUtilization();
    const r = await ramp(server.url, list, rate, { maxPending: 5000, timeoutMs: (n / rate) * 2000 + 20_000 });
    const elu = performance.eventLoopUtilization(elu0);
    await waitAuthenticated(r.clients);
    await sleep(2000);
    const atN = await server.stats(true);
    let dbOpen: number | undefined;
    if (kind === "relay") {
      dbOpen = await withClient(async (c) =>
        Number((await c.query("select count(*)::int as n from realtime_connections where disconnected_at is null")).rows[0].n),
      );
    }
    const inTwoRooms = r.clients.filter((c) => (c.serverRooms ?? []).length === 2).length;
    const out: Side = {
      kind,
      connected: r.connected,
      errors: r.errors,
      errorSamples: r.errorSamples,
      rate: round(r.rate, 1),
      seconds: round(r.seconds, 1),
      p50: round(r.latency.p(50)),
      p99: round(r.latency.p(99)),
      max: round(r.latency.max),
      maxPending: r.maxPending,
      inTwoRooms,
      rssBase: base.rss,
      rssAtN: atN.rss,
      heapBase: base.heapUsed,
      heapAtN: atN.heapUsed,
      rssPerConn: round((atN.rss - base.rss) / Math.max(1, r.connected), 0),
      heapPerConn: round((atN.heapUsed - base.heapUsed) / Math.max(1, r.connected), 0),
      serverCpuSec: round((atN.cpuUserMs + atN.cpuSystemMs - base.cpuUserMs - base.cpuSystemMs) / 1000, 1),
      dbOpen,
      generatorElu: round(elu.utilization, 2),
    };
    // Stop the server first (the relay closes all its rows in one realtime_node_stop call), then
    // drop the client objects.
    await server.stop();
    await closeAll(r.clients);
    return out;
  } finally {
    await server.stop();
  }
}

export const connections: Scenario = {
  name: "connections",
  title: "Connections held (authenticated websocket clients, 2 rooms each)",
  async run() {
    const limit = await fdLimit();
    const wanted = QUICK ? 2_000 : TARGET_N;
    const n = Math.min(wanted, limit - 500);
    const capped = n < wanted ? `capped at ${n} by the open-files limit ${limit}` : undefined;
    console.log(`ramping ${n} clients at ${RATE}/s against the relay, then the bare server${capped ? ` (${capped})` : ""}`);
    const relay = await side("relay", n);
    if (typeof global.gc === "function") global.gc();
    await sleep(2000);
    const bare = await side("bare", n);

    let ceiling: Side | undefined;
    if (!ceilingDone) {
      // The generator's ceiling: the bare server ramped at twice the rate (first run only).
      ceilingDone = true;
      await sleep(2000);
      ceiling = await side("bare", Math.min(n, CEILING_N), 2 * RATE);
    }
    const capNote = QUICK ? "BENCH_QUICK: N reduced" : capped;
    const headlines: Headline[] = [
      {
        metric: "authenticated connections held",
        target: `${fmt(TARGET_N)} on one relay`,
        unit: "count",
        relay: relay.connected,
        bare: bare.connected,
        check: (v) => v === n && relay.errors === 0 && relay.inTwoRooms === relay.connected,
        capped: n < TARGET_N,
        note: capNote,
      },
      { metric: "connects failed", target: "0", unit: "count", relay: relay.errors, bare: bare.errors, check: (v) => v === 0 },
      { metric: "clients in both rooms after authentication", target: "all", unit: "count", relay: relay.inTwoRooms, bare: bare.inTwoRooms, check: (v) => v === n },
      { metric: "connect rate sustained", target: `≥ ${RATE}/s (97%)`, unit: "/s", relay: relay.rate, bare: bare.rate, check: (v) => v >= RATE * 0.97 },
      { metric: "connect latency p50", target: "(reported)", unit: "ms", relay: relay.p50, bare: bare.p50 },
      { metric: "connect latency p99 (presence on)", target: "≤ 200 ms", unit: "ms", relay: relay.p99, bare: bare.p99, check: (v) => v <= 200 },
      {
        metric: "RSS per connection",
        target: "≤ 1.5x bare",
        unit: "B",
        relay: relay.rssPerConn,
        bare: bare.rssPerConn,
        check: (v, b) => b !== undefined && v <= 1.5 * b,
      },
      { metric: "heap per connection", target: "(reported)", unit: "B", relay: relay.heapPerConn, bare: bare.heapPerConn },
    ];
    if (ceiling) {
      headlines.push(
        {
          metric: `load generator: connects/s achieved against bare at ${2 * RATE}/s offered (${fmt(ceiling.connected)} clients)`,
          target: `> ${RATE}/s`,
          unit: "/s",
          relay: ceiling.rate,
          check: (v) => v > RATE,
          note: "first run only; figure in the relay column is the generator's",
        },
        {
          metric: "load generator: event loop busy during that ramp",
          target: "< 100%",
          unit: "%",
          relay: round(ceiling.generatorElu * 100, 0),
          check: (v) => v < 100,
        },
      );
    }
    const detail = table(
      ["server", "connected", "failed", "rate conn/s", "p50", "p99", "max", "RSS idle → at N", "heap idle → at N", "RSS/conn", "heap/conn", "server CPU s"],
      [relay, bare, ...(ceiling ? [ceiling] : [])].map((s) => [
        s === ceiling ? `bare at ${2 * RATE}/s (generator ceiling)` : s.kind,
        fmt(s.connected),
        s.errors,
        fmt(s.rate),
        ms(s.p50),
        ms(s.p99),
        ms(s.max),
        `${fmt(s.rssBase / 2 ** 20, 0)} → ${fmt(s.rssAtN / 2 ** 20, 0)} MB`,
        `${fmt(s.heapBase / 2 ** 20, 0)} → ${fmt(s.heapAtN / 2 ** 20, 0)} MB`,
        bytes(s.rssPerConn),
        bytes(s.heapPerConn),
        fmt(s.serverCpuSec, 1),
      ]),
    );
    const errors = [relay, bare].filter((s) => s.errorSamples.length > 0).map((s) => `${s.kind} connect errors: ${s.errorSamples.join("; ")}`);
    const markdown = [
      detail,
      "",
      `N = ${fmt(n)} clients opened at ${RATE}/s (open loop), websocket transport, each authenticated with an HS256 JWT and in 2 rooms of 100` +
        ` (relay: restored from memberships in the database; bare: named in the handshake). Memory measured inside each server after a forced GC, before the ramp and at N.`,
      ...errors,
    ].join("\n");
    return { markdown, data: { n, rate: RATE, relay, bare, ceiling }, headlines };
  },
};
