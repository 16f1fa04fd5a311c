// The Realtime client SDK: one connection (socket.io-client) with its state, token refresh, rooms
// restored and replayed after every reconnect, sends that survive reconnects, and presence.
//
//   const client = new RealtimeClient({ url, token });
//   await client.connect();
//   const room = await client.join("general");
//   room.on("message", (m) => ...);
//   await room.send("hello");
//
// Runs in browsers and Node 20 (no Node-only API).
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { Emitter } from "./emitter.js";
import { RealtimeError, type RealtimeErrorCode } from "./errors.js";
import { Outbox, type RequestOptions } from "./outbox.js";
import { Room, type MemberState, type RoomHost } from "./room.js";
import { refreshDelayMs, resolveToken, type TokenSource } from "./token.js";
import type { TypingTimings } from "./typing.js";
import type { Ack, AuthenticatedEvent, CustomStatus, ErrorPayload, Message, MembershipEvent, Presence, PresenceDiffEvent, PresenceStatus, TypingEvent } from "./wire.js";

export { RealtimeError, type RealtimeErrorCode } from "./errors.js";
export { Room, type MemberState, type RoomEvents, type SendOptions, type HistoryOptions } from "./room.js";
export { newClientMessageId } from "./ids.js";
export { tokenTimes } from "./token.js";
export type { TokenSource } from "./token.js";
export type { TypingTimings } from "./typing.js";
export type * from "./wire.js";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

export interface RealtimeClientOptions {
  /** The relay's URL, e.g. http://localhost:3101. */
  url: string;
  /** A JWT, or a function returning one: called on every (re)connect and before the token expires. */
  token?: TokenSource;
  /** ms to wait for an acknowledgement before a request counts as unanswered (default 10000). */
  ackTimeoutMs?: number;
  /** Messages that may wait for the connection or an answer at once (default 100); more are refused with LIMIT_EXCEEDED. */
  maxPendingSends?: number;
  /** connect() rejects with TIMEOUT (and the client closes) when not authenticated within this many ms (default 30000). */
  connectTimeoutMs?: number;
  /** Reconnect backoff (default 500 ms to 5000 ms). */
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
  /** Typing indicator timings (defaults 2000 and 2500 ms; keep refreshMs below the server's REALTIME_TYPING_TIMEOUT). */
  typing?: Partial<TypingTimings>;
  /**
   * ms a live message is held so that messages arriving out of id order are given in order (default
   * 0). Through several relays two messages sent at the same moment can arrive in either order;
   * 100 to 200 ms orders them at that cost in latency.
   */
  reorderWindowMs?: number;
  /** Passed to socket.io-client's io() (transports, path, extraHeaders...). */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

export interface PresenceUpdate {
  status: PresenceStatus;
  /** Absent: keep; null: clear. */
  customStatus?: CustomStatus | null;
}

export type ClientEvents = {
  state: (state: ConnectionState) => void;
  /** Each time the server accepted the connection (first connect and every reconnect). */
  authenticated: (info: AuthenticatedEvent) => void;
  /** The server's `error` events (refusals of requests too: those also reject their promise), and connection failures. */
  error: (err: RealtimeError) => void;
  /** Each presence change of any user this connection may see (presence:changed, and each change of a presence:diff). */
  presence: (presence: Presence) => void;
  /** Events of other names (from realtime_broadcast in SQL). */
  event: (name: string, payload: unknown) => void;
};

const KNOWN_EVENTS = new Set([
  "connected",
  "authenticated",
  "user:joined",
  "user:left",
  "message:new",
  "typing:event",
  "presence:changed",
  "presence:diff",
  "pong",
  "error",
]);

/** Handshake refusals that pass with time: try again after a pause. */
const RETRY_REFUSALS = new Set<string>(["SERVER_FULL", "LIMIT_EXCEEDED", "UNAVAILABLE", "BUSY", "RATE_LIMITED"]);

export class RealtimeClient extends Emitter<ClientEvents> {
  /** Rooms joined (or being joined), by name. */
  readonly rooms = new Map<string, Room>();
  private _state: ConnectionState = "disconnected";
  private socket: Socket | undefined;
  private authenticated = false;
  private identity: AuthenticatedEvent | undefined;
  private currentToken: string | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private lastServerError: ErrorPayload | undefined;
  private refusals = 0;
  private closedError: RealtimeError | undefined;
  private connecting: Promise<void> | undefined;
  private readonly outbox: Outbox;
  private readonly presence = new Map<string, { presence: MemberState | undefined; version: number }>();
  private readonly host: RoomHost;
  private readonly options: Required<Pick<RealtimeClientOptions, "ackTimeoutMs" | "maxPendingSends" | "connectTimeoutMs" | "reconnectDelayMs" | "reconnectDelayMaxMs">> &
    RealtimeClientOptions;

