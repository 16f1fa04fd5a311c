// A history checker for the fault-injection suite: clients that behave like an application (default
// socket.io-client reconnection; after each reconnect, room:join { since: last id seen } per room to
// fetch what they missed), a record of every message:send and its answer, of every message:new each
// member received, and a comparison with the rows the database stored. One line per scenario:
//   FAULT-SUMMARY {"scenario":..., "acknowledged":..., "stored":..., "lost":..., ...}
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { io, type Socket } from "socket.io-client";
import { clusterToken } from "./tokens.js";
import { sleep } from "./wait.js";

export interface SendRecord {
  client: string;
  room: string;
  content: string;
  clientMessageId?: string;
  sentAt: number;
  answeredAt?: number;
  /** Acknowledged: { ok: true }. */
  ok: boolean;
  /** No answer within the timeout (the socket was down, or the relay died with it in flight). */
  unanswered: boolean;
  code?: string;
  message?: string;
  id?: number;
}

interface StoredRow {
  id: number;
  room: string;
  content: string;
}

/** A client whose deliveries the checker counts. */
export interface Member {
  name: string;
  userId: string;
  rooms: string[];
  /** Message id → when it was first received (live or through a replay) and its content. */
  readonly received: Map<number, Received>;
  /** Live message:new carrying an id already received with another content (an id used twice). */
  idsReused: number;
  /** Live message:new received more than once (same id, same client). */
  liveDuplicates(): number;
  /** Per room: the newest id that existed when the member first joined (what it need not get). */
  readonly baseline: Map<string, number>;
  readonly disconnects: { at: number; reason: string }[];
  /** Each `authenticated` event: when, and the rooms the server says the socket is back in. */
  readonly authentications: { at: number; rooms: string[] }[];
  readonly presence: { at: number; userId: string; status: string }[];
  replayed: number;
  gaps: number;
  close(): void;
}

export interface Received {
  at: number;
  content: string;
}

type Ack = { ok: boolean; data?: any; error?: { code: string; message: string } };

export interface ClientOptions {
  transports?: ("websocket" | "polling")[];
  /** Counted as a member (default true); the prober is not. */
  member?: boolean;
}

/** A socket.io-client with default reconnection that resumes its rooms after every reconnect. */
export class TrackedClient implements Member {
  readonly socket: Socket;
  readonly received = new Map<number, Received>();
  idsReused = 0;
  readonly baseline = new Map<string, number>();
  /**
   * Per room, the id up to which this client has every message: advanced by live messages only
   * while the room is in sync, and by replays. The server puts a reconnected socket back in its
   * rooms before the client re-joins, so live messages arrive before the replay fills the gap:
   * taking `since` from the newest id seen would skip the gap.
   */
  readonly lastSeen = new Map<string, number>();
  private readonly inSync = new Set<string>();
  readonly liveCount = new Map<number, number>();
  readonly disconnects: { at: number; reason: string }[] = [];
  readonly authentications: { at: number; rooms: string[] }[] = [];
  readonly presence: { at: number; userId: string; status: string }[] = [];
  readonly rejoinFailures: string[] = [];
  /** Each re-join after a reconnect: room, since, and what the replay held. */
  readonly rejoins: { room: string; since: number; events: number; first?: number; gap: boolean; latestId: number | null }[] = [];
  replayed = 0;
  gaps = 0;
  /** When the last reconnect's re-joins all succeeded. */
  rejoinedAt: number | undefined;
  readonly ready: Promise<void>;
  private epoch = 0;
  private readonly listeners = new Map<number, (id: number) => void>();

