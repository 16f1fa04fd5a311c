// Scenario 2: message fan-out to rooms of 10 and 100 members: a fixed send rate, the maximum
// (closed loop, bounded number of messages not yet delivered to every member), and half of the
// relay's maximum; the relay against a bare io.to(room).emit server in the same run.
import { QUICK, type Scenario } from "../lib/context.js";
import { freshDatabase, seedMemberships } from "../lib/db.js";
import { closeAll, connectAll, type BenchClient } from "../lib/clients.js";
import { startServer, type ServerKind } from "../lib/server.js";
import { paced } from "../lib/pace.js";
import { Samples, fmt, ms, now, ratio, round, sleep, status, table, targetTable, type TargetRow } from "../lib/stats.js";

const MEMBERS = QUICK ? 500 : 1000;
const PHASE_MS = QUICK ? 2500 : 6000;
const FIXED_DELIVERIES = 20_000; // per second, both room sizes
const CONTENT = "benchmark message ".repeat(4);

interface Phase {
  name: string;
  sendRate?: number;
  start: number;
  end: number;
  sent: number;
  acked: number;
  ackErrors: number;
  ackErrorSample?: string;
  delivered: number;
  deliveredInWindow: number;
  latency: Samples;
  ack: Samples;
}

interface PhaseResult {
  phase: string;
  sendRateTarget: number | null;
  sendsPerSec: number;
  deliveriesPerSec: number;
  p50: number;
  p99: number;
  max: number;
  ackP99: number;
  lost: number;
  ackErrors: number;
  ackErrorSample?: string;
  serverElu: number;
  serverCpuPct: number;
}

interface SideResult {
  kind: ServerKind;
  size: number;
  connected: number;
  phases: Record<string, PhaseResult>;
}

async function runSide(kind: ServerKind, size: number, halfRate: number | undefined): Promise<SideResult> {
  const rooms = Math.ceil(MEMBERS / size);
  const specs = Array.from({ length: rooms * size }, (_, i) => ({ userId: `f${i}`, rooms: [`r${Math.floor(i / size)}`] }));
  if (kind === "relay") {
    await freshDatabase();
    await seedMemberships(specs.map((s) => [s.userId, s.rooms[0]] as [string, string]));
  }
  const server = await startServer(kind, { maxConnections: specs.length + 100, profileName: `fanout${size}` });
  let clients: BenchClient[] = [];
  try {
    clients = await connectAll(server.url, specs, 500);

    const inflight = new Map<number, { remaining: number; phase: Phase }>();
    let key = 0;
    let current: Phase | undefined;
    let onComplete: (() => void) | undefined;
    for (const c of clients) {
      c.socket.on("message:new", (m: { metadata?: { t: number; k: number } }) => {
        const at = now();
        const md = m.metadata;
        if (!md) return;
        const e = inflight.get(md.k);
        if (!e) return;
        e.phase.delivered++;
        if (at <= e.phase.end) e.phase.deliveredInWindow++;
        e.phase.latency.add(at - md.t);
        if (--e.remaining === 0) {
          inflight.delete(md.k);
          onComplete?.();
        }
      });
    }
    const senders = clients.filter((_, i) => i % size === 0);
    let next = 0;
    const send = () => {
      const phase = current!;
      const s = senders[next++ % senders.length];
      const k = ++key;
      const t = now();
      inflight.set(k, { remaining: size, phase });
      phase.sent++;
      s.socket.emit("message:send", { roomName: s.rooms[0], content: CONTENT, metadata: { t, k } }, (res: { ok: boolean; error?: { message: string } }) => {
        phase.ack.add(now() - t);
        if (res?.ok) phase.acked++;
        else {
          phase.ackErrors++;
          phase.ackErrorSample ??= res?.error?.message;
          const e = inflight.get(k);
          if (e) {
            inflight.delete(k);
            onComplete?.();
          }
        }
      });
    };

    const runPhase = async (name: string, mode: { rate: number } | { window: number }): Promise<PhaseResult> => {
      const phase: Phase = {
        name,
        sendRate: "rate" in mode ? mode.rate : undefined,
        start: now(),
        end: Infinity,
        sent: 0,
        acked: 0,
        ackErrors: 0,
        delivered: 0,
        deliveredInWindow: 0,
        latency: new Samples(),
        ack: new Samples(),
      };
      current = phase;
      const before = await server.stats();
      phase.start = now();
      let pacer: { stop(): number } | undefined;
      let running = true;
      if ("rate" in mode) pacer = paced(mode.rate, send);
      else {
        onComplete = () => {
          while (running && inflight.size < mode.window) send();
        };
        onComplete();
      }
      await sleep(PHASE_MS);
      phase.end = now();
      running = false;
      pacer?.stop();
      const after = await server.stats();
      onComplete = undefined;
      const drainUntil = now() + 5000;
      while (inflight.size > 0 && now() < drainUntil) await sleep(20);
      let lost = 0;
      for (const e of inflight.values()) lost += e.remaining;
      inflight.clear();
      const secs = (phase.end - phase.start) / 1000;
      await sleep(300);
      return {
        phase: name,
        sendRateTarget: phase.sendRate ?? null,
        sendsPerSec: round(phase.sent / secs, 0),
        deliveriesPerSec: round(phase.deliveredInWindow / secs, 0),
        p50: round(phase.latency.p(50)),
        p99: round(phase.latency.p(99)),
        max: round(phase.latency.max),
        ackP99: round(phase.ack.p(99)),
        lost,
        ackErrors: phase.ackErrors,
        ackErrorSample: phase.ackErrorSample,
        serverElu: round(after.elu, 2),
        serverCpuPct: round((100 * (after.cpuUserMs + after.cpuSystemMs - before.cpuUserMs - before.cpuSystemMs)) / (secs * 1000), 0),
      };
    };

    const phases: Record<string, PhaseResult> = {};
    phases.fixed = await runPhase("fixed", { rate: FIXED_DELIVERIES / size });
    phases.max = await runPhase("max", { window: Math.max(4, Math.ceil(4000 / size)) });
    const half = halfRate ?? Math.max(1, Math.round(phases.max.sendsPerSec / 2));
    phases.half = await runPhase("half of relay max", { rate: half });
    return { kind, size, connected: clients.length, phases };
  } finally {
    await server.stop();
    await closeAll(clients);
  }
}

