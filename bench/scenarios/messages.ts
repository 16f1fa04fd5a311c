// Messages in small rooms (1,000 clients in 100 rooms of 10) and large rooms (the same clients in
// 10 rooms of 100): open-loop sends at fixed rates, a step search for the highest rate whose
// delivery p99 stays under 100 ms, and the maximum deliveries/s to rooms of 100; relay and bare
// Socket.io in the same run, then the bare server at twice the top step to show the load generator
// out-drives both.
//
// Each message's content carries `x<phase>:<key>:<send time>:`; receivers read those numbers out
// of the frame text (no JSON.parse of message:new frames).
import { performance } from "node:perf_hooks";
import { QUICK, type Headline, type Scenario } from "../lib/context.js";
import { freshDatabase, seedMemberships, withClient } from "../lib/db.js";
import { closeAll, connectAll, type BenchClient } from "../lib/clients.js";
import { startServer, type ServerHandle, type ServerKind } from "../lib/server.js";
import { paced } from "../lib/pace.js";
import { Samples, fmt, ms, now, round, sleep, table } from "../lib/stats.js";

const CLIENTS = 1000;
const SMALL = 10;
const LARGE = 100;
const FIXED_RATES = [2000, 4000];
const FIXED_MS = QUICK ? 3000 : 10_000;
const STEPS = [1000, 2000, 3000, 4000, 6000, 8000];
const STEP_MS = QUICK ? 2000 : 4000;
const STEP_P99_MS = 100;
const LARGE_RATE = 600;
const LARGE_MS = QUICK ? 2500 : 5000;
const LARGE_WINDOW = 40; // closed loop: messages not yet delivered to every member
const CEILING_RATE = 2 * STEPS[STEPS.length - 1];
const DRAIN_MS = 5000;
const PAD = "m".repeat(48);

interface PhaseResult {
  phase: string;
  roomSize: number;
  rateTarget: number | null;
  seconds: number;
  sent: number;
  sendsPerSec: number;
  acked: number;
  ackErrors: Record<string, number>;
  expected: number;
  delivered: number;
  deliveredPerSec: number;
  lost: number;
  stored?: number;
  p50: number;
  p99: number;
  max: number;
  ackP50: number;
  ackP99: number;
  serverCpuPct: number;
  generatorCpuPct: number;
  /** Share of the phase the generator's event loop was busy (1: saturated). */
  generatorElu: number;
}

interface SideResult {
  kind: ServerKind;
  connected: number;
  phases: PhaseResult[];
  fixed: Record<number, PhaseResult>;
  steps: PhaseResult[];
  highestPassing: number;
  large: { fixed: PhaseResult; max: PhaseResult };
  ceiling?: PhaseResult;
}

interface Inflight {
  remaining: number;
}

async function storedCount(kind: ServerKind): Promise<number> {
  if (kind !== "relay") return 0;
  return withClient(async (c) => Number((await c.query("select count(*)::int as n from realtime_events where type = 'message'")).rows[0].n));
}

