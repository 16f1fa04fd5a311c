// Restart storm: 5,000 clients, each in a room of 100, reconnect by themselves after the server
// is stopped (SIGTERM) and a new one starts on the same port. Reconnection like socket.io-client's
// defaults: first delay 1 s, randomisation ±50%, doubling up to 5 s, a 20 s handshake timeout.
// Measured: from the new server listening until every client is authenticated and back in its
// room (relay: authenticated.rooms lists it, restored from memberships in the database; bare: the
// client names its room in the handshake), handshake latency of the reconnect attempts, failed
// attempts. Then the bare server with twice the clients, to show the load generator out-drives
// both.
import { performance } from "node:perf_hooks";
import { QUICK, token, type Headline, type Scenario } from "../lib/context.js";
import { freshDatabase, seedMemberships } from "../lib/db.js";
import { startServer, type ServerHandle, type ServerKind } from "../lib/server.js";
import { Samples, fmt, ms, now, round, sleep, table } from "../lib/stats.js";
import { WireSocket } from "../lib/wire.js";

const CLIENTS = QUICK ? 2000 : 5000;
const ROOM_SIZE = 100;
const CONNECT_RATE = 1000;
const BACKOFF_MIN = 1000;
const BACKOFF_MAX = 5000;
const JITTER = 0.5;
const HANDSHAKE_TIMEOUT_MS = 20_000;
const BACK_DEADLINE_MS = 120_000;
/** The generator's ceiling (bare, twice the clients) runs in the first run of a process only. */
let ceilingDone = false;

/** socket.io-client's backoff: min · 2^attempt, ±jitter, at most max. */
function backoff(attempt: number): number {
  let d = BACKOFF_MIN * 2 ** Math.min(attempt, 16);
  const rand = Math.random();
  const deviation = Math.floor(rand * JITTER * d);
  d = (Math.floor(rand * 10) & 1) === 0 ? d - deviation : d + deviation;
  return Math.min(d, BACKOFF_MAX);
}

interface Client {
  userId: string;
  room: string;
  auth: string;
  socket?: WireSocket;
  attempt: number;
  timer?: NodeJS.Timeout;
  /** Generation of the socket that last authenticated with its room (0: first server). */
  backGen: number;
  backAt: number;
  roomsMissing: boolean;
}

interface Fleet {
  clients: Client[];
  generation: number;
  stopping: boolean;
  /** Handshakes of reconnect attempts that succeeded (generation ≥ 1). */
  handshake: Samples;
  attempts: number;
  failures: Record<string, number>;
  failuresBeforeListen: number;
  failuresAfterListen: number;
  listening: boolean;
}

function connect(url: string, f: Fleet, c: Client): void {
  const gen = f.generation;
  const began = now();
  if (gen > 0) f.attempts++;
  const s = new WireSocket(url, c.auth);
  c.socket = s;
  let done = false;
  const fail = (reason: string) => {
    if (done || gen === 0) return;
    done = true;
    f.failures[reason] = (f.failures[reason] ?? 0) + 1;
    if (f.listening) f.failuresAfterListen++;
    else f.failuresBeforeListen++;
  };
  const timeout = setTimeout(() => {
    fail("handshake timeout");
    s.terminate();
  }, HANDSHAKE_TIMEOUT_MS);
  s.once("authenticated", (a: { rooms?: string[] }) => {
    clearTimeout(timeout);
    done = true;
    c.attempt = 0;
    const inRoom = Array.isArray(a?.rooms) && a.rooms.includes(c.room);
    c.roomsMissing = !inRoom;
    if (inRoom) {
      c.backGen = gen;
      c.backAt = now();
      if (gen > 0) f.handshake.add(c.backAt - began);
    }
  });
  s.handshake(
    () => {},
    (err) => {
      clearTimeout(timeout);
      const code = err.data?.code ?? (/ECONNREFUSED/.test(err.message) ? "ECONNREFUSED" : err.message.slice(0, 60));
      fail(code);
    },
  );
  s.onClosed(() => {
    clearTimeout(timeout);
    fail("closed before authenticated");
    if (f.stopping) return;
    c.timer = setTimeout(() => connect(url, f, c), backoff(c.attempt++));
  });
}

interface SideResult {
  kind: ServerKind;
  clients: number;
  initiallyBack: number;
  stopMs: number;
  startMs: number;
  back: number;
  roomsMissing: number;
  /** New server listening (ready) → the last client back. */
  allBackMs: number;
  /** Old server gone → the last client back. */
  allBackFromDownMs: number;
  backAt: { p50: number; p99: number };
  handshake: ReturnType<Samples["summary"]>;
  attempts: number;
  failures: Record<string, number>;
  failuresBeforeListen: number;
  failuresAfterListen: number;
  generatorElu: number;
}

