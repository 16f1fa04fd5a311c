// Join storm: 5,000 connected clients (in no room yet) all send room:join at once into 50 existing
// rooms of 100; ok count, error codes and acknowledgement latency, relay and bare Socket.io in the
// same run. Then the bare server takes a storm of twice the joins, to show the load generator
// out-drives both.
import { performance } from "node:perf_hooks";
import { QUICK, type Headline, type Scenario } from "../lib/context.js";
import { freshDatabase, withClient } from "../lib/db.js";
import { closeAll, connectAll, type BenchClient } from "../lib/clients.js";
import { startServer, type ServerKind } from "../lib/server.js";
import { Samples, fmt, ms, now, round, sleep, table } from "../lib/stats.js";

const CLIENTS = QUICK ? 2000 : 5000;
const ROOM_SIZE = 100;
const DEADLINE_MS = 60_000;

interface StormResult {
  name: string;
  joins: number;
  ok: number;
  errors: Record<string, number>;
  unanswered: number;
  p50: number;
  p99: number;
  max: number;
  /** First join written → last answer. */
  seconds: number;
  joinsPerSec: number;
  /** How long the generator took to write every join frame. */
  writeMs: number;
  userJoinedReceived: number;
  membersInLastAck: number;
  generatorElu: number;
}

interface SideResult {
  kind: ServerKind;
  connected: number;
  storm: StormResult;
  memberships?: number;
  ceiling?: StormResult;
}

async function storm(name: string, clients: BenchClient[], roomsOf: (i: number) => string[], counter: { userJoined: number }): Promise<StormResult> {
  const latency = new Samples();
  const errors: Record<string, number> = {};
  let ok = 0;
  let answered = 0;
  let last = 0;
  let membersInLastAck = 0;
  const joins = clients.reduce((n, _, i) => n + roomsOf(i).length, 0);
  const u0 = counter.userJoined;
  let writeMs = 0;
  const elu0 = performance.eventLoopUtilization();
  const t0 = now();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, DEADLINE_MS);
    const done = () => {
      if (++answered === joins) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (let i = 0; i < clients.length; i++) {
      for (const roomName of roomsOf(i)) {
        const t = now();
        clients[i].socket.emit("room:join", { roomName }, (res: { ok?: boolean; data?: { members?: unknown[] }; error?: { code?: string } }) => {
          last = now();
          latency.add(last - t);
          if (res?.ok) {
            ok++;
            if (res.data) membersInLastAck = res.data.members?.length ?? 0;
          } else {
            const code = res?.error?.code ?? "malformed answer";
            errors[code] = (errors[code] ?? 0) + 1;
          }
          done();
        }, i % 100 !== 99); // every 100th answer decoded in full (members), the rest only checked for ok
      }
    }
    writeMs = now() - t0;
  });
  const elu = performance.eventLoopUtilization(elu0);
  await sleep(500); // user:joined still on the way
  const seconds = ((last || now()) - t0) / 1000;
  const unanswered = joins - answered;
  if (unanswered > 0) errors["no answer within deadline"] = unanswered;
  return {
    name,
    joins,
    ok,
    errors,
    unanswered,
    p50: round(latency.p(50)),
    p99: round(latency.p(99)),
    max: round(latency.max),
    seconds: round(seconds, 2),
    joinsPerSec: round(answered / seconds, 0),
    writeMs: round(writeMs, 1),
    userJoinedReceived: counter.userJoined - u0,
    membersInLastAck,
    generatorElu: round(elu.utilization, 2),
  };
}
async function runSide(kind: ServerKind): Promise<SideResult> {
  const rooms = Math.ceil(CLIENTS / ROOM_SIZE);
  const specs = Array.from({ length: CLIENTS }, (_, i) => ({ userId: `j${i}`, rooms: [] as string[] }));
  if (kind === "relay") {
    await freshDatabase();
    // The rooms exist (the relay does not create rooms on join by default); nobody is a member.
    await withClient(async (c) => {
      await c.query(
        `insert into realtime_rooms (name) select unnest($1::text[]) on conflict do nothing`,
        [[...Array.from({ length: rooms }, (_, r) => `jr${r}`), ...Array.from({ length: rooms }, (_, r) => `jk${r}`), ...Array.from({ length: rooms }, (_, r) => `jq${r}`)]],
      );
      await c.query("analyze");
    });
  }
  const server = await startServer(kind, { maxConnections: CLIENTS + 100, profileName: "joins" });
  let clients: BenchClient[] = [];
  try {
    clients = await connectAll(server.url, specs, 1000);
    const counter = { userJoined: 0 };
    for (const c of clients) c.socket.onRaw("user:joined", () => counter.userJoined++);
    await sleep(1000);
    console.log(`  ${kind}: ${clients.length} connected; join storm`);
    const s = await storm(`${fmt(CLIENTS)} joins at once`, clients, (i) => [`jr${Math.floor(i / ROOM_SIZE)}`], counter);
    console.log(`  ${kind}: ${s.ok} ok, errors ${JSON.stringify(s.errors)}, p50 ${ms(s.p50)} p99 ${ms(s.p99)}, ${fmt(s.joinsPerSec)} joins/s`);
    let memberships: number | undefined;
    if (kind === "relay") {
      memberships = await withClient(async (c) =>
        Number((await c.query("select count(*)::int as n from realtime_room_members where left_at is null")).rows[0].n),
      );
    }
    let ceiling: StormResult | undefined;
    if (kind === "bare") {
      await sleep(500);
      ceiling = await storm(`generator ceiling: ${fmt(2 * CLIENTS)} joins at once`, clients, (i) => [`jk${Math.floor(i / ROOM_SIZE)}`, `jq${Math.floor(i / ROOM_SIZE)}`], counter);
      console.log(`  bare ceiling: ${ceiling.ok} ok in ${ceiling.seconds} s, written in ${ms(ceiling.writeMs)}`);
    }
    return { kind, connected: clients.length, storm: s, memberships, ceiling };
  } finally {
    await server.stop();
    await closeAll(clients);
  }
}