async function runSide(kind: ServerKind): Promise<SideResult> {
  const specs = Array.from({ length: CLIENTS }, (_, i) => ({
    userId: `m${i}`,
    rooms: [`s${Math.floor(i / SMALL)}`, `l${Math.floor(i / LARGE)}`],
  }));
  if (kind === "relay") {
    await freshDatabase();
    await seedMemberships(specs.flatMap((s) => s.rooms.map((r) => [s.userId, r] as [string, string])));
  }
  const server: ServerHandle = await startServer(kind, { maxConnections: CLIENTS + 100, profileName: "messages" });
  let clients: BenchClient[] = [];
  try {
    clients = await connectAll(server.url, specs, 1000);
    const missingRooms = clients.filter((c) => (c.serverRooms ?? []).length < 2).length;
    if (missingRooms > 0) console.log(`  ${kind}: ${missingRooms} clients not in both rooms after authentication`);

    let phaseId = 0;
    let inflight = new Map<number, Inflight>();
    let latency = new Samples();
    let delivered = 0;
    let deliveredInWindow = 0;
    let windowEnd = Infinity;
    let onComplete: (() => void) | undefined;
    const marker = '"content":"x';
    for (const c of clients) {
      c.socket.onRaw("message:new", (f) => {
        const at = now();
        const i = f.indexOf(marker);
        if (i < 0) return;
        const a = i + marker.length;
        const b = f.indexOf(":", a);
        if (Number(f.slice(a, b)) !== phaseId) return;
        const d = f.indexOf(":", b + 1);
        const k = Number(f.slice(b + 1, d));
        const t = Number(f.slice(d + 1, f.indexOf(":", d + 1)));
        delivered++;
        if (at <= windowEnd) deliveredInWindow++;
        latency.add(at - t);
        const e = inflight.get(k);
        if (e && --e.remaining === 0) {
          inflight.delete(k);
          onComplete?.();
        }
      });
    }

    const runPhase = async (name: string, roomSize: number, mode: { rate: number; ms: number } | { window: number; ms: number }): Promise<PhaseResult> => {
      phaseId++;
      inflight = new Map();
      latency = new Samples();
      delivered = 0;
      deliveredInWindow = 0;
      windowEnd = Infinity;
      const ack = new Samples();
      const ackErrors: Record<string, number> = {};
      let sent = 0;
      let acked = 0;
      let key = 0;
      const roomIndex = roomSize === SMALL ? 0 : 1;
      const senders = roomSize === SMALL ? clients : clients.filter((_, i) => i % LARGE === 0 || i % LARGE === 50);
      let next = 0;
      const send = () => {
        const s = senders[next++ % senders.length];
        const k = ++key;
        const t = now();
        inflight.set(k, { remaining: roomSize });
        sent++;
        s.socket.emit("message:send", { roomName: s.rooms[roomIndex], content: `x${phaseId}:${k}:${t.toFixed(3)}:${PAD}` }, (res: { ok?: boolean; error?: { code?: string } }) => {
          ack.add(now() - t);
          if (res?.ok) acked++;
          else {
            const code = res?.error?.code ?? "no answer";
            ackErrors[code] = (ackErrors[code] ?? 0) + 1;
            if (inflight.delete(k)) onComplete?.();
          }
        }, true);
      };
      const stored0 = await storedCount(kind);
      const before = await server.stats();
      const cpu0 = process.cpuUsage();
      const elu0 = performance.eventLoopUtilization();
      const t0 = now();
      let running = true;
      let pacer: { stop(): number } | undefined;
      // Up to a quarter second of sends catch up after a stall of the generator's loop.
      if ("rate" in mode) pacer = paced(mode.rate, send, Math.max(2000, mode.rate / 4));
      else {
        onComplete = () => {
          while (running && inflight.size < mode.window) send();
        };
        onComplete();
      }
      await sleep(mode.ms);
      running = false;
      pacer?.stop();
      onComplete = undefined;
      windowEnd = now();
      const seconds = (windowEnd - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const elu = performance.eventLoopUtilization(elu0);
      const after = await server.stats();
      const drainUntil = now() + DRAIN_MS;
      while (inflight.size > 0 && now() < drainUntil) await sleep(20);
      let lost = 0;
      for (const e of inflight.values()) lost += e.remaining;
      const stored = kind === "relay" ? (await storedCount(kind)) - stored0 : undefined;
      await sleep(200);
      const r: PhaseResult = {
        phase: name,
        roomSize,
        rateTarget: "rate" in mode ? mode.rate : null,
        seconds: round(seconds, 2),
        sent,
        sendsPerSec: round(sent / seconds, 0),
        acked,
        ackErrors,
        expected: sent * roomSize,
        delivered,
        deliveredPerSec: round(deliveredInWindow / seconds, 0),
        lost,
        stored,
        p50: round(latency.p(50)),
        p99: round(latency.p(99)),
        max: round(latency.max),
        ackP50: round(ack.p(50)),
        ackP99: round(ack.p(99)),
        serverCpuPct: round((100 * (after.cpuUserMs + after.cpuSystemMs - before.cpuUserMs - before.cpuSystemMs)) / (seconds * 1000), 0),
        generatorCpuPct: round((100 * (cpu.user + cpu.system)) / 1000 / (seconds * 1000), 0),
        generatorElu: round(elu.utilization, 2),
      };
      console.log(
        `  ${kind} ${name}: ${fmt(r.sendsPerSec)} sends/s (server CPU ${r.serverCpuPct}%, generator loop busy ${Math.round(r.generatorElu * 100)}%), delivered ${fmt(r.delivered)}/${fmt(r.expected)}, p50 ${ms(r.p50)} p99 ${ms(r.p99)}` +
          `${stored !== undefined ? `, stored ${fmt(stored)}` : ""}${Object.keys(ackErrors).length ? `, errors ${JSON.stringify(ackErrors)}` : ""}`,
      );
      return r;
    };

    const phases: PhaseResult[] = [];
    const fixed: Record<number, PhaseResult> = {};
    for (const rate of FIXED_RATES) {
      fixed[rate] = await runPhase(`rooms of ${SMALL}, ${fmt(rate)}/s`, SMALL, { rate, ms: FIXED_MS });
      phases.push(fixed[rate]);
    }
    const passes = (p: PhaseResult) => p.p99 < STEP_P99_MS && p.lost === 0 && p.sendsPerSec >= 0.95 * (p.rateTarget ?? 0);
    const steps: PhaseResult[] = [];
    let highestPassing = 0;
    for (const rate of STEPS) {
      // The fixed phases double as steps of the search.
      const p = fixed[rate] ?? (await runPhase(`step ${fmt(rate)}/s`, SMALL, { rate, ms: STEP_MS }));
      if (!fixed[rate]) phases.push(p);
      steps.push(p);
      if (!passes(p)) break;
      highestPassing = rate;
    }
    const largeFixed = await runPhase(`rooms of ${LARGE}, ${fmt(LARGE_RATE)}/s`, LARGE, { rate: LARGE_RATE, ms: LARGE_MS });
    const largeMax = await runPhase(`rooms of ${LARGE}, max`, LARGE, { window: LARGE_WINDOW, ms: LARGE_MS });
    phases.push(largeFixed, largeMax);
    let ceiling: PhaseResult | undefined;
    if (kind === "bare") {
      ceiling = await runPhase(`generator ceiling, ${fmt(CEILING_RATE)}/s`, SMALL, { rate: CEILING_RATE, ms: STEP_MS });
      phases.push(ceiling);
    }
    return { kind, connected: clients.length, phases, fixed, steps, highestPassing, large: { fixed: largeFixed, max: largeMax }, ceiling };
  } finally {
    await server.stop();
    await closeAll(clients);
  }
}

export const messages: Scenario = {
  name: "messages",
  title: "Messages: rooms of 10 at fixed rates, highest rate with p99 < 100 ms, rooms of 100",
  async run() {
    console.log(`${CLIENTS} clients, each in a room of ${SMALL} and a room of ${LARGE}; relay then bare`);
    const relay = await runSide("relay");
    await sleep(1000);
    const bare = await runSide("bare");
    const headlines: Headline[] = [];
    for (const rate of FIXED_RATES) {
      const r = relay.fixed[rate];
      const b = bare.fixed[rate];
      headlines.push(
        {
          metric: `rooms of ${SMALL} at ${fmt(rate)}/s: stored / sent`,
          target: "every message stored",
          unit: "%",
          relay: round((100 * (r.stored ?? 0)) / Math.max(1, r.sent), 2),
          check: (v) => v >= 100,
        },
        {
          metric: `rooms of ${SMALL} at ${fmt(rate)}/s: delivered / expected`,
          target: "every message delivered",
          unit: "%",
          relay: round((100 * r.delivered) / Math.max(1, r.expected), 2),
          bare: round((100 * b.delivered) / Math.max(1, b.expected), 2),
          check: (v) => v >= 100,
        },
        {
          metric: `rooms of ${SMALL} at ${fmt(rate)}/s: sends achieved`,
          target: "(offered load)",
          unit: "/s",
          relay: r.sendsPerSec,
          bare: b.sendsPerSec,
        },
        {
          metric: `rooms of ${SMALL} at ${fmt(rate)}/s: send→receive p50`,
          target: "(reported)",
          unit: "ms",
          relay: r.p50,
          bare: b.p50,
        },
        {
          metric: `rooms of ${SMALL} at ${fmt(rate)}/s: send→receive p99`,
          target: "≤ 2x bare",
          unit: "ms",
          relay: r.p99,
          bare: b.p99,
          check: (v, bb) => bb !== undefined && v <= 2 * bb,
        },
      );
    }
    headlines.push(
      {
        metric: `rooms of ${SMALL}: highest step with p99 < ${STEP_P99_MS} ms, all delivered`,
        target: "≥ 0.9x bare",
        unit: "/s",
        relay: relay.highestPassing,
        bare: bare.highestPassing,
        check: (v, bb) => bb !== undefined && v >= 0.9 * bb,
        note: bare.highestPassing === STEPS[STEPS.length - 1] ? `bare passed the top step ${fmt(STEPS[STEPS.length - 1])}/s` : undefined,
      },
      {
        metric: `rooms of ${LARGE}: max deliveries/s (closed loop)`,
        target: "≥ 0.95x bare",
        unit: "/s",
        relay: relay.large.max.deliveredPerSec,
        bare: bare.large.max.deliveredPerSec,
        check: (v, bb) => bb !== undefined && v >= 0.95 * bb,
      },
      {
        metric: `rooms of ${LARGE} at ${fmt(LARGE_RATE)}/s: deliveries/s`,
        target: "(reported)",
        unit: "/s",
        relay: relay.large.fixed.deliveredPerSec,
        bare: bare.large.fixed.deliveredPerSec,
      },
      {
        metric: `rooms of ${LARGE} at ${fmt(LARGE_RATE)}/s: send→receive p99`,
        target: "(reported)",
        unit: "ms",
        relay: relay.large.fixed.p99,
        bare: bare.large.fixed.p99,
      },
      {
        metric: `load generator: sends/s achieved against bare at ${fmt(CEILING_RATE)}/s offered`,
        target: `> top step ${fmt(STEPS[STEPS.length - 1])}/s`,
        unit: "/s",
        relay: bare.ceiling?.sendsPerSec ?? NaN,
        check: (v) => v > STEPS[STEPS.length - 1],
        note: "bare server; figure in the relay column is the generator's",
      },
      {
        metric: "load generator: deliveries/s received from bare at that rate",
        target: "(reported)",
        unit: "/s",
        relay: bare.ceiling?.deliveredPerSec ?? NaN,
      },
      {
        metric: "load generator: event loop busy at that rate",
        target: "< 100%",
        unit: "%",
        relay: round((bare.ceiling?.generatorElu ?? NaN) * 100, 0),
        check: (v) => v < 100,
      },
    );
    const errs = (p: PhaseResult) => Object.entries(p.ackErrors).map(([k, v]) => `${k} ${v}`).join(", ") || "0";
    const detail = table(
      ["server", "phase", "sends/s", "acked", "errors", "stored", "delivered / expected", "lost", "delivered/s", "p50", "p99", "max", "ack p99", "server CPU", "generator CPU", "generator loop busy"],
      [relay, bare].flatMap((s) =>
        s.phases.map((p) => [
          s.kind,
          p.phase,
          fmt(p.sendsPerSec),
          fmt(p.acked),
          errs(p),
          p.stored === undefined ? "-" : fmt(p.stored),
          `${fmt(p.delivered)} / ${fmt(p.expected)}`,
          fmt(p.lost),
          fmt(p.deliveredPerSec),
          ms(p.p50),
          ms(p.p99),
          ms(p.max),
          ms(p.ackP99),
          `${p.serverCpuPct}%`,
          `${p.generatorCpuPct}%`,
          `${Math.round(p.generatorElu * 100)}%`,
        ]),
      ),
    );
    const markdown = [
      detail,
      "",
      `${CLIENTS} clients, each a member of one room of ${SMALL} and one room of ${LARGE} (relay: memberships in the database; bare: named in the handshake).` +
        ` Open-loop message:send with acknowledgement, round-robin over the senders (rooms of ${SMALL}: every client; rooms of ${LARGE}: 2 per room), ${PAD.length + 20}-odd characters of content;` +
        ` every member, the sender included, receives message:new. Fixed phases ${FIXED_MS / 1000} s; steps ${STEPS.map((s) => fmt(s)).join(", ")}/s of ${STEP_MS / 1000} s each` +
        ` (the fixed phases count as steps), stopping at the first step with p99 ≥ ${STEP_P99_MS} ms, a lost delivery or a send rate below 95% of the step;` +
        ` rooms of ${LARGE}: ${fmt(LARGE_RATE)} sends/s, then a closed loop with at most ${LARGE_WINDOW} messages not yet delivered to every member (${LARGE_MS / 1000} s each).` +
        ` Latency: send → message:new at each member (one clock, the generator's). Delivered counts arrivals up to ${DRAIN_MS / 1000} s after a phase; lost = expected − delivered.` +
        ` Stored: rows of realtime_events of type message added during the phase. Generator ceiling: the bare server at ${fmt(CEILING_RATE)} sends/s.`,
    ].join("\n");
    return { markdown, data: { clients: CLIENTS, relay, bare }, headlines };
  },
};
