// The relay: serves Socket.io and HTTP, calls one SQL function per client event, and delivers
// NOTIFY payloads to its own local sockets (every relay receives every notification, so local-only
// delivery means each socket gets each notification exactly once). Messages go through the
// Socket.io adapter (Redis when configured), which reaches the sockets of every relay.
import http from "node:http";
import os from "node:os";
import { Server, type Socket } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import type { Config } from "../lib/config.js";
import { Db } from "../lib/db.js";
import { Authenticator, type Identity } from "./auth.js";
import { EventLog } from "./event-log.js";
import { Batcher } from "./batcher.js";
import * as sql from "../lib/sql/index.js";
import type { ItemResult, OutgoingMessage, TypingChange, TypingChangeResult } from "../lib/sql/index.js";
import { Listener, type Notification } from "./listener.js";
import type { Logger } from "../lib/logger.js";
import { Metrics } from "./metrics.js";
import { PROTOCOL_VERSION, RealtimeError, toRealtimeError, type ErrorCode } from "../protocol/index.js";
import { registerHandlers } from "./handlers.js";
import { handleHttp } from "./http.js";
import { MAX_DEPTH, nestedDeeperThan } from "./validate.js";
import { SocketLimits, typingKey } from "./limits.js";
import { createDedupAdapter, DeliveredMessages, dropPublishesWhileDown } from "./recovery.js";
import { RateLimitedLog } from "../lib/rate-limited-log.js";

export interface SocketData {
  identity: Identity;
  connectionId: string;
  rooms: string[];
  expiryTimer?: NodeJS.Timeout;
  limits: SocketLimits;
  /** What the socket was registered with, to register it again in place when its row is lost. */
  device: unknown;
  /** Sent an event since the last heartbeat (idle-to-away). */
  active?: boolean;
}

interface Registered {
  connectionId: string;
  rooms: string[];
}
export type StoredMessage = Record<string, unknown> & { id: number; roomName: string };
export type { OutgoingMessage, TypingChange };
export type TypingResult = TypingChangeResult;

export type RelaySocket = Socket<Record<string, (...args: any[]) => void>, Record<string, (...args: any[]) => void>, Record<string, never>, SocketData>;

/** Socket.io room names: one per chat room, one per user (all of the user's sockets). */
export const roomKey = (name: string) => `room:${name}`;
export const userKey = (userId: string) => `user:${userId}`;

/**
 * Whether a browser origin may connect. Requests without an Origin header (native and server-side
 * clients) are allowed: authentication is the token, not the origin. Same-origin requests (the
 * built-in demo page, clients such as python-socketio that send the server's own address) are
 * always allowed; REALTIME_CORS_ORIGIN adds origins.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: string[] | undefined): boolean {
  if (!origin) return true;
  if (allowed && (allowed.includes("*") || allowed.includes(origin))) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** How long before a detected Redis gap deliveries may already have been lost (in flight, clock skew). */
const GAP_MARGIN_MS = 5_000;

export interface RelayOptions {
  config: Readonly<Config>;
  databaseUrl: string;
  logger: Logger;
  /** Generated development secret (embedded mode), used when no secret is configured. */
  devJwtSecret?: string;
}

export class Relay {
  readonly config: Readonly<Config>;
  readonly db: Db;
  readonly metrics = new Metrics();
  readonly log: Logger;
  readonly httpServer: http.Server;
  readonly io: Server;
  readonly auth: Authenticator;
  readonly eventLog: EventLog;
  /** message:send, handshakes and typing go to the database in natural batches (batcher.ts). */
  readonly messages: Batcher<OutgoingMessage, StoredMessage>;
  readonly typing: Batcher<TypingChange, TypingResult>;
  private readonly registrations: Batcher<sql.ConnectionRegistration, Registered>;
  readonly listener: Listener;
  readonly startedAt = Date.now();
  private redisPub: Redis | undefined;
  private redisSub: Redis | undefined;
  private timers: NodeJS.Timeout[] = [];
  private pendingCloses = new Set<string>();
  private stopping = false;
  private handshaking = 0;
  redisReady = false;
  /** Message ids delivered to local sockets lately, so a replay after a Redis gap skips them. */
  private readonly delivered = new DeliveredMessages(30_000);
  /** When the current Redis gap began (undefined: no gap). */
  private redisGapSince: number | undefined;
  private readonly warnings: RateLimitedLog;
  /** Users of this relay shown away because they were idle: their next event brings them back. */
  private readonly idleUsers = new Set<string>();
  /** The HS256 secret the demo page may mint tokens with, when allowed (see demo.ts). */
  readonly demoTokenSecret: string | undefined;

