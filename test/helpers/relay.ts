// End-to-end helpers for the relay: an in-process relay on its own test database, JWTs, real
// socket.io-client connections, and event waiters.
import jwt from "jsonwebtoken";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { runServer, type RunningServer } from "../../relay/main.js";
import { createTestDatabase, type TestDatabase } from "./db.js";

export const JWT_SECRET = "relay-e2e-test-secret-0123456789";

export interface TestRelay {
  url: string;
  port: number;
  nodeId: string;
  db: TestDatabase;
  server: RunningServer;
  /** Stops the relay (idempotent); the database stays for inspection. */
  stop(): Promise<void>;
  /** Stops the relay, closes the clients opened against it and drops its database when it owns it. */
  dispose(): Promise<void>;
}

let relayCounter = 0;
const clientsByUrl = new Map<string, Set<Socket>>();

/**
 * Starts a relay in-process on port 0 against a fresh test database (or `options.db`, shared with
 * another relay of the same file). `env` overrides the defaults below.
 */
export async function startRelay(env: Record<string, string | undefined> = {}, options: { db?: TestDatabase } = {}): Promise<TestRelay> {
  const db = options.db ?? (await createTestDatabase());
  const nodeId = `e2e-${process.pid}-${++relayCounter}`;
  let server: RunningServer;
  try {
    server = await runServer({
      env: {
        DATABASE_URL: db.url,
        REALTIME_JWT_SECRET: JWT_SECRET,
        REALTIME_PORT: "0",
        REALTIME_HOST: "127.0.0.1",
        REALTIME_NODE_ID: nodeId,
        REALTIME_DEMO: "false",
        LOG_LEVEL: "silent",
        ...env,
      },
      installSignalHandlers: false,
    });
  } catch (err) {
    if (!options.db) await db.drop().catch(() => {});
    throw err;
  }
  const url = server.url;
  const closeClients = () => {
    for (const s of clientsByUrl.get(url) ?? []) s.disconnect();
    clientsByUrl.delete(url);
  };
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= server.stop());
  return {
    url,
    port: server.port,
    nodeId,
    db,
    server,
    stop,
    async dispose() {
      closeClients();
      await stop();
      if (!options.db) await db.drop();
    },
  };
}

let userCounter = 0;
/** A user id unique within the run. */
export function uid(prefix = "user"): string {
  userCounter += 1;
  return `${prefix}-${process.pid}-${userCounter}`;
}

export interface TokenOptions {
  secret?: string;
  /** Seconds from now; null: no exp claim. Default one hour. */
  expiresIn?: number | null;
  algorithm?: jwt.Algorithm;
}

/** A signed JWT for userId (as sub; null: no sub) with extra claims. */
export function token(userId: string | null, claims: Record<string, unknown> = {}, opts: TokenOptions = {}): string {
  const payload: Record<string, unknown> = { ...claims };
  if (userId !== null) payload.sub = userId;
  const expiresIn = opts.expiresIn === undefined ? 3600 : opts.expiresIn;
  if (expiresIn !== null && payload.exp === undefined) payload.exp = Math.floor(Date.now() / 1000) + expiresIn;
  return jwt.sign(payload, opts.secret ?? JWT_SECRET, { algorithm: opts.algorithm ?? "HS256" });
}

export type Client = Socket & {
  /** Payload of the `connected` event. */
  hello: { socketId: string; serverTime: string; protocolVersion: number };
  /** Payload of the `authenticated` event. */
  authInfo: { userId: string; sessionId: string; rooms: string[]; anonymous?: boolean };
};

type ClientOptions = Partial<ManagerOptions & SocketOptions>;
type AuthArg = string | Record<string, unknown> | null | undefined;

function open(url: string, auth: AuthArg, opts: ClientOptions): Socket {
  const socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    timeout: 5000,
    ...(auth === null || auth === undefined ? {} : { auth: typeof auth === "string" ? { token: auth } : auth }),
    ...opts,
  });
  let set = clientsByUrl.get(url);
  if (!set) clientsByUrl.set(url, (set = new Set()));
  set.add(socket);
  return socket;
}

/**
 * Connects and resolves once `authenticated` arrived (with `connected` and `authenticated` kept on
 * the client). A token string goes to auth.token; an object is the whole handshake auth.
 */
export function connect(url: string, auth: AuthArg, opts: ClientOptions = {}, timeoutMs = 5000): Promise<Client> {
  const socket = open(url, auth, opts) as Client;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.disconnect();
      reject(new Error(`connect to ${url} timed out`));
    }, timeoutMs);
    socket.once("connected", (p) => (socket.hello = p));
    socket.once("authenticated", (p) => {
      socket.authInfo = p;
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err: Error & { data?: unknown }) => {
      clearTimeout(timer);
      socket.disconnect();
      reject(Object.assign(new Error(`connect_error: ${err.message} ${JSON.stringify(err.data)}`), { data: err.data }));
    });
  });
}

