// What the SDK tests share: tokens, SDK clients that record what they saw, relays in their own
// process, a TCP load balancer, free ports below 32768, and the checks of a chat run.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import jwt from "jsonwebtoken";
import { expect } from "vitest";
import { RealtimeClient, type ConnectionState, type Message, type RealtimeClientOptions, type Room } from "../../client/index.js";

export const SECRET = "client-sdk-test-secret-0123456789";

let counter = 0;
/** A name unique within the run. */
export function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** A JWT for userId expiring in `seconds`. */
export function sign(userId: string, seconds = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ sub: userId, iat: now, exp: now + seconds }, SECRET, { algorithm: "HS256" });
}

/** An SDK client with everything it saw recorded. */
export interface Recorded {
  client: RealtimeClient;
  userId: string;
  states: ConnectionState[];
  errors: string[];
  tokensIssued: number;
}

export function sdkClient(url: string, userId: string, options: Partial<RealtimeClientOptions> & { tokenSeconds?: number } = {}): Recorded {
  const rec: Recorded = { client: undefined as unknown as RealtimeClient, userId, states: [], errors: [], tokensIssued: 0 };
  const { tokenSeconds, ...rest } = options;
  rec.client = new RealtimeClient({
    url,
    token: () => {
      rec.tokensIssued++;
      return sign(userId, tokenSeconds ?? 3600);
    },
    reconnectDelayMs: 100,
    reconnectDelayMaxMs: 500,
    socket: { transports: ["websocket"] },
    ...rest,
  });
  rec.client.on("state", (s) => rec.states.push(s));
  rec.client.on("error", (e) => rec.errors.push(`${e.code}: ${e.message}`));
  return rec;
}

/** Every message a room gave the application, in the order given. */
export function recordMessages(room: Room): Message[] {
  const seen: Message[] = [];
  room.on("message", (m) => seen.push(m));
  return seen;
}

/**
 * A chatter: sends `content-N` every `everyMs` until stopped; keeps the promises of its sends.
 */
export function chatter(room: Room, label: string, everyMs: number) {
  const sends: Promise<Message>[] = [];
  let n = 0;
  const timer = setInterval(() => {
    const p = room.send(`${label}-${++n}`);
    p.catch(() => {});
    sends.push(p);
  }, everyMs);
  return {
    sends,
    async stop(): Promise<Message[]> {
      clearInterval(timer);
      return Promise.all(sends);
    },
  };
}

/**
 * The checks of a chat run: every client received every stored message of the room exactly once and
 * in id order, and each resolved send is one stored message with its clientMessageId.
 */
export function expectExactlyOnceInOrder(received: Message[], storedIds: number[], who: string): void {
  const ids = received.map((m) => m.id);
  const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
  expect(duplicates, `${who}: messages given twice`).toEqual([]);
  const outOfOrder = ids.filter((id, i) => i > 0 && id < ids[i - 1]);
  expect(outOfOrder, `${who}: messages out of id order`).toEqual([]);
  const missing = storedIds.filter((id) => !ids.includes(id));
  expect(missing, `${who}: stored messages never given`).toEqual([]);
  expect(ids, `${who}: exactly the stored messages`).toEqual(storedIds);
}

/** A free TCP port below 32768 (above it the kernel hands out ephemeral ports). */
export async function freeLowPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free port below 32768");
}

// ---- relays in their own process ---------------------------------------------------------------

export interface RelayProcess {
  port: number;
  url: string;
  proc: ChildProcess;
  logs: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnRelay(env: Record<string, string>): Promise<RelayProcess> {
  const proc = spawn(process.execPath, ["--import", "tsx", path.resolve("test/client/relay-process.ts")], {
    env: { ...process.env, REALTIME_JWT_SECRET: SECRET, REALTIME_PORT: "0", REALTIME_HOST: "127.0.0.1", REALTIME_DEMO: "false", LOG_LEVEL: "info", LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${logs.join("\n")}`)), 30_000);
    readline.createInterface({ input: proc.stdout! }).on("line", (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line);
        if (entry.msg === "relay listening") {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a log line
      }
    });
    readline.createInterface({ input: proc.stderr! }).on("line", (line) => logs.push(line));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`relay exited:\n${logs.join("\n")}`));
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    logs,
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

// ---- a load balancer ----------------------------------------------------------------------------

export interface Balancer {
  url: string;
  close(): Promise<void>;
}

/** A TCP proxy that sends each connection to the first backend (in the given order) that accepts it. */
export async function startBalancer(backends: () => number[]): Promise<Balancer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((downstream) => {
    sockets.add(downstream);
    downstream.on("close", () => sockets.delete(downstream));
    downstream.on("error", () => {});
    downstream.pause();
    const tryBackend = (list: number[]) => {
      if (list.length === 0) return downstream.destroy();
      let connected = false;
      const upstream = net.connect(list[0], "127.0.0.1");
      upstream.on("error", () => {
        upstream.destroy();
        if (!connected) tryBackend(list.slice(1));
        else downstream.destroy();
      });
      upstream.once("connect", () => {
        connected = true;
        sockets.add(upstream);
        upstream.on("close", () => {
          sockets.delete(upstream);
          downstream.destroy();
        });
        downstream.on("close", () => upstream.destroy());
        downstream.pipe(upstream);
        upstream.pipe(downstream);
        downstream.resume();
      });
    };
    tryBackend(backends());
  });
  const port = await freeLowPort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