  constructor(private readonly options: RelayOptions) {
    this.config = options.config;
    this.log = options.logger;
    this.db = new Db({
      connectionString: options.databaseUrl,
      max: this.config.dbPoolSize,
      applicationName: `realtime-relay ${this.config.nodeId}`,
      synchronousCommit: this.config.dbSynchronousCommit ? "on" : "off",
      statementTimeoutMs: this.config.dbStatementTimeoutMs,
      lockTimeoutMs: this.config.dbLockTimeoutMs,
      idleInTransactionTimeoutMs: this.config.dbIdleTxTimeoutMs,
      log: this.log,
    });
    this.db.observe((call, seconds, ok) => this.metrics.sqlDuration.observe({ call, ok: ok ? "true" : "false" }, seconds));
    this.auth = new Authenticator(
      options.devJwtSecret && !this.config.jwtSecret && !this.config.jwtPublicKey
        ? { ...this.config, jwtSecret: options.devJwtSecret, jwtAlgorithms: ["HS256"] }
        : this.config,
    );
    this.demoTokenSecret = !this.config.demo
      ? undefined
      : options.devJwtSecret && !this.config.jwtSecret && !this.config.jwtPublicKey
        ? options.devJwtSecret
        : this.config.demoTokens && this.config.jwtSecret
          ? this.config.jwtSecret
          : undefined;
    // Acknowledged means stored: with durableMessages the batch's transaction commits with
    // synchronous_commit = on (set_config local to it, same round trip), so the acknowledgement
    // waits for the WAL flush while the session's other commits stay as configured. A retry of a
    // stored clientMessageId comes back with duplicate: true (the handler does not deliver it again).
    this.messages = new Batcher(async (items) => {
      const rows = await sql.sendMessages(this.db, items, { durable: this.config.durableMessages });
      return rows.map((r): ItemResult<StoredMessage> =>
        r.ok ? { ok: true, value: (r.duplicate ? { ...r.message!, duplicate: true } : r.message!) as unknown as StoredMessage } : { ok: false, error: r.error! },
      );
    }, 100);
    this.typing = new Batcher((items) => sql.typingChanges(this.db, items, this.config.typingTimeoutMs), 200);
    // A connect storm costs one round trip and one commit per batch, and holds one pool
    // connection, leaving the rest of the pool to the events of connected clients.
    this.registrations = new Batcher(async (items) => {
      const rows = await sql.registerConnections(this.db, items, this.config.nodeId);
      return rows.map((r): ItemResult<Registered> =>
        r.error ? { ok: false, error: r.error } : { ok: true, value: { connectionId: r.connectionId!, rooms: r.rooms ?? [] } },
      );
    }, 200);
    this.eventLog = new EventLog(this.db, this.config.logEventTypes, this.config.logEvents, this.metrics, this.log);
    this.listener = new Listener(
      options.databaseUrl,
      (n) => this.onNotification(n),
      (lostAt) => void this.resync(lostAt).catch((err) => this.log.warn({ err: (err as Error).message }, "resync after LISTEN reconnect failed")),
      this.log.child({ scope: "listen" }),
    );

    this.httpServer = http.createServer((req, res) => {
      handleHttp(this, req, res).catch((err: unknown) => {
        this.log.error({ err }, "http handler failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "INTERNAL", message: "internal error" } }));
      });
    });
    const origins = this.config.corsOrigins;
    this.warnings = new RateLimitedLog(this.log);
    this.io = new Server(this.httpServer, {
      // Oversized frames are refused by engine.io (the connection closes); below that, events over
      // maxPayloadBytes get PAYLOAD_TOO_LARGE.
      maxHttpBufferSize: this.config.maxPayloadBytes * 2,
      // Polling from a listed origin needs CORS headers; same-origin requests need none.
      cors: origins ? { origin: origins.includes("*") ? true : origins, credentials: true } : undefined,
      pingInterval: 25_000,
      pingTimeout: 20_000,
      // CORS headers only govern HTTP long-polling; a browser's websocket upgrade is checked here
      // so REALTIME_CORS_ORIGIN (or same-origin when unset) holds for every transport.
      allowRequest: (req, callback) => {
        if (!originAllowed(req.headers.origin, req.headers.host, origins)) {
          this.warnings.warn("origin", { origin: String(req.headers.origin).slice(0, 200) }, "refused a connection from an origin not in REALTIME_CORS_ORIGIN");
          return callback("origin not allowed", false);
        }
        // Transport sessions that never send the Socket.io CONNECT hold no slot of
        // REALTIME_MAX_CONNECTIONS; they are bounded here, and closed after Socket.io's
        // connectTimeout (45 s: a handshake slowed by a connect storm must not be cut off).
        if (this.io.engine.clientsCount >= this.engineCap) return callback("server full", false);
        callback(null, true);
      },
    });
  }

  /** Room for handshakes in flight above the connection cap. */
  private get engineCap(): number {
    return this.config.maxConnections + Math.max(16, Math.ceil(this.config.maxConnections / 10));
  }

  get localConnectionCount(): number {
    return this.io.of("/").sockets.size;
  }

  async start(): Promise<void> {
    if (this.config.redisUrl) await this.attachRedis(this.config.redisUrl);

    await this.listener.start();
    const closedOnStart = await sql.nodeStart(this.db, {
      nodeId: this.config.nodeId,
      hostname: os.hostname(),
      pid: process.pid,
      heartbeatMs: this.config.presenceHeartbeatMs,
      staleAfterMs: this.config.staleAfterMs,
    });
    if (closedOnStart > 0) this.log.info({ closed: closedOnStart }, "closed connections left by an earlier process with this node id");

    this.io.use((socket, next) => {
      this.handshake(socket as RelaySocket).then(
        () => next(),
        (err) => {
          const e = toRealtimeError(err);
          this.metrics.connectionsRejected.inc({ code: e.code });
          // A client refused by a connect_error does not retry by itself. When the cause passes
          // (shutting down, database unreachable or busy), close the transport instead: the
          // client's reconnect logic tries again with its backoff.
          if (e.code === "UNAVAILABLE" || e.code === "BUSY") {
            this.log.debug({ code: e.code, reason: e.message }, "handshake deferred: closing the transport so the client retries");
            socket.conn.close();
            return;
          }
          this.log.debug({ code: e.code, reason: e.message }, "handshake refused");
          const error = new Error(e.message) as Error & { data: unknown };
          error.data = { code: e.code, message: e.message };
          next(error);
        },
      );
    });
    this.io.on("connection", (socket) => this.onConnection(socket as RelaySocket));

    this.eventLog.start();
    this.every(this.config.presenceHeartbeatMs, () => this.heartbeat());
    this.every(250, () => this.tick());
    this.every(Math.max(1000, Math.floor(this.config.presenceHeartbeatMs / 2)), () => this.sweepStale());
    // Also soon after start, so a relay restarted more often than hourly still prunes; spread so
    // relays started together do not all prune at once. A failing prune is worth a warning: the
    // table grows until it works.
    this.every(3_600_000, () => this.pruneEvents(), { firstAfterMs: 30_000 + Math.floor(Math.random() * 30_000), failureLevel: "warn" });

    await new Promise<void>((resolve, reject) => {
      this.httpServer.once("error", reject);
      this.httpServer.listen(this.config.port, this.config.host, () => {
        this.httpServer.off("error", reject);
        resolve();
      });
    });
    this.log.info({ port: this.port, host: this.config.host, nodeId: this.config.nodeId, redis: !!this.config.redisUrl }, "relay listening");
  }

  get port(): number {
    const address = this.httpServer.address();
    return typeof address === "object" && address ? address.port : this.config.port;
  }

  private async attachRedis(url: string): Promise<void> {
    const log = this.log.child({ scope: "redis" });
    // Capped, jittered backoff; never give up (maxRetriesPerRequest null).
    const pub = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: (n) => Math.min(2000, 50 * 2 ** n) * (0.75 + Math.random() / 2) });
    const sub = pub.duplicate();
    let reported = false;
    let connectedOnce = false;
    const lost = () => {
      if (this.redisReady || this.redisGapSince === undefined) this.redisGapSince ??= Date.now();
      this.delivered.holdFrom(this.redisGapSince - GAP_MARGIN_MS);
      this.redisReady = false;
    };
    for (const [name, conn] of [["pub", pub], ["sub", sub]] as const) {
      conn.on("error", (err) => {
        if (!reported) log.warn({ err: err.message, conn: name }, "redis error; cross-relay delivery paused");
        reported = true;
      });
      conn.on("ready", () => {
        reported = false;
        const ready = pub.status === "ready" && sub.status === "ready";
        if (!ready) return;
        this.redisReady = true;
        log.info("redis connected");
        if (connectedOnce && this.redisGapSince !== undefined) this.afterRedisGap();
        connectedOnce = true;
      });
      conn.on("end", lost);
      conn.on("close", lost);
    }
    this.redisPub = pub;
    this.redisSub = sub;
    dropPublishesWhileDown(pub, () => this.metrics.redisPublishesDropped.inc());
    this.io.adapter(createDedupAdapter(pub, sub, { key: this.config.redisPrefix }, this.delivered));
    // Another relay back from a Redis gap asks every relay to replay that window to its sockets.
    this.io.on("realtime:replay" as never, ((since: unknown) => {
      if (typeof since === "number" && Number.isFinite(since)) void this.replayMessages(since, "peer");
    }) as never);
    // Start-up waits briefly for Redis, then carries on with local delivery if it is down.
    await Promise.race([
      new Promise<void>((resolve) => (pub.status === "ready" ? resolve() : pub.once("ready", () => resolve()))),
      new Promise<void>((resolve) => setTimeout(resolve, 3000).unref()),
    ]);
  }

  private every(ms: number, fn: () => Promise<unknown>, options: { firstAfterMs?: number; failureLevel?: "debug" | "warn" } = {}): void {
    let running = false;
    const run = () => {
      if (running || this.stopping) return;
      running = true;
      fn()
        .catch((err) => this.log[options.failureLevel ?? "debug"]({ err: (err as Error).message }, "periodic task failed"))
        .finally(() => (running = false));
    };
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.push(timer);
    if (options.firstAfterMs !== undefined) {
      const first = setTimeout(run, options.firstAfterMs);
      first.unref();
      this.timers.push(first);
    }
  }

  // ---- handshake and connection lifecycle -------------------------------------------------

  private identify(socket: RelaySocket): Identity {
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    let token: unknown = auth.token;
    if (token === undefined) {
      const header = socket.handshake.headers.authorization;
      if (typeof header === "string" && /^Bearer\s+/i.test(header)) token = header.replace(/^Bearer\s+/i, "");
    }
    if (token === undefined || token === null || token === "") {
      if (this.config.allowAnonymous) return { userId: `anon:${socket.id}`, anonymous: true, roles: [], exp: undefined };
      throw new RealtimeError("UNAUTHORIZED", "a token is required (handshake auth.token or Authorization: Bearer)");
    }
    return this.auth.verify(token);
  }

  private async handshake(socket: RelaySocket): Promise<void> {
    if (this.stopping) throw new RealtimeError("UNAVAILABLE", "server is shutting down");
    // Handshakes still registering hold a slot too: concurrent handshakes must not overshoot the cap.
    if (this.localConnectionCount + this.handshaking >= this.config.maxConnections) {
      throw new RealtimeError("SERVER_FULL", `this server holds its maximum of ${this.config.maxConnections} connections`);
    }
    this.handshaking++;
    try {
      await this.admit(socket);
    } finally {
      this.handshaking--;
    }
  }

  private async admit(socket: RelaySocket): Promise<void> {
    const identity = this.identify(socket);
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    let device: unknown = auth.device;
    // A client-chosen device object is kept when small and storable (jsonb cannot hold \u0000).
    if (
      device === undefined ||
      device === null ||
      typeof device !== "object" ||
      Array.isArray(device) ||
      nestedDeeperThan(device, MAX_DEPTH) || // JSON.stringify would overflow the stack
      JSON.stringify(device).length > 1024 ||
      JSON.stringify(device).includes("\\u0000")
    ) {
      const ua = socket.handshake.headers["user-agent"];
      device = ua ? { userAgent: String(ua).slice(0, 255) } : null;
    }
    const registered = await this.registrations.submit({
      socketId: socket.id,
      userId: identity.anonymous ? null : identity.userId,
      device,
      metadata: { address: socket.handshake.address },
      anonymous: identity.anonymous,
      maxPerUser: this.config.maxConnectionsPerUser,
    });
    socket.data.identity = identity;
    socket.data.device = device;
    socket.data.connectionId = registered.connectionId;
    socket.data.rooms = registered.rooms ?? [];
    socket.data.limits = new SocketLimits(this.config);
    if (socket.conn.readyState === "closed") {
      // The client went away while we were registering it.
      await this.closeConnection(socket.id);
      throw new RealtimeError("BAD_REQUEST", "client disconnected during the handshake");
    }
  }

  private onConnection(socket: RelaySocket): void {
    const { identity } = socket.data;
    const log = this.log.child({ socketId: socket.id, userId: identity.userId });
    this.metrics.connectionsOpened.inc();
    this.metrics.connections.inc({ kind: identity.anonymous ? "anonymous" : "authenticated" });
    if (!identity.anonymous) socket.join(userKey(identity.userId));
    for (const room of socket.data.rooms) socket.join(roomKey(room));
    this.scheduleExpiry(socket);

    socket.emit("connected", { socketId: socket.id, serverTime: new Date().toISOString(), protocolVersion: PROTOCOL_VERSION });
    socket.emit("authenticated", {
      userId: identity.userId,
      sessionId: socket.data.connectionId,
      rooms: socket.data.rooms,
      anonymous: identity.anonymous,
    });
    this.eventLog.record("connect", identity.anonymous ? null : identity.userId, null, { socketId: socket.id, nodeId: this.config.nodeId });
    log.debug("connected");

    registerHandlers(this, socket, log);

    socket.on("disconnect", (reason) => {
      this.metrics.connections.dec({ kind: identity.anonymous ? "anonymous" : "authenticated" });
      if (socket.data.expiryTimer) clearTimeout(socket.data.expiryTimer);
      this.eventLog.record("disconnect", identity.anonymous ? null : identity.userId, null, { socketId: socket.id, reason });
      log.debug({ reason }, "disconnected");
      // On shutdown realtime_node_stop closes every connection of this relay in one call.
      if (!this.stopping) void this.closeConnection(socket.id);
    });
  }

  scheduleExpiry(socket: RelaySocket): void {
    if (socket.data.expiryTimer) clearTimeout(socket.data.expiryTimer);
    const exp = socket.data.identity.exp;
    if (exp === undefined) return;
    const ms = Math.min(exp * 1000 - Date.now() + this.config.jwtClockToleranceSec * 1000, 2_147_000_000);
    socket.data.expiryTimer = setTimeout(() => {
      this.sendError(socket, new RealtimeError("TOKEN_EXPIRED", "token expired; reconnect with a fresh token"));
      socket.disconnect(true);
    }, Math.max(0, ms));
    socket.data.expiryTimer.unref();
  }

  private async closeConnection(socketId: string): Promise<void> {
    try {
      await sql.closeConnection(this.db, socketId, this.config.presenceGraceMs);
      this.pendingCloses.delete(socketId);
    } catch (err) {
      // Retried with the next heartbeat; the row stays open meanwhile.
      this.pendingCloses.add(socketId);
      this.warnings.warn("record-disconnect", { socketId, err: (err as Error).message }, "could not record a disconnect; will retry");
    }
  }

  /** Notes a client event; a user shown away for being idle is brought back at once. */
  noteActivity(socket: RelaySocket): void {
    socket.data.active = true;
    const { identity } = socket.data;
    if (this.idleUsers.size === 0 || identity.anonymous || !this.idleUsers.has(identity.userId)) return;
    this.idleUsers.delete(identity.userId);
    sql
      .markActive(this.db, [identity.userId])
      .catch((err) => this.warnings.warn("mark-active", { err: (err as Error).message }, "could not end an idle away"));
  }

  sendError(socket: RelaySocket, err: RealtimeError): void {
    this.metrics.errors.inc({ code: err.code });
    socket.emit("error", { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) });
    // A flooding client must not turn its refusals into event-log writes; its disconnect is logged.
    if (err.code === "RATE_LIMITED" && !(err.details as { disconnected?: boolean } | undefined)?.disconnected) return;
    if (this.eventLog.wants("error")) {
      this.eventLog.record("error", socket.data.identity?.anonymous ? null : socket.data.identity?.userId, null, { code: err.code, message: err.message });
    }
  }

  // ---- periodic work ----------------------------------------------------------------------

  private async heartbeat(): Promise<void> {
    for (const socketId of [...this.pendingCloses]) await this.closeConnection(socketId);
    const socketIds: string[] = [];
    const active: string[] = [];
    for (const [id, socket] of this.io.of("/").sockets) {
      socketIds.push(id);
      const data = (socket as RelaySocket).data;
      if (data.active) {
        active.push(id);
        data.active = false;
      }
    }
    const notOpen = await sql.nodeHeartbeat(this.db, this.config.nodeId, socketIds, active);
    // Sockets the database no longer holds open (a crash emptied the UNLOGGED table, a sweep closed
    // them while this relay could not heartbeat, a DBA): the relay still holds them, so it puts
    // them back in place instead of making their clients reconnect.
    const lost = notOpen
      .map((id) => this.io.of("/").sockets.get(id) as RelaySocket | undefined)
      .filter((socket): socket is RelaySocket => !!socket?.connected && !!socket.data.identity && !this.pendingCloses.has(socket.id));
    if (lost.length > 0) await this.registerAgain(lost);
  }

  /**
   * Registers live sockets whose rows are gone: a new connection row each, their users' presence
   * refreshed (no offline was announced: the sweep gives such users a grace period) and their
   * memberships re-read. A socket that cannot be registered again is closed at the transport, so
   * its client reconnects by itself.
   */
  private async registerAgain(sockets: RelaySocket[]): Promise<void> {
    this.log.warn({ sockets: sockets.length }, "connections missing in the database; registering them again");
    this.metrics.reRegistrations.inc(sockets.length);
    await Promise.all(
      sockets.map(async (socket) => {
        const { identity } = socket.data;
        try {
          const registered = await this.registrations.submit({
            socketId: socket.id,
            userId: identity.anonymous ? null : identity.userId,
            device: socket.data.device ?? null,
            metadata: { address: socket.handshake.address },
            anonymous: identity.anonymous,
          });
          socket.data.connectionId = registered.connectionId;
          socket.data.rooms = registered.rooms ?? [];
          for (const room of socket.data.rooms) socket.join(roomKey(room));
        } catch (err) {
          const e = toRealtimeError(err);
          // Still missing: the next heartbeat tries again while the database is unavailable.
          if (e.code === "UNAVAILABLE" || e.code === "BUSY") return;
          if (/already open/.test(e.message)) return;
          this.log.warn({ socketId: socket.id, code: e.code, err: e.message }, "could not register a socket again; closing its transport");
          socket.conn.close();
        }
      }),
    );
  }

  private async tick(): Promise<void> {
    await sql.tick(this.db);
  }

  private async sweepStale(): Promise<void> {
    const closed = await sql.disconnectStale(this.db, this.config.staleAfterMs, this.config.inactiveAfterMs);
    if (closed.length > 0) this.log.info({ closed: closed.length }, "closed stale connections");
    if (this.config.idleAfterMs > 0) {
      await sql.markIdle(this.db, this.config.idleAfterMs);
    }
  }

  private async pruneEvents(): Promise<void> {
    await sql.pruneEvents(this.db, this.config.eventRetentionMs);
  }

  // ---- notifications ----------------------------------------------------------------------

  /**
   * A user missing from the new set of typers stopped (perhaps in another tab), sent a message or
   * expired: their sockets' next typing:start must reach SQL rather than be answered from memory.
   */
  private forgetTypingThrottles(room: string, threadId: string | null, typers: string[]): void {
    const ids = this.io.of("/").adapter.rooms.get(roomKey(room));
    if (!ids) return;
    const typing = new Set(typers);
    const key = typingKey(room, threadId);
    for (const id of ids) {
      const socket = this.io.of("/").sockets.get(id) as RelaySocket | undefined;
      if (socket?.data.limits && !typing.has(socket.data.identity.userId)) socket.data.limits.typingStopped(key);
    }
  }

  private onNotification(n: Notification): void {
    this.metrics.notifications.inc({ kind: n.kind });
    try {
      switch (n.kind) {
        case "typing":
          if (!this.config.enableTyping) return;
          this.io.local.to(roomKey(String(n.room))).emit("typing:event", {
            roomName: n.room,
            threadId: n.threadId ?? null,
            users: n.users ?? [],
          });
          this.forgetTypingThrottles(String(n.room), (n.threadId as string | null | undefined) ?? null, (n.users as string[] | undefined) ?? []);
          return;
        case "presence":
          void this.deliverPresence(n);
          return;
        case "member":
          this.deliverMembership(n);
          return;
        case "broadcast":
          void this.deliverBroadcast(n);
          return;
        default:
          this.log.debug({ kind: n.kind }, "ignored notification of unknown kind");
      }
    } catch (err) {
      this.log.error({ err, kind: n.kind }, "notification delivery failed");
    }
  }

  private async deliverPresence(n: Notification): Promise<void> {
    if (!this.config.enablePresence) return;
    const userId = String(n.userId);
    if (n.idle === true) this.idleUsers.add(userId);
    else this.idleUsers.delete(userId);
    let rooms = n.rooms as string[] | null;
    if (!Array.isArray(rooms)) {
      rooms = await sql.userRoomNames(this.db, userId);
    }
    this.io.local.to([userKey(userId), ...rooms.map(roomKey)]).emit("presence:changed", {
      userId,
      status: n.status,
      customStatus: n.customStatus ?? null,
      lastSeen: n.lastSeen ?? null,
    });
  }

  private deliverMembership(n: Notification): void {
    const room = roomKey(String(n.room));
    const userId = String(n.userId);
    const payload = { roomName: n.room, userId };
    if (n.op === "joined") {
      // Every socket of the user follows the membership (other tabs, or a DBA's add_member).
      this.io.local.in(userKey(userId)).socketsJoin(room);
      this.io.local.to(room).emit("user:joined", payload);
    } else if (n.op === "left") {
      this.io.local.to(room).emit("user:left", payload);
      this.io.local.in(userKey(userId)).socketsLeave(room);
    }
  }

  private async deliverBroadcast(n: Notification): Promise<void> {
    let payload: unknown = n.payload;
    if (n.ref !== undefined) {
      const row = await sql.storedBroadcastPayload(this.db, n.ref as number);
      if (!row) return;
      payload = row.payload;
    }
    const target = n.target === "user" ? userKey(String(n.name)) : roomKey(String(n.name));
    this.io.local.to(target).emit(String(n.event), payload);
  }

  // ---- recovery after a gap ---------------------------------------------------------------

  private localRoomsAndUsers(): { rooms: string[]; users: string[] } {
    const rooms = [...this.io.of("/").adapter.rooms.keys()].filter((r) => r.startsWith("room:")).map((r) => r.slice(5));
    const users = new Set<string>();
    for (const socket of this.io.of("/").sockets.values()) {
      const id = (socket as RelaySocket).data.identity;
      if (id && !id.anonymous) users.add(id.userId);
    }
    return { rooms, users: [...users] };
  }

  /** Redis is back: replay the gap here, and ask every other relay to replay it too. */
  private afterRedisGap(): void {
    const since = (this.redisGapSince ?? Date.now()) - GAP_MARGIN_MS;
    // Resubscription and the other relays' reconnects settle first; later messages flow normally.
    setTimeout(() => {
      this.redisGapSince = undefined;
      this.io.serverSideEmit("realtime:replay" as never, since as never);
      void this.replayMessages(since, "redis").finally(() => {
        if (this.redisGapSince === undefined) this.delivered.holdFrom(undefined);
      });
    }, 1000).unref();
  }

  /**
   * Delivers to local sockets the messages stored in their rooms since `since` that this relay has
   * not delivered (they were published while Redis was unreachable).
   */
  private async replayMessages(since: number, reason: string): Promise<void> {
    const { rooms } = this.localRoomsAndUsers();
    if (rooms.length === 0) return;
    let messages: Awaited<ReturnType<typeof sql.messagesSince>>;
    try {
      messages = await sql.messagesSince(this.db, rooms, since);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason }, "could not replay messages after a Redis gap");
      return;
    }
    let replayed = 0;
    for (const message of messages) {
      if (this.delivered.has(message.id)) continue;
      this.io.local.to(roomKey(message.roomName)).emit("message:new", message);
      replayed++;
    }
    this.metrics.messagesReplayed.inc(replayed);
    if (replayed > 0 || reason !== "peer") this.log.info({ replayed, checked: messages.length, reason }, "replayed messages missed during a Redis gap");
  }

  /**
   * After the LISTEN connection comes back: notifications sent meanwhile are lost. Register again
   * any socket whose row is gone (the database may have restarted), re-read memberships of local
   * users (join/leave sockets to match), announce the membership and presence changes made in the
   * gap to local sockets, and re-send current typers of local rooms.
   */
  async resync(lostAt: number = Date.now()): Promise<void> {
    this.metrics.listenerReconnects.inc();
    await this.heartbeat().catch((err) => this.log.warn({ err: (err as Error).message }, "heartbeat after LISTEN reconnect failed"));
    const gap = this.localRoomsAndUsers();
    if (gap.rooms.length > 0 || gap.users.length > 0) {
      const changes = await sql.changesSince(this.db, gap.rooms, gap.users, lostAt - GAP_MARGIN_MS);
      for (const m of changes.members) {
        this.io.local.to(roomKey(m.roomName)).emit(m.op === "joined" ? "user:joined" : "user:left", { roomName: m.roomName, userId: m.userId });
      }
      if (this.config.enablePresence) {
        for (const p of changes.presence) {
          this.io.local.to([userKey(p.userId), ...p.rooms.map(roomKey)]).emit("presence:changed", {
            userId: p.userId,
            status: p.status,
            customStatus: p.customStatus ?? null,
            lastSeen: p.lastSeen ?? null,
          });
        }
      }
    }
    const users = new Set(this.localRoomsAndUsers().users);
    if (users.size > 0) {
      const rows = await sql.roomNamesOfUsers(this.db, [...users]);
      for (const { user_id, rooms } of rows) {
        const wanted = new Set(rooms.map(roomKey));
        for (const socket of await this.io.local.in(userKey(user_id)).fetchSockets()) {
          for (const r of socket.rooms) if (r.startsWith("room:") && !wanted.has(r)) socket.leave(r);
          for (const r of wanted) socket.join(r);
        }
      }
    }
    const localRooms = [...this.io.of("/").adapter.rooms.keys()].filter((r) => r.startsWith("room:")).map((r) => r.slice(5));
    if (localRooms.length > 0 && this.config.enableTyping) {
      const rows = await sql.currentTypers(this.db, localRooms);
      const typingRooms = new Set(rows.map((r) => r.room_name));
      for (const row of rows) {
        this.io.local.to(roomKey(row.room_name)).emit("typing:event", { roomName: row.room_name, threadId: row.thread_id, users: row.users });
      }
      // Rooms with no typer now: tell clients the room-level set is empty.
      for (const room of localRooms) {
        if (!typingRooms.has(room)) this.io.local.to(roomKey(room)).emit("typing:event", { roomName: room, threadId: null, users: [] });
      }
    }
  }

  // ---- shutdown ---------------------------------------------------------------------------

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.log.info({ connections: this.localConnectionCount }, "relay stopping");
    // No new connections; the clients of this relay reconnect (to another relay, or to this one
    // once restarted). Closing the transport, not a Socket.io disconnect, is what makes a
    // socket.io client retry by itself; users stay visible for the presence grace period.
    this.httpServer.close();
    for (const socket of this.io.of("/").sockets.values()) socket.conn.close();
    await sql
      .nodeStop(this.db, this.config.nodeId, this.config.presenceGraceMs)
      .catch((err) => this.log.warn({ err: (err as Error).message }, "could not mark this relay's connections closed"));
    await this.eventLog.stop().catch(() => {});
    await this.listener.stop();
    await new Promise<void>((resolve) => {
      this.io.close(() => resolve());
      setTimeout(resolve, 2000).unref();
    });
    this.redisPub?.disconnect();
    this.redisSub?.disconnect();
    await this.db.close().catch(() => {});
    this.log.info("relay stopped");
  }
}

export type { ErrorCode };