async function runSide(kind: ServerKind, n: number): Promise<SideResult> {
  const specs = Array.from({ length: n }, (_, i) => ({ userId: `r${i}`, room: `rr${Math.floor(i / ROOM_SIZE)}` }));
  if (kind === "relay") {
    await freshDatabase();
    await seedMemberships(specs.map((s) => [s.userId, s.room] as [string, string]));
  }
  const fleet: Fleet = {
    clients: specs.map((s) => ({
      userId: s.userId,
      room: s.room,
      auth: JSON.stringify({ token: token(s.userId), rooms: [s.room] }),
      attempt: 0,
      backGen: -1,
      backAt: 0,
      roomsMissing: false,
    })),
    generation: 0,
    stopping: false,
    handshake: new Samples(),
    attempts: 0,
    failures: {},
    failuresBeforeListen: 0,
    failuresAfterListen: 0,
    listening: true,
  };
  const backCount = (gen: number) => fleet.clients.reduce((k, c) => k + (c.backGen >= gen ? 1 : 0), 0);
  const waitBack = async (gen: number, ms: number) => {
    const until = now() + ms;
    while (now() < until && backCount(gen) < n) await sleep(25);
    return backCount(gen);
  };
  let server: ServerHandle | undefined = await startServer(kind, { maxConnections: 2 * n + 100, profileName: "restart" });
  const port = server.port;
  const url = server.url;
  try {
    // Connect everyone (paced), in their rooms.
    for (let i = 0; i < n; i++) {
      connect(url, fleet, fleet.clients[i]);
      if (i % (CONNECT_RATE / 50) === CONNECT_RATE / 50 - 1) await sleep(20);
    }
    const initiallyBack = await waitBack(0, 60_000);
    if (initiallyBack < n) console.log(`  ${kind}: only ${initiallyBack} of ${n} connected and in their rooms before the restart`);
    await sleep(1000);

    const t0 = now();
    await server.terminate();
    const tDown = now();
    fleet.generation = 1;
    fleet.listening = false;
    const elu0 = performance.eventLoopUtilization();
    server = await startServer(kind, { maxConnections: 2 * n + 100, profileName: "restart", port });
    const tListen = now();
    fleet.listening = true;
    console.log(`  ${kind}: old server stopped in ${ms(tDown - t0)}, new one ready after ${ms(tListen - tDown)} on port ${port}`);
    const back = await waitBack(1, BACK_DEADLINE_MS);
    const elu = performance.eventLoopUtilization(elu0);
    const backTimes = new Samples();
    let last = 0;
    for (const c of fleet.clients) {
      if (c.backGen >= 1) {
        backTimes.add(c.backAt - tListen);
        last = Math.max(last, c.backAt);
      }
    }
    const roomsMissing = fleet.clients.filter((c) => c.roomsMissing).length;
    const out: SideResult = {
      kind,
      clients: n,
      initiallyBack,
      stopMs: round(tDown - t0, 0),
      startMs: round(tListen - tDown, 0),
      back,
      roomsMissing,
      allBackMs: back === n ? round(last - tListen, 0) : NaN,
      allBackFromDownMs: back === n ? round(last - tDown, 0) : NaN,
      backAt: { p50: round(backTimes.p(50), 0), p99: round(backTimes.p(99), 0) },
      handshake: fleet.handshake.summary(),
      attempts: fleet.attempts,
      failures: fleet.failures,
      failuresBeforeListen: fleet.failuresBeforeListen,
      failuresAfterListen: fleet.failuresAfterListen,
      generatorElu: round(elu.utilization, 2),
    };
    console.log(
      `  ${kind}: ${back}/${n} back (${roomsMissing} without their room), all back ${ms(out.allBackMs)} after listening; handshake p50 ${ms(out.handshake.p50)} p99 ${ms(out.handshake.p99)};` +
        ` ${out.failuresBeforeListen} failed attempts before listening, ${out.failuresAfterListen} after`,
    );
    return out;
  } finally {
    fleet.stopping = true;
    for (const c of fleet.clients) clearTimeout(c.timer);
    await server?.stop();
    for (let i = 0; i < fleet.clients.length; i++) {
      const c = fleet.clients[i];
      c.socket?.removeAllListeners();
      c.socket?.close();
      if (i % 2000 === 1999) await sleep(1);
    }
  }
}

