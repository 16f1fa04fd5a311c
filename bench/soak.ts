// `npm run soak`: a bounded soak of one relay (Redis adapter, event log on, a fresh database) under
// mixed traffic with connection churn. Every SOAK_SAMPLE seconds it records the relay's RSS, heap
// after a forced GC, open file descriptors and active handles, its socket count, and the database's
// rows (connections open and closed, typing, memberships, events, messages, dead tuples). At the end
// it judges "no growth after warm-up" (last third of the run against the second third), writes
// bench/results/soak-<time>.json and .md, and exits 1 when something grew.
//
//   SOAK_MINUTES=10 (default) | SOAK_QUICK=1 (2 minutes, 100 clients) | SOAK_CLIENTS=300 | SOAK_SAMPLE=15
//
// Not part of `npm test`. Traffic stays on 127.0.0.1; every loop is bounded by the run's deadline.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Socket } from "socket.io-client";

// A database of its own, so a soak never drops the bench's (context.ts reads this at import).
process.env.BENCH_DATABASE ??= "realtime_soak";
const { RESULTS_DIR, ROOT_DIR } = await import("./lib/context.js");
const { dropDatabase, freshDatabase, seedMemberships, withClient } = await import("./lib/db.js");
const { openLibraryClient: openClient } = await import("./lib/clients.js");
const { startServer } = await import("./lib/server.js");
const { paced } = await import("./lib/pace.js");
const { fmt, round, sleep, table } = await import("./lib/stats.js");

const QUICK = process.env.SOAK_QUICK === "1" || process.env.SOAK_QUICK === "true";
const MINUTES = Number(process.env.SOAK_MINUTES ?? (QUICK ? 2 : 10));
const TARGET = Number(process.env.SOAK_CLIENTS ?? (QUICK ? 100 : 300));
const SAMPLE_SEC = Number(process.env.SOAK_SAMPLE ?? (QUICK ? 5 : 15));
const USERS = Math.ceil(TARGET * 1.25); // fewer users than sockets at times: some users have two tabs
const ROOMS = Math.max(5, Math.round(TARGET / 10));
const ROOMS_PER_USER = 3;
const REDIS_URL = process.env.SOAK_REDIS_URL ?? "redis://127.0.0.1:6379";
const VANISH_HOLD_MS = 120_000; // a vanished client's TCP socket is really closed after this long

/** Per-second rates at 300 clients; scaled with the target. */
const scale = TARGET / 300;
const RATES = {
  message: 15 * scale,
  typing: 10 * scale,
  presenceUpdate: 3 * scale,
  presenceGet: 2 * scale,
  swapRoom: 2 * scale,
  ping: 2 * scale,
  close: 1 * scale, // graceful disconnect, replaced by a new client
  reconnect: 1 * scale, // disconnect and come back as the same user with replay
  terminate: 0.5 * scale, // TCP closed without a close frame (a killed process)
  vanish: 0.1 * scale, // nothing more is sent or read: the server must time it out
};

const RELAY_ENV: Record<string, string> = {
  REALTIME_REDIS_URL: REDIS_URL,
  REALTIME_REDIS_PREFIX: `soak-${process.pid}`,
  REALTIME_LOG_EVENTS: "true",
  REALTIME_LOG_EVENT_TYPES: "connect,disconnect,error,join,leave",
  // Production limits, not the bench's lifted ones: an empty value is unset, so the relay's own
  // defaults apply. The soak's clients stay well under them.
  REALTIME_RATE_LIMIT: "",
  REALTIME_RATE_BURST: "",
  REALTIME_PRESENCE_RATE_LIMIT: "",
  REALTIME_TYPING_RATE_LIMIT: "",
  REALTIME_TYPING_THROTTLE: "",
  // A short heartbeat runs the sweeps (touch, stale cleanup, typing expiry) many times per run.
  REALTIME_PRESENCE_HEARTBEAT: "5000",
  REALTIME_NODE_ID: "soak-relay",
  LOG_LEVEL: "warn",
};

