// Real socket.io-client connections in tests: connecting (or being refused), waiting for events,
// collecting them, and emitting with acknowledgements.
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";

export type Client = Socket & {
  /** Payload of the `connected` event. */
  hello: { socketId: string; serverTime: string; protocolVersion: number };
  /** Payload of the `authenticated` event. */
  authInfo: { userId: string; sessionId: string; rooms: string[]; anonymous?: boolean };
};

type ClientOptions = Partial<ManagerOptions & SocketOptions>;
type AuthArg = string | Record<string, unknown> | null | undefined;

const clientsByUrl = new Map<string, Set<Socket>>();

function open(url: string, auth: AuthArg, opts: ClientOptions): Socket {
  const socket = io(url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    timeout: 5000,
    ...(auth === null || auth === undefined ? {} : { auth: typeof auth === "string" ? { token: auth } : auth }),
    ...opts,
  });
  // Presence changes of one tick may come as a room's presence:diff: handed to the test's
  // presence:changed listeners one by one, as the client SDK does.
  socket.on("presence:diff", (d: { changes?: unknown[] }) => {
    for (const change of d?.changes ?? []) for (const listener of socket.listeners("presence:changed")) listener(change);
  });
  let set = clientsByUrl.get(url);
  if (!set) clientsByUrl.set(url, (set = new Set()));
  set.add(socket);
  return socket;
}

/** Disconnects every client connect() or connectError() opened against url. */
export function closeClients(url: string): void {
  for (const s of clientsByUrl.get(url) ?? []) s.disconnect();
  clientsByUrl.delete(url);
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

/** Collects every payload of the `name` event on the socket from now on. */
export function collect<T = any>(socket: Socket, name: string): T[] {
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