  constructor(options: RealtimeClientOptions) {
    super();
    if (!options || typeof options.url !== "string") throw new TypeError("RealtimeClient needs { url }");
    this.options = {
      ackTimeoutMs: 10_000,
      maxPendingSends: 100,
      connectTimeoutMs: 30_000,
      reconnectDelayMs: 500,
      reconnectDelayMaxMs: 5000,
      ...options,
    };
    this.outbox = new Outbox(
      {
        ready: () => this.authenticated && !!this.socket?.connected,
        emit: (event, payload, timeoutMs, cb) => {
          this.socket!.timeout(timeoutMs).emit(event, payload, (err: Error | null, answer?: Ack<unknown>) => cb(err, answer));
        },
      },
      { ackTimeoutMs: this.options.ackTimeoutMs, maxPendingSends: this.options.maxPendingSends },
    );
    const typingTimings: TypingTimings = { refreshMs: 2000, idleMs: 2500, ...options.typing };
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const client = this;
    this.host = {
      get userId() {
        return client.identity?.userId;
      },
      get anonymous() {
        return client.identity?.anonymous ?? false;
      },
      typingTimings,
      reorderWindowMs: options.reorderWindowMs ?? 0,
      request: (event, payload, opts) => this.request(event, payload, opts),
      signal: (event, payload) => {
        if (this.authenticated && this.socket?.connected) this.socket.emit(event, payload);
      },
      presenceOf: (userId) => this.presence.get(userId) ?? { presence: undefined, version: 0 },
      forget: (room) => {
        if (this.rooms.get(room.name) === room) this.rooms.delete(room.name);
      },
    };
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** This connection's user id (after the first connect). */
  get userId(): string | undefined {
    return this.identity?.userId;
  }

  /** Messages waiting to be stored (for the connection, or for their answer). */
  get pendingSends(): number {
    return this.outbox.pendingSends;
  }

  /**
   * Connects; resolves once the server authenticated the connection. Rejects with a RealtimeError
   * (UNAUTHORIZED, SERVER_FULL, TIMEOUT...) and closes the client when the first connect fails.
   */
  connect(): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.connecting) return this.connecting;
    this.setState("connecting");
    this.connecting = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new RealtimeError("TIMEOUT", `not connected within ${this.options.connectTimeoutMs} ms`)), this.options.connectTimeoutMs);
      const offAuth = this.once("authenticated", () => {
        clearTimeout(timer);
        offFail();
        resolve();
      });
      const fail = (err: RealtimeError) => {
        clearTimeout(timer);
        offAuth();
        offFail();
        this.shutdown(err);
        reject(err);
      };
      const offFail = this.onFirstConnectFailure(fail);
    });
    this.connecting.catch(() => {});
    this.openSocket();
    return this.connecting;
  }

  /** Joins a room (or returns the one already joined). Rejects with FORBIDDEN, NOT_FOUND, ... */
  join(roomName: string, options: { since?: number } = {}): Promise<Room> {
    if (this.closedError) return Promise.reject(this.closedError);
    const existing = this.rooms.get(roomName);
    if (existing) return existing.joined ? Promise.resolve(existing) : (this.joining.get(existing) ?? Promise.resolve(existing));
    const room = new Room(this.host, roomName, options.since);
    this.rooms.set(roomName, room);
    const joined = room.whenJoined();
    this.joining.set(room, joined);
    joined.finally(() => this.joining.delete(room)).catch(() => {});
    room.join();
    return joined;
  }
  private readonly joining = new WeakMap<Room, Promise<Room>>();

  /** Sets this user's presence; resolves with it as the server stored it. */
  setPresence(update: PresenceUpdate): Promise<Presence> {
    const payload: Record<string, unknown> = { status: update.status };
    if (update.customStatus !== undefined) payload.customStatus = update.customStatus;
    return this.request<Presence>("presence:update", payload);
  }

  /** Presence of users this connection may see (at most 100 ids). */
  getPresence(userIds: string[]): Promise<Presence[]> {
    return this.request<Presence[]>("presence:get", { userIds });
  }

  /** Any client event with an acknowledgement (waits for the connection; see RequestOptions). */
  request<T>(event: string, payload: unknown, options?: RequestOptions): Promise<T> {
    return this.outbox.request<T>(event, payload, options);
  }

  /** Closes the connection; pending sends and requests are rejected with CLOSED. */
  close(): void {
    this.shutdown(new RealtimeError("CLOSED", "the client was closed"));
  }

  // ---- connection ---------------------------------------------------------------------------

  private openSocket(): void {
    const socket = io(this.options.url, {
      reconnection: true,
      reconnectionDelay: this.options.reconnectDelayMs,
      reconnectionDelayMax: this.options.reconnectDelayMaxMs,
      autoConnect: false,
      // Its own connection: two clients of one page (two users, two tokens) never share one.
      forceNew: true,
      ...this.options.socket,
      // A fresh token for every handshake (reconnects included).
      auth: (cb: (data: object) => void) => {
        resolveToken(this.options.token).then(
          (token) => {
            if (token !== undefined) this.currentToken = token;
            cb(token ? { token } : {});
          },
          (err: unknown) => {
            this.emit("error", new RealtimeError("UNAUTHORIZED", `the token function failed: ${(err as Error)?.message ?? err}`));
            cb(this.currentToken ? { token: this.currentToken } : {});
          },
        );
      },
    });
    this.socket = socket;

    socket.on("authenticated", (info: AuthenticatedEvent) => this.onAuthenticated(info));
    socket.on("disconnect", (reason: string) => this.onDisconnect(reason));
    socket.on("connect_error", (err: Error & { data?: { code?: string; message?: string } }) => this.onConnectError(err));
    socket.on("error", (e: ErrorPayload) => {
      this.lastServerError = e;
      this.emit("error", RealtimeError.from(e));
    });
    socket.on("message:new", (m: Message) => this.rooms.get(m?.roomName)?.onMessage(m));
    socket.on("user:joined", (e: MembershipEvent) => this.rooms.get(e?.roomName)?.onUserJoined(e.userId));
    socket.on("user:left", (e: MembershipEvent) => this.rooms.get(e?.roomName)?.onUserLeft(e.userId));
    socket.on("typing:event", (e: TypingEvent) => this.rooms.get(e?.roomName)?.onTyping(e));
    socket.on("presence:changed", (p: Presence) => this.onPresence(p));
    // Several changes of a room's members within one server tick: the same changes, in order.
    socket.on("presence:diff", (d: PresenceDiffEvent) => {
      if (Array.isArray(d?.changes)) for (const p of d.changes) this.onPresence(p);
    });
    socket.onAny((event: string, ...args: unknown[]) => {
      if (!KNOWN_EVENTS.has(event)) this.emit("event", event, args[0]);
    });
    socket.io.on("reconnect_attempt", () => {
      if (this._state === "connected") this.setState("reconnecting");
    });
    socket.connect();
  }

  private onAuthenticated(info: AuthenticatedEvent): void {
    this.identity = info;
    this.authenticated = true;
    this.refusals = 0;
    this.lastServerError = undefined;
    this.setState("connected");
    // Rooms first (each re-join replays from its offset), then what waited to be sent.
    for (const room of this.rooms.values()) room.join();
    this.outbox.flush();
    this.scheduleRefresh();
    this.emit("authenticated", info);
  }

  private onDisconnect(reason: string): void {
    this.authenticated = false;
    this.clearRefresh();
    this.outbox.disconnected();
    for (const room of this.rooms.values()) room.disconnected();
    if (this.closedError) return;
    if (reason === "io server disconnect") {
      // The server ended the socket on purpose. An expired token: reconnect with a fresh one.
      const code = this.lastServerError?.code;
      if (code === "TOKEN_EXPIRED" && typeof this.options.token === "function") {
        this.setState("reconnecting");
        this.socket?.connect();
        return;
      }
      if (code === "RATE_LIMITED") {
        this.setState("reconnecting");
        this.retryLater(5000);
        return;
      }
      this.shutdown(new RealtimeError((code as RealtimeErrorCode) ?? "CLOSED", this.lastServerError?.message ?? "the server closed the connection"));
      return;
    }
    this.setState("reconnecting");
  }

  private firstConnectFailure: ((err: RealtimeError) => void) | undefined;
  private onFirstConnectFailure(fail: (err: RealtimeError) => void): () => void {
    this.firstConnectFailure = fail;
    return () => {
      if (this.firstConnectFailure === fail) this.firstConnectFailure = undefined;
    };
  }

  private onConnectError(err: Error & { data?: { code?: string; message?: string } }): void {
    if (this.closedError) return;
    const code = err.data?.code;
    if (!code) {
      // The transport failed (relay down, network): socket.io retries with its backoff.
      if (this._state === "connected") this.setState("reconnecting");
      if (!this.socket?.active) this.retryLater(this.options.reconnectDelayMs);
      return;
    }
    const error = new RealtimeError(code as RealtimeErrorCode, err.data?.message ?? err.message);
    this.emit("error", error);
    if (this.firstConnectFailure && !RETRY_REFUSALS.has(code)) {
      this.firstConnectFailure(error);
      return;
    }
    this.refusals++;
    // A refused token may be replaced by the token function; give it a few tries, then stop.
    const tokenRefusal = code === "UNAUTHORIZED" || code === "TOKEN_EXPIRED";
    if (RETRY_REFUSALS.has(code) || (tokenRefusal && typeof this.options.token === "function" && this.refusals <= 3)) {
      this.setState("reconnecting");
      this.retryLater(Math.min(this.options.reconnectDelayMaxMs * 2 ** Math.min(this.refusals - 1, 3), 30_000));
      return;
    }
    this.firstConnectFailure?.(error);
    this.shutdown(error);
  }

  private retryLater(ms: number): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closedError && this.socket && !this.socket.connected && !this.socket.active) this.socket.connect();
    }, ms);
  }

  private onPresence(p: Presence): void {
    if (!p || typeof p.userId !== "string") return;
    const prev = this.presence.get(p.userId);
    this.presence.set(p.userId, {
      presence: { status: p.status, customStatus: p.customStatus ?? null, lastSeen: p.lastSeen ?? null },
      version: (prev?.version ?? 0) + 1,
    });
    if (this.presence.size > 10_000) this.presence.delete(this.presence.keys().next().value as string);
    for (const room of this.rooms.values()) room.onPresence(p);
    this.emit("presence", p);
  }

  // ---- token refresh ------------------------------------------------------------------------

  private scheduleRefresh(): void {
    this.clearRefresh();
    if (typeof this.options.token !== "function") return;
    const delay = refreshDelayMs(this.currentToken);
    if (delay === undefined) return;
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.min(delay, 2_147_000_000));
  }

  private async refresh(): Promise<void> {
    this.refreshTimer = undefined;
    try {
      const token = await resolveToken(this.options.token);
      if (!token || !this.authenticated) return;
      await this.request("auth:refresh", { token }, { retryOnReconnect: false, maxAttempts: 3 });
      this.currentToken = token;
      this.scheduleRefresh();
    } catch (err) {
      const e = err instanceof RealtimeError ? err : new RealtimeError("UNAUTHORIZED", `token refresh failed: ${(err as Error)?.message ?? err}`);
      this.emit("error", e);
      // Try again shortly while connected; at worst the server ends the socket and the reconnect gets a fresh token.
      if (this.authenticated && !this.closedError) this.refreshTimer = setTimeout(() => void this.refresh(), 2000);
    }
  }

  private clearRefresh(): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  // ---- state --------------------------------------------------------------------------------

  private setState(state: ConnectionState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit("state", state);
  }

  private shutdown(err: RealtimeError): void {
    if (this.closedError) return;
    this.closedError = err;
    // A connect() still waiting settles with the same error.
    const firstConnect = this.firstConnectFailure;
    this.firstConnectFailure = undefined;
    firstConnect?.(err);
    this.authenticated = false;
    this.clearRefresh();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.outbox.close(err);
    for (const room of this.rooms.values()) room.closed(err);
    this.rooms.clear();
    const socket = this.socket;
    this.socket = undefined;
    socket?.removeAllListeners();
    socket?.offAny();
    socket?.disconnect();
    this.setState("disconnected");
  }
}