interface Client {
  n: number;
  userId: string;
  socket: Socket;
  rooms: Set<string>;
  connected: boolean;
  ready: boolean; // authenticated and its rooms topped up
  gone: boolean; // closed by us (any way)
}

const counters = {
  opened: 0,
  connectErrors: 0,
  closedGraceful: 0,
  reconnects: 0,
  terminated: 0,
  vanished: 0,
  vanishFallback: 0,
  serverDisconnects: {} as Record<string, number>,
  acks: {} as Record<string, { ok: number; failed: number; timeout: number }>,
  errorCodes: {} as Record<string, number>,
  received: { "message:new": 0, "typing:event": 0, "presence:changed": 0, "user:joined": 0, "user:left": 0 } as Record<string, number>,
  replays: 0,
  replayEvents: 0,
  replayGaps: 0,
};
const connectErrorSamples = new Set<string>();

const clients = new Set<Client>();
const vanishedSockets: { destroy: () => void; at: number }[] = [];
const lastIdByUser = new Map<string, Map<string, number>>();
// Memberships belong to the user, not the socket: a user's tabs share one set.
const roomsByUser = new Map<string, Set<string>>();
let nextN = 0;
let pendingOpens = 0;
let stopping = false;

const roomName = (i: number) => `soak-${i}`;
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)];
const liveClients = () => [...clients].filter((c) => c.ready && c.connected && !c.gone);
const bump = (rec: Record<string, number>, key: string) => (rec[key] = (rec[key] ?? 0) + 1);

async function call(c: Client, event: string, payload: unknown): Promise<any> {
  const rec = (counters.acks[event] ??= { ok: 0, failed: 0, timeout: 0 });
  try {
    const res = await c.socket.timeout(15_000).emitWithAck(event, payload);
    if (res?.ok) rec.ok++;
    else {
      rec.failed++;
      bump(counters.errorCodes, `${event}:${res?.error?.code ?? "?"}`);
    }
    return res;
  } catch {
    // A socket we closed meanwhile is not a timeout of the server.
    if (!c.gone && c.connected) rec.timeout++;
    return undefined;
  }
}

function open(userId: string): void {
  const socket = openClient(relayUrl, { userId, rooms: [] });
  if (!roomsByUser.has(userId)) roomsByUser.set(userId, new Set());
  const c: Client = { n: nextN++, userId, socket, rooms: roomsByUser.get(userId)!, connected: false, ready: false, gone: false };
  clients.add(c);
  pendingOpens++;
  let settled = false;
  const settle = () => {
    if (!settled) pendingOpens--;
    settled = true;
  };
  socket.once("connect", () => {
    settle();
    c.connected = true;
    counters.opened++;
  });
  socket.once("connect_error", (err: Error) => {
    settle();
    counters.connectErrors++;
    if (connectErrorSamples.size < 5) connectErrorSamples.add(err.message);
    c.gone = true;
    clients.delete(c);
    socket.close();
  });
  socket.on("disconnect", (reason: string) => {
    c.connected = false;
    if (!c.gone) {
      // The server (or the transport) ended it, not us: count why.
      bump(counters.serverDisconnects, reason);
      c.gone = true;
    }
    clients.delete(c);
  });
  socket.on("error", (e: { code?: string }) => bump(counters.errorCodes, `event:${e?.code ?? "?"}`));
  for (const name of Object.keys(counters.received)) socket.on(name, () => counters.received[name]++);
  socket.on("message:new", (m: { id?: number; roomName?: string }) => {
    if (typeof m?.id === "number" && m.roomName) {
      const ids = lastIdByUser.get(userId) ?? new Map<string, number>();
      ids.set(m.roomName, Math.max(ids.get(m.roomName) ?? 0, m.id));
      lastIdByUser.set(userId, ids);
    }
  });
  socket.once("authenticated", async (a: { rooms?: string[] }) => {
    for (const r of a?.rooms ?? []) c.rooms.add(r);
    // Back after a reconnect: replay what was missed in the rooms it still has.
    const ids = lastIdByUser.get(userId);
    for (const r of [...c.rooms]) {
      const since = ids?.get(r);
      if (since === undefined) continue;
      const res = await call(c, "room:join", { roomName: r, since });
      const replay = res?.data?.replay;
      if (replay) {
        counters.replays++;
        counters.replayEvents += replay.events?.length ?? 0;
        if (replay.gap) counters.replayGaps++;
      }
    }
    // Keep every user at ROOMS_PER_USER rooms so active memberships stay stationary.
    while (c.rooms.size < ROOMS_PER_USER && !c.gone) {
      const r = roomName(Math.floor(Math.random() * ROOMS));
      if (c.rooms.has(r)) continue;
      c.rooms.add(r);
      await call(c, "room:join", { roomName: r });
    }
    c.ready = true;
  });
}