export const fanout: Scenario = {
  name: "fanout",
  title: "Message fan-out (rooms of 10 and 100)",
  // `messages` covers rooms of 10 and 100 against bare; this one runs by name only.
  optional: true,
  async run() {
    const results: SideResult[] = [];
    for (const size of [100, 10]) {
      console.log(`rooms of ${size}: ${MEMBERS / size} rooms, ${MEMBERS} members, one sender per room; relay then bare`);
      const relay = await runSide("relay", size, undefined);
      const bare = await runSide("bare", size, relay.phases.half.sendRateTarget ?? undefined);
      results.push(relay, bare);
    }
    const r100 = results.find((r) => r.kind === "relay" && r.size === 100)!;
    const b100 = results.find((r) => r.kind === "bare" && r.size === 100)!;
    const r10 = results.find((r) => r.kind === "relay" && r.size === 10)!;
    const b10 = results.find((r) => r.kind === "bare" && r.size === 10)!;
    const maxRatio = ratio(r100.phases.max.deliveriesPerSec, b100.phases.max.deliveriesPerSec);
    const half = r100.phases.half;
    const rows: TargetRow[] = [
      {
        metric: "max delivered msgs/s, rooms of 100, relay / bare",
        target: "≥ 0.7x",
        measured: `${fmt(r100.phases.max.deliveriesPerSec)} / ${fmt(b100.phases.max.deliveriesPerSec)} = ${fmt(maxRatio, 2)}x`,
        status: status(maxRatio >= 0.7),
      },
      {
        metric: "send→receive p99 at half the relay's max, rooms of 100",
        target: "≤ 25 ms",
        measured: `${ms(half.p99)} at ${fmt(half.sendRateTarget ?? 0)} sends/s = ${fmt(half.deliveriesPerSec)} deliveries/s (p50 ${ms(half.p50)}; bare p99 ${ms(b100.phases.half.p99)})`,
        status: status(half.p99 <= 25 && half.lost === 0),
      },
      {
        metric: "max delivered msgs/s, rooms of 10, relay / bare",
        target: "(reported)",
        measured: `${fmt(r10.phases.max.deliveriesPerSec)} / ${fmt(b10.phases.max.deliveriesPerSec)} = ${fmt(ratio(r10.phases.max.deliveriesPerSec, b10.phases.max.deliveriesPerSec), 2)}x`,
        status: "info",
      },
    ];
    const detail = table(
      ["room size", "server", "phase", "sends/s", "delivered/s", "p50", "p99", "max", "ack p99", "lost", "errors", "server CPU"],
      results.flatMap((s) =>
        Object.values(s.phases).map((p) => [
          s.size,
          s.kind,
          p.phase + (p.sendRateTarget ? ` (${fmt(p.sendRateTarget)}/s)` : ""),
          fmt(p.sendsPerSec),
          fmt(p.deliveriesPerSec),
          ms(p.p50),
          ms(p.p99),
          ms(p.max),
          ms(p.ackP99),
          p.lost,
          p.ackErrors,
          `${p.serverCpuPct}%`,
        ]),
      ),
    );
    const errs = results.flatMap((s) => Object.values(s.phases).filter((p) => p.ackErrorSample).map((p) => `${s.kind}/${s.size}/${p.phase}: ${p.ackErrorSample}`));
    const markdown = [
      targetTable(rows),
      "",
      detail,
      "",
      `${MEMBERS} connected members per room size, one sender per room (message:send with acknowledgement, ${CONTENT.length}-character content);` +
        ` every member, the sender included, receives message:new. Phases of ${PHASE_MS / 1000} s: fixed = ${fmt(FIXED_DELIVERIES)} deliveries/s;` +
        ` max = closed loop with at most ${Math.ceil(4000 / 100)} (rooms of 100) / ${Math.ceil(4000 / 10)} (rooms of 10) messages not yet delivered to every member;` +
        ` half = half of the relay's max send rate, the same rate for the bare server. Latency: send → message:new at each member (same clock).` +
        ` The relay stores every message (realtime_send_message) before it emits; the bare server only emits.`,
      ...errs.map((e) => `ack error ${e}`),
    ].join("\n");
    return { markdown, data: { members: MEMBERS, phaseMs: PHASE_MS, results, rows } };
  },
};
