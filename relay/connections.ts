// The life of a connection: the handshake (token, caps, registration in SQL in natural batches),
// the first events a socket gets, token expiry, the disconnect, and registering again in place a
// live socket whose row the database lost.
import * as sql from "../lib/sql/index.js";
import type { ItemResult } from "../lib/sql/index.js";
import { MAX_DEPTH, nestedDeeperThan, PROTOCOL_VERSION, RealtimeError, toRealtimeError } from "../protocol/index.js";
import type { Authenticator, Identity } from "./auth.js";
import { Batcher } from "./batcher.js";
import { sendError, type RelayContext } from "./context.js";
import { SocketLimits } from "./limits.js";
import { roomKey, userKey, type RelaySocket } from "./sockets.js";
import type { Logger } from "../lib/logger.js";

interface Registered {
  connectionId: string;
  rooms: string[];
}

export class Connections {
  /** A connect storm costs one round trip and one commit per batch on each lane (lanes by user). */
  private readonly registrations: Batcher<sql.ConnectionRegistration, Registered>;
  private handshaking = 0;
  private stopping = false;
  /** Disconnects not yet recorded (the database was unavailable): retried at each heartbeat. */
  private readonly pendingCloses = new Set<string>();
  /** Users of this relay shown away because they were idle: their next event brings them back. */
  private readonly idleUsers = new Set<string>();

  constructor(
    private readonly ctx: RelayContext,
    private readonly auth: Pick<Authenticator, "verify">,
    /** Registers the client events of a socket that has just connected. */
    private readonly onConnected: (socket: RelaySocket, log: () => Logger) => void,
  ) {
    const { db, config } = ctx;
    this.registrations = new Batcher(async (items) => {
      const rows = await sql.registerConnections(db, items, config.nodeId);
      return rows.map((r): ItemResult<Registered> =>
        r.error ? { ok: false, error: r.error } : { ok: true, value: { connectionId: r.connectionId!, rooms: r.rooms ?? [] } },
      );
    }, { maxBatch: 200, lanes: config.batchLanes, key: (r) => r.userId ?? r.socketId });
  }

  get localCount(): number {
    return this.ctx.io.of("/").sockets.size;
  }

  /** Installs the handshake and connection handlers on the Socket.io server. */
  attach(): void {
    const { io, metrics, log } = this.ctx;
    io.use((socket, next) => {
      this.handshake(socket).then(
        () => next(),
        (err) => {
          const e = toRealtimeError(err);
          metrics.connectionsRejected.inc({ code: e.code });
          // A client refused by a connect_error does not retry by itself. When the cause passes
          // (shutting down, database unreachable or busy), close the transport instead: the
          // client's reconnect logic tries again with its backoff.
          if (e.code === "UNAVAILABLE" || e.code === "BUSY") {
            log.debug({ code: e.code, reason: e.message }, "handshake deferred: closing the transport so the client retries");
            socket.conn.close();
            return;
          }
          log.debug({ code: e.code, reason: e.message }, "handshake refused");
          const error = new Error(e.message) as Error & { data: unknown };
          error.data = { code: e.code, message: e.message };
          next(error);
        },
      );
    });
    io.on("connection", (socket) => this.onConnection(socket));
  }

  /** Refuses new handshakes from now on (shutdown); disconnects are then recorded by realtime_node_stop. */
  stop(): void {
    this.stopping = true;
  }

  private identify(socket: RelaySocket): Identity {
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    let token: unknown = auth.token;
    if (token === undefined) {
      const header = socket.handshake.headers.authorization;
      if (typeof header === "string" && /^Bearer\s+/i.test(header)) token = header.replace(/^Bearer\s+/i, "");
    }
    if (token === undefined || token === null || token === "") {
      if (this.ctx.config.allowAnonymous) return { userId: `anon:${socket.id}`, anonymous: true, roles: [], exp: undefined };
      throw new RealtimeError("UNAUTHORIZED", "a token is required (handshake auth.token or Authorization: Bearer)");
    }
    return this.auth.verify(token);
  }