/** A random user with fewer than two open sockets (the per-user cap is far above this). */
function randomUser(): string {
  const perUser = new Map<string, number>();
  for (const c of clients) perUser.set(c.userId, (perUser.get(c.userId) ?? 0) + 1);
  for (let i = 0; i < 20; i++) {
    const u = `su${Math.floor(Math.random() * USERS)}`;
    if ((perUser.get(u) ?? 0) < 2) return u;
  }
  return `su${Math.floor(Math.random() * USERS)}`;
}

/** The client's websocket TCP socket (engine.io-client over `ws` in Node). */
function rawSocket(c: Client): any {
  return (c.socket.io as any).engine?.transport?.ws?._socket;
}

const actions: Record<keyof typeof RATES, () => void> = {
  message() {
    const c = pick(liveClients());
    if (!c || c.rooms.size === 0) return;
    void call(c, "message:send", { roomName: pick([...c.rooms]), content: `soak ${Date.now()} ${"x".repeat(Math.floor(Math.random() * 200))}` });
  },
  typing() {
    const c = pick(liveClients());
    if (!c || c.rooms.size === 0) return;
    const roomName = pick([...c.rooms]);
    void call(c, "typing:start", { roomName });
    // One in five never sends stop: the indicator must expire on its own.
    if (Math.random() < 0.8) setTimeout(() => !c.gone && c.connected && void call(c, "typing:stop", { roomName }), 300 + Math.random() * 1700);
  },
  presenceUpdate() {
    const c = pick(liveClients());
    if (!c) return;
    const status = pick(["online", "away", "busy", "online"]);
    const customStatus = Math.random() < 0.3 ? { text: `soak ${Math.floor(Math.random() * 100)}`, emoji: "🧪" } : null;
    void call(c, "presence:update", { status, customStatus });
  },
  presenceGet() {
    const c = pick(liveClients());
    if (!c) return;
    void call(c, "presence:get", { userIds: Array.from({ length: 10 }, () => `su${Math.floor(Math.random() * USERS)}`) });
  },
  swapRoom() {
    const c = pick(liveClients());
    if (!c || c.rooms.size === 0) return;
    const out = pick([...c.rooms]);
    const into = roomName(Math.floor(Math.random() * ROOMS));
    if (c.rooms.has(into)) return;
    c.rooms.delete(out);
    c.rooms.add(into);
    void call(c, "room:leave", { roomName: out }).then(() => call(c, "room:join", { roomName: into }));
  },
  ping() {
    const c = pick(liveClients());
    if (c) void call(c, "ping", {});
  },
  close() {
    const c = pick(liveClients());
    if (!c) return;
    c.gone = true;
    counters.closedGraceful++;
    c.socket.disconnect();
  },
  reconnect() {
    const c = pick(liveClients());
    if (!c) return;
    c.gone = true;
    counters.reconnects++;
    c.socket.disconnect();
    setTimeout(() => !stopping && open(c.userId), 200 + Math.random() * 2000);
  },
  terminate() {
    const c = pick(liveClients());
    if (!c) return;
    c.gone = true;
    counters.terminated++;
    const raw = rawSocket(c);
    if (raw) raw.destroy(); // FIN without a websocket close frame, as when the process dies
    else c.socket.disconnect();
  },
  vanish() {
    const c = pick(liveClients());
    if (!c) return;
    c.gone = true;
    const raw = rawSocket(c);
    if (!raw) {
      counters.vanishFallback++;
      c.socket.disconnect();
      return;
    }
    counters.vanished++;
    // A network black hole: the TCP connection stays open but nothing is read or written any
    // more (the client's own ping timeout and close handshake are swallowed), so only the
    // server's ping timeout can end it. Really closed after VANISH_HOLD_MS.
    const destroy = raw.destroy.bind(raw);
    raw.pause();
    raw.write = () => true;
    raw.end = () => raw;
    raw.destroy = () => raw;
    raw.resume = () => raw;
    vanishedSockets.push({ destroy, at: Date.now() });
    c.socket.removeAllListeners();
    clients.delete(c);
  },
};