/** Connects expecting a refusal; resolves with the connect_error (message and data). */
export function connectError(
  url: string,
  auth: AuthArg,
  opts: ClientOptions = {},
  timeoutMs = 5000,
): Promise<{ message: string; data: { code: string; message: string } }> {
  const socket = open(url, auth, opts);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.disconnect();
      reject(new Error("expected connect_error, got nothing"));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.disconnect();
      reject(new Error("expected connect_error, but the socket connected"));
    });
    socket.once("connect_error", (err: Error & { data?: any }) => {
      clearTimeout(timer);
      socket.disconnect();
      resolve({ message: err.message, data: err.data });
    });
  });
}

/**
 * Waiters are created before the action that triggers them and awaited after it; a rejection
 * meanwhile is not "unhandled" (awaiting the promise still throws it).
 */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** The next `name` event (matching predicate) on the socket; rejects after timeoutMs. */
export function nextEvent<T = any>(socket: Socket, name: string, predicate: (payload: T) => boolean = () => true, timeoutMs = 3000): Promise<T> {
  return handled(new Promise<T>((resolve, reject) => {
    const listener = (payload: T) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      socket.off(name, listener);
      resolve(payload);
    };
    const timer = setTimeout(() => {
      socket.off(name, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${name}" on ${socket.id ?? "a socket"}`));
    }, timeoutMs);
    socket.on(name, listener);
  }));
}

/** Resolves when no `name` event (matching predicate) arrived within ms; rejects on one. */
export function expectNoEvent<T = any>(socket: Socket, name: string, ms = 300, predicate: (payload: T) => boolean = () => true): Promise<void> {
  return handled(new Promise<void>((resolve, reject) => {
    const listener = (payload: T) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      socket.off(name, listener);
      reject(new Error(`unexpected "${name}" event: ${JSON.stringify(payload)}`));
    };
    const timer = setTimeout(() => {
      socket.off(name, listener);
      resolve();
    }, ms);
    socket.on(name, listener);
  }));
}

/** Collects every `name` event from now on. */
export function record<T = any>(socket: Socket, name: string): T[] {
  const seen: T[] = [];
  socket.on(name, (p: T) => seen.push(p));
  return seen;
}

export type Ack<T = any> = { ok: true; data: T } | { ok: false; error: { code: string; message: string; details?: unknown } };

/** Emits with an acknowledgement; with no payload argument, the event is sent with no payload. */
export function ack<T = any>(socket: Socket, event: string, ...payload: unknown[]): Promise<Ack<T>> {
  return socket.timeout(5000).emitWithAck(event, ...payload) as Promise<Ack<T>>;
}

/** Emits with an acknowledgement that must be ok; returns its data. */
export async function ackOk<T = any>(socket: Socket, event: string, ...payload: unknown[]): Promise<T> {
  const res = await ack<T>(socket, event, ...payload);
  if (!res.ok) throw new Error(`${event} refused: ${res.error.code} ${res.error.message}`);
  return res.data;
}

/** Emits with an acknowledgement that must fail with `code`, and checks the `error` event too. */
export async function ackError(socket: Socket, event: string, code: string, ...payload: unknown[]): Promise<{ code: string; message: string; details?: unknown }> {
  const errorEvent = nextEvent(socket, "error", (e: { code: string }) => e.code === code);
  const res = await ack(socket, event, ...payload);
  if (res.ok) throw new Error(`${event} was accepted (${JSON.stringify(res.data)}); expected ${code}`);
  if (res.error.code !== code) throw new Error(`${event} failed with ${res.error.code} (${res.error.message}); expected ${code}`);
  if (typeof res.error.message !== "string" || res.error.message.length === 0) throw new Error(`${event}: error without a message`);
  const e = await errorEvent;
  if (e.code !== code) throw new Error(`error event ${e.code}, expected ${code}`);
  return res.error;
}

/** Waits until fn() returns a truthy value (polling), for state that has no event. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 3000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Creates a room with SQL; returns its name. */
export async function createRoom(
  db: TestDatabase,
  name: string,
  type = "channel",
  visibility = "public",
  metadata: Record<string, unknown> = {},
  createdBy: string | null = null,
): Promise<string> {
  await db.q("select realtime_create_room($1, $2, $3, $4::jsonb, $5)", [name, type, visibility, JSON.stringify(metadata), createdBy]);
  return name;
}
