// The load generator's websocket clients (bench/lib/wire.ts: engine.io / socket.io frames over
// `ws`, no reconnection), opened at a fixed rate.
import { io, type Socket } from "socket.io-client";
import { openWire, type WireSocket } from "./wire.js";
import { Samples, now, sleep } from "./stats.js";
import { token } from "./context.js";

export interface BenchClient {
  socket: WireSocket;
  userId: string;
  rooms: string[];
  /** Rooms the server said it put the socket in (authenticated.rooms). */
  serverRooms?: string[];
}

export interface RampResult {
  clients: BenchClient[];
  connected: number;
  errors: number;
  errorSamples: string[];
  latency: Samples;
  /** From the first attempt to the last successful connect. */
  seconds: number;
  rate: number;
  /** Most connects in flight at once. */
  maxPending: number;
}

export interface ClientSpec {
  userId: string;
  rooms: string[];
}

export function openClient(url: string, spec: ClientSpec, tokenText = token(spec.userId)): WireSocket {
  return openWire(url, { token: tokenText, rooms: spec.rooms });
}

/** A socket.io-client socket (the soak uses the real client library: reconnects, replay). */
export function openLibraryClient(url: string, spec: ClientSpec, tokenText = token(spec.userId)): Socket {
  return io(url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 30_000, auth: { token: tokenText, rooms: spec.rooms } });
}

/**
 * Opens one client per spec at `rate` per second (open loop: a slow server builds up pending
 * connects, up to maxPending). Resolves when every attempt has connected or failed.
 */
export async function ramp(
  url: string,
  specs: ClientSpec[],
  rate: number,
  opts: { maxPending?: number; timeoutMs?: number; setup?: (c: BenchClient) => void } = {},
): Promise<RampResult> {
  const maxPendingAllowed = opts.maxPending ?? 5000;
  const tokens = specs.map((s) => token(s.userId));
  const clients: BenchClient[] = [];
  const latency = new Samples();
  const errorSamples: string[] = [];
  let started = 0;
  let settled = 0;
  let errors = 0;
  let pending = 0;
  let maxPending = 0;
  let lastConnect = 0;
  const t0 = now();
  let timedOut = false;
  const late: WireSocket[] = [];
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(() => {
      clearInterval(timer);
      timedOut = true;
      resolve();
    }, opts.timeoutMs ?? 600_000);
    const settle = () => {
      settled++;
      pending--;
      if (settled === specs.length) {
        clearTimeout(deadline);
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(() => {
      const due = Math.min(specs.length, Math.floor(((now() - t0) / 1000) * rate) + 1);
      while (started < due && pending < maxPendingAllowed) {
        const i = started++;
        const spec = specs[i];
        const began = now();
        const socket = openClient(url, spec, tokens[i]);
        const client: BenchClient = { socket, userId: spec.userId, rooms: spec.rooms };
        pending++;
        maxPending = Math.max(maxPending, pending);
        socket.once("authenticated", (a: { rooms?: string[] }) => (client.serverRooms = a?.rooms ?? []));
        opts.setup?.(client);
        late.push(socket);
        socket.handshake(
          () => {
            if (timedOut) return void socket.close();
            lastConnect = now();
            latency.add(lastConnect - began);
            clients.push(client);
            settle();
          },
          (err) => {
            if (timedOut) return;
            errors++;
            if (errorSamples.length < 5) errorSamples.push(err.data?.code ? `${err.data.code}: ${err.message}` : err.message);
            socket.close();
            settle();
          },
        );
      }
    }, 2);
  });
  if (timedOut) {
    // Attempts still in flight at the deadline count as failed and are abandoned.
    const ok = new Set(clients.map((c) => c.socket));
    for (const s of late) if (!ok.has(s)) s.close();
    errors += specs.length - settled;
    if (errorSamples.length < 5) errorSamples.push(`${specs.length - started} never attempted, ${started - settled} still pending at the deadline`);
  }
  const seconds = ((lastConnect || now()) - t0) / 1000;
  return { clients, connected: clients.length, errors, errorSamples, latency, seconds, rate: clients.length / seconds, maxPending };
}

/** Waits until every client has its authenticated event (or the timeout). */
export async function waitAuthenticated(clients: BenchClient[], timeoutMs = 10_000): Promise<number> {
  const until = now() + timeoutMs;
  while (now() < until) {
    const n = clients.filter((c) => c.serverRooms !== undefined).length;
    if (n === clients.length) return n;
    await sleep(50);
  }
  return clients.filter((c) => c.serverRooms !== undefined).length;
}

export async function closeAll(clients: BenchClient[]): Promise<void> {
  for (let i = 0; i < clients.length; i++) {
    clients[i].socket.removeAllListeners();
    clients[i].socket.close();
    if (i % 2000 === 1999) await sleep(1);
  }
  clients.length = 0;
}

/** Setup helper: opens every client, retrying failed connects (slower) up to three times. */
export async function connectAll(url: string, specs: ClientSpec[], rate: number): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  let todo = specs;
  let lastErrors: string[] = [];
  for (let round = 0; round < 4 && todo.length > 0; round++) {
    const r = await ramp(url, todo, round === 0 ? rate : rate / 4, { maxPending: 200, timeoutMs: 60_000 });
    clients.push(...r.clients);
    lastErrors = r.errorSamples;
    const ok = new Set(r.clients.map((c) => c.userId));
    todo = todo.filter((s) => !ok.has(s.userId));
    if (todo.length > 0) await sleep(1000);
  }
  if (todo.length > 0) {
    await closeAll(clients);
    throw new Error(`${todo.length}/${specs.length} clients could not connect: ${lastErrors.join("; ")}`);
  }
  await waitAuthenticated(clients);
  return clients;
}