interface Sample {
  t: number;
  load1: number;
  rssMB: number;
  heapMB: number; // heapUsed after a forced GC (IPC)
  heapScrapeMB: number; // nodejs_heap_size_used_bytes from /metrics (before GC)
  fds: number;
  handles: number;
  sockets: number; // the relay's local connection count
  clients: number; // connected clients in the load generator
  vanishedHeld: number;
  zombies: number; // relay sockets minus connected clients: vanished clients the server has not timed out yet
  health: number;
  connOpen: number;
  connClosed: number;
  connOpenMinusSockets: number;
  typing: number;
  typingLive: number;
  membersActive: number;
  membersTotal: number;
  presence: number;
  events: number;
  messages: number;
  deadTuples: Record<string, number>;
  liveTuples: Record<string, number>;
  eluPct: number;
  lagP99Ms: number;
}

function metricValue(text: string, name: string, labels?: string): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (labels ? rest.startsWith(`{${labels}}`) : rest.startsWith(" ") || rest.startsWith("{")) {
      const v = Number(line.trim().split(/\s+/).pop());
      if (Number.isFinite(v)) return v;
    }
  }
  return NaN;
}

let relayUrl = "";
let autovacuum = "?";

async function sample(server: Awaited<ReturnType<typeof startServer>>, t0: number): Promise<Sample> {
  const [stats, metricsText, health] = await Promise.all([
    server.stats(true),
    fetch(`${relayUrl}/metrics`).then((r) => r.text()),
    fetch(`${relayUrl}/health`).then((r) => r.status).catch(() => 0),
  ]);
  const db = await withClient(async (pg) => {
    const rows = (
      await pg.query(`select
        (select count(*) from realtime_connections where disconnected_at is null)::int as conn_open,
        (select count(*) from realtime_connections where disconnected_at is not null)::int as conn_closed,
        (select count(*) from realtime_typing)::int as typing,
        (select count(*) from realtime_typing where expires_at > now())::int as typing_live,
        (select count(*) from realtime_room_members where left_at is null)::int as members_active,
        (select count(*) from realtime_room_members)::int as members_total,
        (select count(*) from realtime_presence)::int as presence,
        (select count(*) from realtime_events)::int as events,
        (select count(*) from realtime_events where type = 'message')::int as messages`)
    ).rows[0];
    await pg.query("select pg_stat_clear_snapshot()");
    const tup = (
      await pg.query(`select relname, n_live_tup::int as live, n_dead_tup::int as dead from pg_stat_user_tables
                      where relname in ('realtime_connections', 'realtime_typing', 'realtime_room_members', 'realtime_events', 'realtime_presence')`)
    ).rows as { relname: string; live: number; dead: number }[];
    return { rows, tup };
  });
  const p = "realtime_";
  const handles = metricValue(metricsText, `${p}nodejs_active_handles_total`);
  return {
    t: round((Date.now() - t0) / 1000, 1),
    load1: round(os.loadavg()[0], 2),
    rssMB: round(stats.rss / 2 ** 20, 1),
    heapMB: round(stats.heapUsed / 2 ** 20, 1),
    heapScrapeMB: round(metricValue(metricsText, `${p}nodejs_heap_size_used_bytes`) / 2 ** 20, 1),
    fds: metricValue(metricsText, `${p}process_open_fds`),
    handles,
    sockets: stats.connections,
    clients: [...clients].filter((c) => c.connected && !c.gone).length,
    vanishedHeld: vanishedSockets.length,
    zombies: stats.connections - [...clients].filter((c) => c.connected && !c.gone).length,
    health,
    connOpen: db.rows.conn_open,
    connClosed: db.rows.conn_closed,
    connOpenMinusSockets: db.rows.conn_open - stats.connections,
    typing: db.rows.typing,
    typingLive: db.rows.typing_live,
    membersActive: db.rows.members_active,
    membersTotal: db.rows.members_total,
    presence: db.rows.presence,
    events: db.rows.events,
    messages: db.rows.messages,
    deadTuples: Object.fromEntries(db.tup.map((r) => [r.relname.replace("realtime_", ""), r.dead])),
    liveTuples: Object.fromEntries(db.tup.map((r) => [r.relname.replace("realtime_", ""), r.live])),
    eluPct: round(stats.elu * 100, 1),
    lagP99Ms: round(stats.loopDelayP99Ms, 1),
  };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Least-squares slope of y over t (per minute). */
function slopePerMin(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = mean(points.map((p) => p[0]));
  const my = mean(points.map((p) => p[1]));
  let num = 0;
  let den = 0;
  for (const [t, y] of points) {
    num += (t - mt) * (y - my);
    den += (t - mt) ** 2;
  }
  return den === 0 ? NaN : (num / den) * 60;
}

interface Judgement {
  metric: string;
  mid: number;
  last: number;
  growth: number;
  growthPct: number;
  tolerance: string;
  slopePerMin: number;
  ok: boolean;
}

/**
 * "No growth after warm-up": the mean of the last third of the samples against the mean of the
 * second third. A metric passes when it grew by at most `pct` percent or by at most `abs` units
 * (small counts move by a few units with churn alone).
 */
function judge(samples: Sample[], durationSec: number): Judgement[] {
  const mid = samples.filter((s) => s.t >= durationSec / 3 && s.t < (2 * durationSec) / 3);
  const last = samples.filter((s) => s.t >= (2 * durationSec) / 3);
  const after = samples.filter((s) => s.t >= durationSec / 3);
  const rules: [string, (s: Sample) => number, number, number][] = [
    ["RSS (MB)", (s) => s.rssMB, 10, 8],
    ["heap after GC (MB)", (s) => s.heapMB, 10, 2],
    ["open fds", (s) => s.fds, 10, 20],
    ["active handles", (s) => s.handles, 10, 20],
    ["relay sockets", (s) => s.sockets, 10, 20],
    ["zombies (vanished, not timed out yet)", (s) => s.zombies, 0, 10],
    ["open connection rows", (s) => s.connOpen, 10, 20],
    ["open rows − relay sockets", (s) => s.connOpenMinusSockets, 0, 10],
    ["typing rows", (s) => s.typing, 25, 10],
    ["active memberships", (s) => s.membersActive, 10, 20],
  ];
  return rules.map(([metric, f, pct, abs]) => {
    const a = mean(mid.map(f));
    const b = mean(last.map(f));
    const growth = b - a;
    return {
      metric,
      mid: round(a, 1),
      last: round(b, 1),
      growth: round(growth, 1),
      growthPct: round(a === 0 ? NaN : (growth / Math.abs(a)) * 100, 1),
      tolerance: pct > 0 ? `≤ ${pct}% or ≤ ${abs}` : `≤ ${abs}`,
      slopePerMin: round(slopePerMin(after.map((s) => [s.t, f(s)])), 2),
      ok: growth <= abs || (pct > 0 && a > 0 && growth / a <= pct / 100),
    };
  });
}

function rates(samples: Sample[], durationSec: number) {
  const after = samples.filter((s) => s.t >= durationSec / 3);
  const per = (f: (s: Sample) => number) => round(slopePerMin(after.map((s) => [s.t, f(s)])), 1);
  return {
    eventsPerMin: per((s) => s.events),
    messagesPerMin: per((s) => s.messages),
    closedConnectionRowsPerMin: per((s) => s.connClosed),
    membershipRowsPerMin: per((s) => s.membersTotal),
  };
}

/** What relay code ran: the commit, and whether the working tree had changes under relay/ or functions/. */
function source(): string {
  const git = (args: string[]) => spawnSync("git", args, { cwd: ROOT_DIR, encoding: "utf8" }).stdout?.trim() ?? "";
  const dirty = git(["status", "--porcelain", "--", "relay", "functions"]).split("\n").filter(Boolean).length;
  return `commit ${git(["rev-parse", "--short", "HEAD"]) || "?"}${dirty ? ` plus uncommitted changes in ${dirty} file(s) under relay/ and functions/` : ""}`;
}

async function main(): Promise<void> {
  const durationSec = Math.round(MINUTES * 60);
  const startedAt = new Date();
  console.log(
    `soak: ${MINUTES} min, ${TARGET} clients (${USERS} users, ${ROOMS} rooms, ${ROOMS_PER_USER} rooms each), sample every ${SAMPLE_SEC} s; ` +
      `load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
  );
  await freshDatabase();
  // Every user starts with ROOMS_PER_USER memberships, so active memberships are stationary from
  // the start (a swap is a leave plus a join) instead of growing as new users first connect.
  const pairs: [string, string][] = [];
  for (let u = 0; u < USERS; u++) {
    const mine = new Set<number>();
    while (mine.size < ROOMS_PER_USER) mine.add(Math.floor(Math.random() * ROOMS));
    for (const r of mine) pairs.push([`su${u}`, roomName(r)]);
  }
  await seedMemberships(pairs);
  // Dead-tuple counts only mean something next to the cluster's autovacuum setting.
  autovacuum = await withClient(async (c) => String((await c.query("show autovacuum")).rows[0].autovacuum));
  const server = await startServer("relay", { env: RELAY_ENV });
  relayUrl = server.url;
  const samples: Sample[] = [];
  let drain: Sample | undefined;
  let failure: string | undefined;
  const t0 = Date.now();
  const deadline = t0 + durationSec * 1000;
  const pacers: { stop(): number }[] = [];
  let topUp: NodeJS.Timeout | undefined;
  try {
    // Keep the population at TARGET: new clients replace the ones that left, at most 20 per tick.
    topUp = setInterval(() => {
      if (stopping) return;
      const missing = TARGET - clients.size;
      for (let i = 0; i < Math.min(20, missing) && pendingOpens < 50; i++) open(randomUser());
      // Vanished sockets are closed for real after VANISH_HOLD_MS, so the load generator stays bounded.
      while (vanishedSockets.length && Date.now() - vanishedSockets[0].at > VANISH_HOLD_MS) vanishedSockets.shift()!.destroy();
    }, 100);
    // Let the population form before the traffic starts.
    for (let i = 0; i < 300 && liveClients().length < TARGET * 0.9; i++) await sleep(100);
    for (const [name, rate] of Object.entries(RATES)) pacers.push(paced(rate, actions[name as keyof typeof RATES], 50));

    let nextSample = Date.now();
    while (Date.now() < deadline) {
      if (Date.now() >= nextSample) {
        const s = await sample(server, t0);
        samples.push(s);
        nextSample += SAMPLE_SEC * 1000;
        console.log(
          `t=${String(s.t).padStart(5)}s rss ${s.rssMB} MB heap ${s.heapMB} MB fds ${s.fds} handles ${s.handles} sockets ${s.sockets} ` +
            `rows: open ${s.connOpen} closed ${s.connClosed} typing ${s.typing} members ${s.membersActive}/${s.membersTotal} events ${s.events} (msgs ${s.messages}) load ${s.load1}`,
        );
        if (s.health !== 200) console.log(`  /health answered ${s.health}`);
      }
      await sleep(Math.max(10, Math.min(500, nextSample - Date.now())));
    }
    // The last sample at the deadline, then a drain: every client leaves, the vanished sockets too,
    // and after the presence grace and a typing timeout nothing may be left open.
    samples.push(await sample(server, t0));
    stopping = true;
    for (const p of pacers) p.stop();
    clearInterval(topUp);
    for (const c of [...clients]) {
      c.gone = true;
      c.socket.disconnect();
    }
    for (const v of vanishedSockets.splice(0)) v.destroy();
    await sleep(10_000);
    drain = await sample(server, t0);
    console.log(`drain: sockets ${drain.sockets}, open rows ${drain.connOpen}, live typing ${drain.typingLive}, fds ${drain.fds}, handles ${drain.handles}`);
  } catch (err) {
    failure = (err as Error).stack ?? String(err);
    console.error(`soak failed: ${failure}`);
  } finally {
    stopping = true;
    for (const p of pacers) p.stop();
    if (topUp) clearInterval(topUp);
    for (const c of [...clients]) c.socket.disconnect();
    for (const v of vanishedSockets.splice(0)) v.destroy();
    await server.stop();
    await dropDatabase().catch(() => {});
  }

  const actualSec = samples.length ? samples[samples.length - 1].t : 0;
  const verdicts = judge(samples, actualSec);
  const drainOk = !!drain && drain.sockets === 0 && drain.connOpen === 0 && drain.typingLive === 0;
  const pass = !failure && samples.length >= 6 && verdicts.every((v) => v.ok) && drainOk;
  const r = rates(samples, actualSec);
  const markdown = report({ startedAt, actualSec, samples, verdicts, drain, drainOk, pass, r, failure });
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-").replace(/-\d+Z$/, "Z");
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const base = path.join(RESULTS_DIR, `soak-${stamp}${QUICK ? "-quick" : ""}`);
  fs.writeFileSync(
    `${base}.json`,
    JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        minutes: MINUTES,
        quick: QUICK,
        clients: TARGET,
        users: USERS,
        rooms: ROOMS,
        sampleSec: SAMPLE_SEC,
        rates: RATES,
        relayEnv: RELAY_ENV,
        source: source(),
        autovacuum,
        machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGB: round(os.totalmem() / 2 ** 30, 1), node: process.version },
        counters,
        connectErrorSamples: [...connectErrorSamples],
        samples,
        drain,
        verdicts,
        rowRates: r,
        pass,
        failure,
      },
      null,
      2,
    ) + "\n",
  );
  fs.writeFileSync(`${base}.md`, markdown);
  console.log("\n" + markdown);
  console.log(`written ${path.relative(ROOT_DIR, base)}.json and .md`);
  process.exit(pass ? 0 : 1);
}

function report(o: {
  startedAt: Date;
  actualSec: number;
  samples: Sample[];
  verdicts: Judgement[];
  drain?: Sample;
  drainOk: boolean;
  pass: boolean;
  r: ReturnType<typeof rates>;
  failure?: string;
}): string {
  const loads = o.samples.map((s) => s.load1);
  const acks = Object.entries(counters.acks)
    .map(([e, v]) => `${e} ${v.ok}/${v.ok + v.failed + v.timeout}${v.timeout ? ` (${v.timeout} timed out)` : ""}`)
    .join(", ");
  const lines = [
    `# Soak ${o.startedAt.toISOString()}${QUICK ? " (quick)" : ""}`,
    "",
    `${fmt(o.actualSec / 60, 1)} minutes, ${TARGET} clients kept connected (${USERS} users, ${ROOMS} public rooms, ${ROOMS_PER_USER} rooms per user), ` +
      `one relay with the Redis adapter and the event log on (${RELAY_ENV.REALTIME_LOG_EVENT_TYPES}), heartbeat ${RELAY_ENV.REALTIME_PRESENCE_HEARTBEAT} ms, the relay's default rate limits and typing throttle. ` +
      `Machine: ${os.cpus().length} cores, ${round(os.totalmem() / 2 ** 30, 0)} GB, Node ${process.version}; ` +
      `shared with other work during the run (1-minute load average ${fmt(Math.min(...loads), 2)} to ${fmt(Math.max(...loads), 2)}). ` +
      `The relay is pinned to CPU 0, the load generator and PostgreSQL are not. Relay source: ${source()}.`,
    "",
    `Traffic per second: ${Object.entries(RATES)
      .map(([k, v]) => `${k} ${fmt(v, 1)}`)
      .join(", ")}.`,
    `Totals: ${counters.opened} connects (${counters.connectErrors} refused${connectErrorSamples.size ? `: ${[...connectErrorSamples].join("; ")}` : ""}), ` +
      `${counters.closedGraceful} graceful closes, ${counters.reconnects} reconnects (${counters.replays} replays, ${counters.replayEvents} events replayed, ${counters.replayGaps} gaps), ` +
      `${counters.terminated} TCP kills, ${counters.vanished} vanished (${counters.vanishFallback} fell back to a close); ` +
      `server-side disconnects ${JSON.stringify(counters.serverDisconnects)}; received ${JSON.stringify(counters.received)}.`,
    `Acknowledged ok/sent: ${acks}. Error codes: ${JSON.stringify(counters.errorCodes)}.`,
    "",
    "## Samples",
    "",
    table(
      ["t (s)", "RSS MB", "heap MB", "fds", "handles", "sockets", "zombies", "conn open", "conn closed", "open−sockets", "typing", "members active/total", "events", "messages", "dead tuples conn/typing/members", "ELU %", "load"],
      o.samples.map((s) => [
        s.t,
        fmt(s.rssMB, 1),
        fmt(s.heapMB, 1),
        s.fds,
        s.handles,
        s.sockets,
        s.zombies,
        s.connOpen,
        s.connClosed,
        s.connOpenMinusSockets,
        s.typing,
        `${s.membersActive}/${s.membersTotal}`,
        s.events,
        s.messages,
        `${s.deadTuples.connections ?? "?"}/${s.deadTuples.typing ?? "?"}/${s.deadTuples.room_members ?? "?"}`,
        fmt(s.eluPct, 0),
        fmt(s.load1, 2),
      ]),
    ),
    "",
    "## Verdict: no growth after warm-up",
    "",
    "Warm-up is the first third of the run; the mean of the last third is compared with the mean of the second third. " +
      "The slope is a least-squares fit over both (per minute). Heap is measured after a forced GC. " +
      "Zombies are vanished clients (no FIN, no pong) the server still holds; its ping timeout (25 s + 20 s) must keep them bounded.",
    "",
    table(
      ["metric", "2nd third", "last third", "growth", "tolerance", "slope/min", "result"],
      o.verdicts.map((v) => [v.metric, fmt(v.mid, 1), fmt(v.last, 1), `${v.growth >= 0 ? "+" : ""}${fmt(v.growth, 1)}${Number.isNaN(v.growthPct) ? "" : ` (${fmt(v.growthPct, 1)}%)`}`, v.tolerance, fmt(v.slopePerMin, 2), v.ok ? "ok" : "GREW"]),
    ),
    "",
    `Rows that grow by design (reported as rates after warm-up, not judged): events ${fmt(o.r.eventsPerMin, 0)}/min ` +
      `(messages ${fmt(o.r.messagesPerMin, 0)}/min; pruned by REALTIME_EVENT_RETENTION), closed connection rows ${fmt(o.r.closedConnectionRowsPerMin, 0)}/min ` +
      `(kept one day, then deleted by the stale-connection sweep), membership history rows ${fmt(o.r.membershipRowsPerMin, 0)}/min (a leave keeps its row with left_at). ` +
      `Dead tuples are reported, not judged: autovacuum is ${autovacuum} on this cluster.`,
    "",
    o.drain
      ? `Drain (every client gone, 10 s later): relay sockets ${o.drain.sockets}, open connection rows ${o.drain.connOpen}, live typing rows ${o.drain.typingLive}, ` +
        `fds ${o.drain.fds}, handles ${o.drain.handles}, RSS ${fmt(o.drain.rssMB, 1)} MB, heap ${fmt(o.drain.heapMB, 1)} MB: ${o.drainOk ? "ok" : "NOT EMPTY"}.`
      : "Drain: not reached.",
    "",
    o.failure ? `Failure: ${o.failure.split("\n")[0]}` : "",
    `**${o.pass ? "PASS" : "FAIL"}**: ${o.pass ? "nothing grew after warm-up and everything was released at the end." : "see the rows marked GREW / the drain line above."}`,
    "",
  ];
  return lines.join("\n");
}

await main();
