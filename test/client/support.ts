// What the SDK tests share: tokens, SDK clients that record what they saw, a TCP load balancer that
// prefers one relay, and the checks of a chat run. Relays in their own process and free ports come
// from the shared helpers (processes.ts, ports.ts).
import net from "node:net";
import jwt from "jsonwebtoken";
import { expect } from "vitest";
import { RealtimeClient, type ConnectionState, type Message, type RealtimeClientOptions, type Room } from "../../client/index.js";
import { freePort } from "../helpers/ports.js";
import { spawnRelay as spawnRelayProcess, type RelayProcess } from "../helpers/processes.js";

export { freePort as freeLowPort };
export type { RelayProcess };

/** A relay in its own process, signing tokens with this file's secret. */
export function spawnRelay(env: Record<string, string>, nodeId?: string): Promise<RelayProcess> {
  return spawnRelayProcess({ REALTIME_JWT_SECRET: SECRET, REALTIME_DEMO: "false", ...env }, nodeId);
}

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

// ---- a load balancer ----------------------------------------------------------------------------

export interface Balancer {
  url: string;
  close(): Promise<void>;
}

/**
 * A TCP proxy that sends each connection to the first backend, in the given order, that accepts it
 * (helpers/faults.ts's balancer takes turns instead; these tests place each client on a chosen relay).
 */
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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