export const restart: Scenario = {
  name: "restart",
  title: "Restart storm (5,000 clients in rooms of 100 reconnect to a restarted server)",
  async run() {
    console.log(`${CLIENTS} clients in rooms of ${ROOM_SIZE}; SIGTERM, new server on the same port, clients reconnect with backoff; relay then bare`);
    const relay = await runSide("relay", CLIENTS);
    await sleep(1000);
    const bare = await runSide("bare", CLIENTS);
    let ceiling: SideResult | undefined;
    if (!ceilingDone) {
      ceilingDone = true;
      await sleep(1000);
      ceiling = await runSide("bare", 2 * CLIENTS);
    }
    const failed = (s: SideResult) => s.failuresAfterListen;
    const headlines: Headline[] = [
      {
        metric: `clients back in their rooms`,
        target: "all",
        unit: "count",
        relay: relay.back - relay.roomsMissing,
        bare: bare.back - bare.roomsMissing,
        check: (v) => v === CLIENTS,
        note: QUICK ? `BENCH_QUICK: ${fmt(CLIENTS)} clients` : undefined,
      },
      {
        metric: "new server listening → all back in their rooms",
        target: "≤ 1.5x bare",
        unit: "ms",
        relay: relay.allBackMs,
        bare: bare.allBackMs,
        check: (v, b) => b !== undefined && v <= 1.5 * b,
      },
      { metric: "old server gone → all back", target: "(reported)", unit: "ms", relay: relay.allBackFromDownMs, bare: bare.allBackFromDownMs },
      { metric: "reconnect handshake p50", target: "(reported)", unit: "ms", relay: relay.handshake.p50, bare: bare.handshake.p50 },
      { metric: "reconnect handshake p99", target: "(reported)", unit: "ms", relay: relay.handshake.p99, bare: bare.handshake.p99 },
      { metric: "failed attempts after the new server listened", target: "(reported)", unit: "count", relay: failed(relay), bare: failed(bare) },
    ];
    if (ceiling) {
      headlines.push(
        {
          metric: `load generator: ${fmt(2 * CLIENTS)} clients against bare, all back after`,
          target: "(reported)",
          unit: "ms",
          relay: ceiling.allBackMs,
          note: "first run only; figure in the relay column is the generator's",
        },
        {
          metric: "load generator: event loop busy during that storm",
          target: "< 100%",
          unit: "%",
          relay: round(ceiling.generatorElu * 100, 0),
          check: (v) => v < 100,
        },
      );
    }
    const sides = [relay, bare, ...(ceiling ? [ceiling] : [])];
    const detail = table(
      ["server", "clients", "old stopped in", "new ready after", "back", "without room", "listening → all back", "back p50 / p99", "handshake p50 / p99", "attempts", "failed before / after listening", "failures by reason", "generator loop busy"],
      sides.map((s) => [
        s.kind,
        fmt(s.clients),
        ms(s.stopMs),
        ms(s.startMs),
        fmt(s.back),
        fmt(s.roomsMissing),
        ms(s.allBackMs),
        `${ms(s.backAt.p50)} / ${ms(s.backAt.p99)}`,
        `${ms(s.handshake.p50)} / ${ms(s.handshake.p99)}`,
        fmt(s.attempts),
        `${fmt(s.failuresBeforeListen)} / ${fmt(s.failuresAfterListen)}`,
        Object.entries(s.failures).map(([k, v]) => `${k} ${v}`).join(", ") || "0",
        `${Math.round(s.generatorElu * 100)}%`,
      ]),
    );
    const markdown = [
      detail,
      "",
      `${fmt(CLIENTS)} clients connected at ${fmt(CONNECT_RATE)}/s, each in one room of ${ROOM_SIZE} (relay: memberships in the database, restored on reconnect and listed in authenticated.rooms;` +
        ` bare: named in the handshake). The server gets SIGTERM and shuts down as in production; once it has exited a new server process starts on the same port.` +
        ` Each client reconnects by itself: delay ${BACKOFF_MIN / 1000} s ±${JITTER * 100}%, doubling up to ${BACKOFF_MAX / 1000} s (socket.io-client's defaults), handshake timeout ${HANDSHAKE_TIMEOUT_MS / 1000} s.` +
        ` Back: authenticated with its room on a socket opened after the old server exited. Times from the new server's ready message (it is listening);` +
        ` handshake = websocket opened → authenticated, over the reconnect attempts that succeeded. Third row (first run only): the bare server with ${fmt(2 * CLIENTS)} clients (the generator's ceiling).`,
    ].join("\n");
    return { markdown, data: { clients: CLIENTS, relay, bare, ceiling }, headlines };
  },
};
