// Scenario 1: authenticated websocket clients (each in 2 rooms) ramped to N at a fixed rate, against
// the relay and then a bare Socket.io server in the same run.
import { QUICK, fdLimit, type Scenario } from "../lib/context.js";
import { freshDatabase, seedMemberships, withClient } from "../lib/db.js";
import { closeAll, ramp, waitAuthenticated, type ClientSpec } from "../lib/clients.js";
import { startServer, type ServerKind } from "../lib/server.js";
import { bytes, fmt, ms, ratio, round, sleep, status, table, targetTable, type TargetRow } from "../lib/stats.js";

const TARGET_N = 20_000;
const RATE = 500;

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
}

function specs(n: number): ClientSpec[] {
  const roomsB = Math.max(1, Math.ceil(n / 100));
  return Array.from({ length: n }, (_, i) => ({ userId: `u${i}`, rooms: [`a${Math.floor(i / 100)}`, `b${i % roomsB}`] }));
}

async function side(kind: ServerKind, n: number): Promise<Side> {
  const list = specs(n);
  if (kind === "relay") {
    await freshDatabase();
    await seedMemberships(list.flatMap((s) => s.rooms.map((r) => [s.userId, r] as [string, string])));
  }
  const server = await startServer(kind, { maxConnections: n + 1000, profileName: "connections" });
  try {
    await sleep(1500);
    const base = await server.stats(true);
    const r = await ramp(server.url, list, RATE, { maxPending: 5000, timeoutMs: (n / RATE) * 2000 + 20_000 });
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

    const rssRatio = ratio(relay.rssPerConn, bare.rssPerConn);
    const rows: TargetRow[] = [
      {
        metric: "concurrent authenticated connections (relay)",
        target: `${fmt(TARGET_N)} on one relay`,
        measured: `${fmt(relay.connected)} held, ${relay.errors} failed, ${fmt(relay.inTwoRooms)} in 2 rooms, ${fmt(relay.dbOpen ?? 0)} open rows in the database`,
        status:
          relay.connected === n && relay.errors === 0 && relay.inTwoRooms === relay.connected
            ? n >= TARGET_N
              ? "met"
              : "capped"
            : "missed",
        note: QUICK ? "BENCH_QUICK: N reduced" : capped,
      },
      {
        metric: "connect rate sustained (relay)",
        target: `${RATE} conn/s`,
        measured: `${fmt(relay.rate)} conn/s over ${relay.seconds} s (bare ${fmt(bare.rate)})`,
        status: status(relay.rate >= RATE * 0.97 && relay.errors === 0),
      },
      {
        metric: "connect latency p99 (relay)",
        target: "≤ 200 ms",
        measured: `p50 ${ms(relay.p50)}, p99 ${ms(relay.p99)}, max ${ms(relay.max)} (bare p50 ${ms(bare.p50)}, p99 ${ms(bare.p99)})`,
        status: status(relay.p99 <= 200),
      },
      {
        metric: "RSS per connection, relay / bare",
        target: "≤ 1.5x",
        measured: `${bytes(relay.rssPerConn)} / ${bytes(bare.rssPerConn)} = ${fmt(rssRatio, 2)}x`,
        status: status(rssRatio <= 1.5),
      },
      {
        metric: "heap per connection, relay / bare",
        target: "(reported)",
        measured: `${bytes(relay.heapPerConn)} / ${bytes(bare.heapPerConn)} = ${fmt(ratio(relay.heapPerConn, bare.heapPerConn), 2)}x`,
        status: "info",
      },
    ];
    const detail = table(
      ["server", "connected", "failed", "rate conn/s", "p50", "p99", "max", "RSS idle → at N", "heap idle → at N", "RSS/conn", "heap/conn", "server CPU s"],
      [relay, bare].map((s) => [
        s.kind,
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
      targetTable(rows),
      "",
      detail,
      "",
      `N = ${fmt(n)} clients opened at ${RATE}/s (open loop), websocket transport, each authenticated with an HS256 JWT and in 2 rooms of 100` +
        ` (relay: restored from memberships in the database; bare: named in the handshake). Memory measured inside each server after a forced GC, before the ramp and at N.`,
      ...errors,
    ].join("\n");
    return { markdown, data: { n, rate: RATE, relay, bare, rows } };
  },
};