  constructor(
    readonly name: string,
    url: string,
    readonly userId: string,
    readonly rooms: string[],
    options: ClientOptions = {},
  ) {
    this.socket = io(url, {
      auth: { token: clusterToken(userId) },
      forceNew: true,
      ...(options.transports ? { transports: options.transports } : {}),
    });
    this.socket.on("message:new", (m: { id: number; roomName: string; content: string }) => this.record(m.id, m.roomName, m.content, true));
    const onPresence = (p: { userId: string; status: string }) => this.presence.push({ at: Date.now(), userId: p.userId, status: p.status });
    this.socket.on("presence:changed", onPresence);
    this.socket.on("presence:diff", (d: { changes?: { userId: string; status: string }[] }) => d?.changes?.forEach(onPresence));
    this.socket.on("disconnect", (reason: string) => {
      this.epoch++;
      this.inSync.clear();
      this.disconnects.push({ at: Date.now(), reason });
    });
    let first = true;
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not connect and join within 20 s`)), 20_000);
      this.socket.on("authenticated", (payload: { rooms: string[] }) => {
        this.authentications.push({ at: Date.now(), rooms: payload.rooms });
        const initial = first;
        first = false;
        void this.joinAll(initial).then(
          () => {
            if (initial) {
              clearTimeout(timer);
              resolve();
            }
          },
          (err) => {
            if (initial) {
              clearTimeout(timer);
              reject(err);
            }
          },
        );
      });
    });
  }

  /** Joins (first connect) or re-joins with since (every reconnect), retrying refusals. */
  private async joinAll(initial: boolean): Promise<void> {
    const epoch = ++this.epoch;
    for (const room of this.rooms) {
      for (let attempt = 0; ; attempt++) {
        if (epoch !== this.epoch || !this.socket.connected) {
          if (initial) throw new Error(`${this.name} lost its connection while joining`);
          return;
        }
        const since = this.lastSeen.get(room) ?? this.baseline.get(room) ?? 0;
        let ack: Ack;
        try {
          ack = await this.socket.timeout(5000).emitWithAck("room:join", { roomName: room, since });
        } catch {
          ack = { ok: false, error: { code: "TIMEOUT", message: "no answer to room:join" } };
        }
        if (ack.ok) {
          const replay = ack.data?.replay as { events: { id: number; roomName: string; content: string }[]; gap: boolean; latestId: number | null } | undefined;
          if (initial && !this.baseline.has(room)) this.baseline.set(room, replay?.latestId ?? 0);
          else if (replay) {
            this.rejoins.push({ room, since, events: replay.events.length, first: replay.events[0]?.id, gap: replay.gap, latestId: replay.latestId });
            if (replay.gap) this.gaps++;
            for (const e of replay.events) this.record(e.id, room, e.content, false);
            const newest = replay.events.reduce((n, e) => Math.max(n, e.id), since);
            if (newest > (this.lastSeen.get(room) ?? 0)) this.lastSeen.set(room, newest);
          }
          this.inSync.add(room);
          break;
        }
        this.rejoinFailures.push(ack.error?.code ?? "?");
        if (initial && attempt > 20) throw new Error(`${this.name} could not join ${room}: ${JSON.stringify(ack.error)}`);
        await sleep(500);
      }
    }
    if (!initial) this.rejoinedAt = Date.now();
  }

  private record(id: number, room: string, content: string, live: boolean): void {
    const known = this.received.get(id);
    if (known && known.content !== content) {
      // Same id, another message: an application that drops ids it has seen loses this one.
      this.idsReused++;
      return;
    }
    if (live) this.liveCount.set(id, (this.liveCount.get(id) ?? 0) + 1);
    else this.replayed += known ? 0 : 1;
    if (!known) {
      this.received.set(id, { at: Date.now(), content });
      for (const l of this.listeners.values()) l(id);
    }
    if (live && this.inSync.has(room) && id > (this.lastSeen.get(room) ?? 0)) this.lastSeen.set(room, id);
  }

  liveDuplicates(): number {
    let n = 0;
    for (const c of this.liveCount.values()) if (c > 1) n += c - 1;
    return n;
  }

  /** Payloads of another event, collected from now on. */
  collect<T = any>(event: string): T[] {
    const seen: T[] = [];
    this.socket.on(event, (p: T) => seen.push(p));
    return seen;
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * A python-socketio client (reconnection=True) running test/faults/python_member.py, which resumes
 * its rooms the same way and prints one JSON line per event.
 */
export class PythonMember implements Member {
  readonly received = new Map<number, Received>();
  idsReused = 0;
  readonly baseline = new Map<string, number>();
  readonly disconnects: { at: number; reason: string }[] = [];
  readonly authentications: { at: number; rooms: string[] }[] = [];
  readonly presence: { at: number; userId: string; status: string }[] = [];
  readonly liveCount = new Map<number, number>();
  replayed = 0;
  gaps = 0;
  rejoinedAt: number | undefined;
  readonly ready: Promise<void>;
  readonly lines: string[] = [];
  private readonly proc: ChildProcess;

  constructor(
    readonly name: string,
    url: string,
    readonly userId: string,
    readonly rooms: string[],
  ) {
    const script = path.resolve("test/faults/python_member.py");
    this.proc = spawn("/usr/bin/python3", ["-u", script, url, clusterToken(userId), rooms.join(",")], { stdio: ["ignore", "pipe", "pipe"] });
    readline.createInterface({ input: this.proc.stderr! }).on("line", (l) => this.lines.push(`stderr: ${l}`));
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`python member did not join within 20 s:\n${this.lines.join("\n")}`)), 20_000);
      this.proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`python member exited with ${code}:\n${this.lines.join("\n")}`));
      });
      readline.createInterface({ input: this.proc.stdout! }).on("line", (line) => {
        this.lines.push(line);
        let e: any;
        try {
          e = JSON.parse(line);
        } catch {
          return;
        }
        const now = Date.now();
        switch (e.ev) {
          case "joined":
            this.baseline.set(e.room, e.latestId ?? 0);
            break;
          case "ready":
            clearTimeout(timer);
            resolve();
            break;
          case "authenticated":
            this.authentications.push({ at: now, rooms: e.rooms });
            break;
          case "disconnect":
            this.disconnects.push({ at: now, reason: e.reason ?? "unknown" });
            break;
          case "rejoined":
            this.rejoinedAt = now;
            break;
          case "gap":
            this.gaps++;
            break;
          case "presence":
            this.presence.push({ at: now, userId: e.userId, status: e.status });
            break;
          case "message": {
            const known = this.received.get(e.id);
            if (known && known.content !== e.content) {
              this.idsReused++;
              break;
            }
            if (e.live) this.liveCount.set(e.id, (this.liveCount.get(e.id) ?? 0) + 1);
            else if (!known) this.replayed++;
            if (!known) this.received.set(e.id, { at: now, content: e.content });
            break;
          }
        }
      });
    });
  }

  liveDuplicates(): number {
    let n = 0;
    for (const c of this.liveCount.values()) if (c > 1) n += c - 1;
    return n;
  }

  close(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGTERM");
  }
}

export interface ProbeResult {
  back: number;
  of: number;
  /** Seconds from `from` until the last member that came back got its probe. */
  seconds: number | null;
  /** Members that never got their probe. */
  stranded: string[];
}

export interface Summary {
  scenario: string;
  acknowledged: number;
  refused: Record<string, number>;
  unanswered: number;
  stored: number;
  expectedDeliveries: number;
  delivered: number;
  lost: number;
  duplicated: number;
  duplicatedStored: number;
  duplicatedDelivered: number;
  missing: number;
  clientsBack: number;
  clients: number;
  recoverSeconds: number | null;
  disconnects: number;
  disconnectReasons: Record<string, number>;
  replayed: number;
  gaps: number;
  idsReused: number;
  [extra: string]: unknown;
}

export class History {
  readonly sends: SendRecord[] = [];
  readonly members: Member[] = [];
  private readonly others: TrackedClient[] = [];
  private counter = 0;
  probeResult: ProbeResult | undefined;
  readonly extra: Record<string, unknown> = {};

  constructor(
    readonly scenario: string,
    private readonly sql: <T = Record<string, any>>(query: string, values?: unknown[]) => Promise<T[]>,
  ) {}

  /** A member client; await its `ready` before traffic starts. */
  client(url: string, userId: string, rooms: string[], options: ClientOptions = {}): TrackedClient {
    const c = new TrackedClient(`${userId}`, url, userId, rooms, options);
    if (options.member === false) this.others.push(c);
    else this.members.push(c);
    return c;
  }

  python(url: string, userId: string, rooms: string[]): PythonMember {
    const p = new PythonMember(`py:${userId}`, url, userId, rooms);
    this.members.push(p);
    return p;
  }

  /** Sends one message and records it and its answer. */
  async send(client: TrackedClient, room: string, options: { clientMessageId?: string; content?: string; timeoutMs?: number } = {}): Promise<SendRecord> {
    const content = options.content ?? `${this.scenario}:${client.name}:${++this.counter}`;
    const rec: SendRecord = { client: client.name, room, content, clientMessageId: options.clientMessageId, sentAt: Date.now(), ok: false, unanswered: false };
    this.sends.push(rec);
    const payload: Record<string, unknown> = { roomName: room, content };
    if (options.clientMessageId) payload.clientMessageId = options.clientMessageId;
    try {
      const ack: Ack = await client.socket.timeout(options.timeoutMs ?? 5000).emitWithAck("message:send", payload);
      rec.answeredAt = Date.now();
      rec.ok = ack.ok === true;
      if (ack.ok) rec.id = ack.data?.id;
      else {
        rec.code = ack.error?.code;
        rec.message = ack.error?.message;
      }
    } catch {
      rec.unanswered = true;
    }
    return rec;
  }

  /** Every client sends to its rooms in turn, one message at a time, until stop(). */
  traffic(clients: TrackedClient[], options: { intervalMs?: number; timeoutMs?: number } = {}): { stop(): Promise<void> } {
    let running = true;
    const interval = options.intervalMs ?? 250;
    const loops = clients.map(async (c, k) => {
      await sleep((interval * k) / clients.length);
      for (let i = 0; running; i++) {
        if (c.socket.connected) await this.send(c, c.rooms[i % c.rooms.length], { timeoutMs: options.timeoutMs });
        await sleep(interval * (0.75 + Math.random() * 0.5));
      }
    });
    return {
      async stop() {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  /**
   * After recovery: a fresh client (through `url`) joins every member's rooms and sends one message
   * to each; a member is back when it has the probe of each of its rooms (live, or through its
   * replay). Seconds are counted from `from`.
   */
  async probe(url: string, from: number, timeoutMs = 15_000): Promise<ProbeResult> {
    const deadline = Date.now() + timeoutMs;
    const rooms = [...new Set(this.members.flatMap((m) => m.rooms))];
    const prober = this.client(url, `prober-${Math.random().toString(16).slice(2, 8)}`, rooms, { member: false });
    await Promise.race([prober.ready, sleep(timeoutMs)]);
    const probeIds = new Map<string, number>();
    for (const room of rooms) {
      while (Date.now() < deadline) {
        const rec = await this.send(prober, room, { content: `${this.scenario}:probe:${room}`, timeoutMs: 3000 });
        if (rec.ok && rec.id !== undefined) {
          probeIds.set(room, rec.id);
          break;
        }
        await sleep(300);
      }
    }
    const backAt = (m: Member): number | undefined => {
      let latest = 0;
      for (const room of m.rooms) {
        const id = probeIds.get(room);
        const at = id === undefined ? undefined : m.received.get(id)?.at;
        if (at === undefined) return undefined;
        latest = Math.max(latest, at);
      }
      return latest;
    };
    while (Date.now() < deadline && this.members.some((m) => backAt(m) === undefined)) await sleep(100);
    const times = this.members.map(backAt);
    const back = times.filter((t) => t !== undefined) as number[];
    this.probeResult = {
      back: back.length,
      of: this.members.length,
      seconds: back.length > 0 ? Math.round((Math.max(...back) - from) / 100) / 10 : null,
      stranded: this.members.filter((_, i) => times[i] === undefined).map((m) => m.name),
    };
    return this.probeResult;
  }

  private async storedRows(): Promise<StoredRow[]> {
    const rooms = [...new Set([...this.members.flatMap((m) => m.rooms), ...this.sends.map((s) => s.room)])];
    return this.sql<StoredRow>(
      `select seq::int as id, room_name as room, data ->> 'content' as content
         from realtime_events where type = 'message' and room_name = any ($1::text[]) order by seq`,
      [rooms],
    );
  }

  private compute(stored: StoredRow[]): Summary {
    const acked = this.sends.filter((s) => s.ok);
    const byContent = new Map<string, number>();
    for (const row of stored) byContent.set(row.content, (byContent.get(row.content) ?? 0) + 1);
    const lost = acked.filter((s) => !byContent.has(s.content)).length;
    let duplicatedStored = 0;
    const sentContents = new Set(this.sends.map((s) => s.content));
    for (const [content, n] of byContent) if (n > 1 && sentContents.has(content)) duplicatedStored += n - 1;
    const duplicatedDelivered = this.members.reduce((n, m) => n + m.liveDuplicates(), 0);
    let expected = 0;
    let delivered = 0;
    for (const m of this.members) {
      for (const row of stored) {
        if (!m.rooms.includes(row.room) || row.id <= (m.baseline.get(row.room) ?? 0)) continue;
        expected++;
        if (m.received.get(row.id)?.content === row.content) delivered++;
      }
    }
    const refused: Record<string, number> = {};
    for (const s of this.sends) if (!s.ok && !s.unanswered) refused[s.code ?? "?"] = (refused[s.code ?? "?"] ?? 0) + 1;
    const reasons: Record<string, number> = {};
    for (const m of this.members) for (const d of m.disconnects) reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
    return {
      scenario: this.scenario,
      acknowledged: acked.length,
      refused,
      unanswered: this.sends.filter((s) => s.unanswered).length,
      stored: stored.length,
      expectedDeliveries: expected,
      delivered,
      lost,
      duplicated: duplicatedStored + duplicatedDelivered,
      duplicatedStored,
      duplicatedDelivered,
      missing: expected - delivered,
      clientsBack: this.probeResult?.back ?? this.members.length,
      clients: this.members.length,
      recoverSeconds: this.probeResult?.seconds ?? null,
      disconnects: this.members.reduce((n, m) => n + m.disconnects.length, 0),
      disconnectReasons: reasons,
      replayed: this.members.reduce((n, m) => n + m.replayed, 0),
      gaps: this.members.reduce((n, m) => n + m.gaps, 0),
      idsReused: this.members.reduce((n, m) => n + m.idsReused, 0),
      ...(this.probeResult && this.probeResult.stranded.length > 0
        ? { stranded: this.probeResult.stranded.slice(0, 10), strandedDetail: this.strandedDetail(this.probeResult.stranded.slice(0, 3)) }
        : {}),
      ...this.extra,
    };
  }

  /**
   * Reads the stored rows and compares; waits up to settleMs for late deliveries (a client may get
   * a message late, through its replay). Prints the FAULT-SUMMARY line and returns the numbers.
   */
  async check(settleMs = 5000): Promise<Summary> {
    const deadline = Date.now() + settleMs;
    let summary = this.compute(await this.storedRows());
    while (summary.missing > 0 && Date.now() < deadline) {
      await sleep(250);
      summary = this.compute(await this.storedRows());
    }
    console.log(`FAULT-SUMMARY ${JSON.stringify(summary)}`);
    return summary;
  }

  /**
   * Seconds from `from` until the last member was back in all of its rooms by the server's word:
   * its first `authenticated` after `after` listing every one of its rooms (null: one never was).
   */
  backSeconds(after: number, from: number): number | null {
    let last = from;
    for (const m of this.members) {
      const a = m.authentications.find((x) => x.at >= after && m.rooms.every((r) => (x.rooms ?? []).includes(r)));
      if (!a) return null;
      last = Math.max(last, a.at);
    }
    return Math.round((last - from) / 100) / 10;
  }

  /** What a stranded member went through (for the summary line). */
  private strandedDetail(names: string[]): Record<string, unknown>[] {
    return this.members
      .filter((m) => names.includes(m.name))
      .map((m) => {
        const detail: Record<string, unknown> = { name: m.name, disconnects: m.disconnects.map((d) => d.reason) };
        if (m instanceof TrackedClient) {
          detail.connected = m.socket.connected;
          detail.authenticated = m.authentications.map((x) => x.rooms.length);
          detail.rejoinFailures = m.rejoinFailures.slice(-5);
          detail.rejoined = m.rejoinedAt !== undefined;
          detail.rejoins = m.rejoins.slice(-4);
        } else if (m instanceof PythonMember) {
          detail.authenticated = m.authentications.map((x) => x.rooms?.length ?? 0);
          detail.rejoined = m.rejoinedAt !== undefined;
        }
        return detail;
      });
  }

  /** Presence events telling any member that a user of `users` went offline. */
  offlineAbout(users: Iterable<string>, after = 0): { at: number; userId: string; status: string }[] {
    const set = new Set(users);
    return this.members.flatMap((m) => m.presence.filter((p) => p.at >= after && p.status === "offline" && set.has(p.userId)));
  }

  close(): void {
    for (const m of this.members) m.close();
    for (const c of this.others) c.close();
  }
}