  private async handshake(socket: RelaySocket): Promise<void> {
    const { config } = this.ctx;
    if (this.stopping) throw new RealtimeError("UNAVAILABLE", "server is shutting down");
    // Handshakes still registering hold a slot too: concurrent handshakes must not overshoot the cap.
    if (this.localCount + this.handshaking >= config.maxConnections) {
      throw new RealtimeError("SERVER_FULL", `this server holds its maximum of ${config.maxConnections} connections`);
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
      maxPerUser: this.ctx.config.maxConnectionsPerUser,
    });
    socket.data.identity = identity;
    socket.data.device = device;
    socket.data.connectionId = registered.connectionId;
    socket.data.rooms = registered.rooms ?? [];
    socket.data.limits = new SocketLimits(this.ctx.config);
    if (socket.conn.readyState === "closed") {
      // The client went away while we were registering it.
      await this.close(socket.id);
      throw new RealtimeError("BAD_REQUEST", "client disconnected during the handshake");
    }
  }

  private onConnection(socket: RelaySocket): void {
    const { metrics, eventLog, config } = this.ctx;
    const { identity } = socket.data;
    // The socket's own logger is made when something is logged: most sockets never log.
    let socketLog: Logger | undefined;
    const log = () => (socketLog ??= this.ctx.log.child({ socketId: socket.id, userId: identity.userId }));
    metrics.connectionsOpened.inc();
    metrics.connections.inc({ kind: identity.anonymous ? "anonymous" : "authenticated" });
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
    eventLog.record("connect", identity.anonymous ? null : identity.userId, null, { socketId: socket.id, nodeId: config.nodeId });
    if (this.ctx.log.isLevelEnabled("debug")) log().debug("connected");

    this.onConnected(socket, log);

    socket.on("disconnect", (reason) => {
      metrics.connections.dec({ kind: identity.anonymous ? "anonymous" : "authenticated" });
      if (socket.data.expiryTimer) clearTimeout(socket.data.expiryTimer);
      eventLog.record("disconnect", identity.anonymous ? null : identity.userId, null, { socketId: socket.id, reason });
      if (this.ctx.log.isLevelEnabled("debug")) log().debug({ reason }, "disconnected");
      // On shutdown realtime_node_stop closes every connection of this relay in one call.
      if (!this.stopping) void this.close(socket.id);
    });
  }

  /** (Re)arms the timer that ends the socket when its token expires. */
  scheduleExpiry(socket: RelaySocket): void {
    if (socket.data.expiryTimer) clearTimeout(socket.data.expiryTimer);
    const exp = socket.data.identity.exp;
    if (exp === undefined) return;
    const ms = Math.min(exp * 1000 - Date.now() + this.ctx.config.jwtClockToleranceSec * 1000, 2_147_000_000);
    socket.data.expiryTimer = setTimeout(() => {
      sendError(this.ctx, socket, new RealtimeError("TOKEN_EXPIRED", "token expired; reconnect with a fresh token"));
      socket.disconnect(true);
    }, Math.max(0, ms));
    socket.data.expiryTimer.unref();
  }

  private async close(socketId: string): Promise<void> {
    try {
      await sql.closeConnection(this.ctx.db, socketId, this.ctx.config.presenceGraceMs);
      this.pendingCloses.delete(socketId);
    } catch (err) {
      // Retried with the next heartbeat; the row stays open meanwhile.
      this.pendingCloses.add(socketId);
      this.ctx.warnings.warn("record-disconnect", { socketId, err: (err as Error).message }, "could not record a disconnect; will retry");
    }
  }

  /** Records the disconnects that could not be recorded before. */
  async closePending(): Promise<void> {
    for (const socketId of [...this.pendingCloses]) await this.close(socketId);
  }

  /** Of these socket ids the database does not hold open, the sockets this relay still holds live. */
  liveSocketsAmong(socketIds: string[]): RelaySocket[] {
    return socketIds
      .map((id) => this.ctx.io.of("/").sockets.get(id))
      .filter((socket): socket is RelaySocket => !!socket?.connected && !!socket.data.identity && !this.pendingCloses.has(socket.id));
  }

  /**
   * Registers live sockets whose rows are gone: a new connection row each, their users' presence
   * refreshed (no offline was announced: the sweep gives such users a grace period) and their
   * memberships re-read. A socket that cannot be registered again is closed at the transport, so
   * its client reconnects by itself.
   */
  async registerAgain(sockets: RelaySocket[]): Promise<void> {
    this.ctx.log.warn({ sockets: sockets.length }, "connections missing in the database; registering them again");
    this.ctx.metrics.reRegistrations.inc(sockets.length);
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
          this.ctx.log.warn({ socketId: socket.id, code: e.code, err: e.message }, "could not register a socket again; closing its transport");
          socket.conn.close();
        }
      }),
    );
  }

  /** A presence notification said whether the user is away for being idle. */
  setIdle(userId: string, idle: boolean): void {
    if (idle) this.idleUsers.add(userId);
    else this.idleUsers.delete(userId);
  }

  /** Notes a client event; a user shown away for being idle is brought back at once. */
  noteActivity(socket: RelaySocket): void {
    socket.data.active = true;
    const { identity } = socket.data;
    if (this.idleUsers.size === 0 || identity.anonymous || !this.idleUsers.has(identity.userId)) return;
    this.idleUsers.delete(identity.userId);
    sql
      .markActive(this.ctx.db, [identity.userId])
      .catch((err) => this.ctx.warnings.warn("mark-active", { err: (err as Error).message }, "could not end an idle away"));
  }
}