export const joins: Scenario = {
  name: "joins",
  title: "Join storm (5,000 clients join rooms of 100 at once)",
  async run() {
    console.log(`${CLIENTS} clients connect (no rooms), then all send room:join at once into ${CLIENTS / ROOM_SIZE} rooms of ${ROOM_SIZE}; relay then bare`);
    const relay = await runSide("relay");
    await sleep(1000);
    const bare = await runSide("bare");
    const r = relay.storm;
    const b = bare.storm;
    const headlines: Headline[] = [
      {
        metric: `join storm: ok of ${fmt(CLIENTS)}`,
        target: "all ok",
        unit: "count",
        relay: r.ok,
        bare: b.ok,
        check: (v) => v === CLIENTS,
        note: QUICK ? `BENCH_QUICK: ${fmt(CLIENTS)} clients` : undefined,
      },
      { metric: "join storm: errors", target: "0", unit: "count", relay: r.joins - r.ok, bare: b.joins - b.ok, check: (v) => v === 0 },
      { metric: "join storm: ack p50", target: "(reported)", unit: "ms", relay: r.p50, bare: b.p50 },
      { metric: "join storm: ack p99", target: "≤ 1 s", unit: "ms", relay: r.p99, bare: b.p99, check: (v) => v <= 1000 },
      { metric: "join storm: all answered after", target: "(reported)", unit: "s", relay: r.seconds, bare: b.seconds },
      {
        metric: "join storm: user:joined frames received",
        target: "(reported: the same visible work)",
        unit: "count",
        relay: r.userJoinedReceived,
        bare: b.userJoinedReceived,
      },
      {
        metric: `load generator: ${fmt(2 * CLIENTS)} joins against bare, answered per second`,
        target: "(reported)",
        unit: "/s",
        relay: bare.ceiling?.joinsPerSec ?? NaN,
        note: `figure in the relay column is the generator's; every join frame written in ${ms(bare.ceiling?.writeMs ?? NaN)}`,
      },
      {
        metric: "load generator: event loop busy during that storm",
        target: "< 100%",
        unit: "%",
        relay: round((bare.ceiling?.generatorElu ?? NaN) * 100, 0),
        check: (v) => v < 100,
      },
    ];
    const rows = [relay, bare].flatMap((s) => [s.storm, ...(s.ceiling ? [s.ceiling] : [])].map((x) => [s.kind, x] as const));
    const detail = table(
      ["server", "storm", "joins", "ok", "errors by code", "ack p50", "ack p99", "max", "all answered after", "joins/s", "written in", "user:joined received", "members in an ack", "generator loop busy"],
      rows.map(([kind, x]) => [
        kind,
        x.name,
        fmt(x.joins),
        fmt(x.ok),
        Object.entries(x.errors).map(([k, v]) => `${k} ${v}`).join(", ") || "0",
        ms(x.p50),
        ms(x.p99),
        ms(x.max),
        `${fmt(x.seconds, 2)} s`,
        fmt(x.joinsPerSec),
        ms(x.writeMs),
        fmt(x.userJoinedReceived),
        fmt(x.membersInLastAck),
        `${Math.round(x.generatorElu * 100)}%`,
      ]),
    );
    const markdown = [
      detail,
      "",
      `${fmt(CLIENTS)} authenticated clients in no room (connected first at 1,000/s), then each sends room:join with acknowledgement into one of ${CLIENTS / ROOM_SIZE} existing rooms` +
        ` (relay: rooms created beforehand, no memberships; it does not create rooms on join by default), all in one go. The bare server joins the socket, emits user:joined to the room` +
        ` and answers the room's member ids; the relay records the membership and answers the room, its members (with presence) and typing.` +
        ` Ack latency from each join frame written to its answer; a join unanswered after ${DEADLINE_MS / 1000} s counts as an error.` +
        (relay.memberships !== undefined ? ` Active memberships in the database after the relay's storm: ${fmt(relay.memberships)}.` : ""),
    ].join("\n");
    return { markdown, data: { clients: CLIENTS, relay, bare }, headlines };
  },
};
