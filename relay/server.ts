// The relay's composition root: builds its parts, starts them, stops them. Socket.io and HTTP
// share one server; each client event calls one SQL function (events/), NOTIFY payloads reach
// this relay's own sockets (delivery.ts), messages reach every relay's sockets through the
// Socket.io adapter (Redis when configured, redis.ts).
import http from "node:http";
import os from "node:os";
import { Server } from "socket.io";
import type { Config } from "../lib/config.js";
import { Db } from "../lib/db.js";
import { LiveLimits } from "../lib/limits.js";
import type { Logger } from "../lib/logger.js";
import { RateLimitedLog } from "../lib/rate-limited-log.js";
import * as sql from "../lib/sql/index.js";
import type { Limits } from "../lib/sql/limits.js";
import { Authenticator } from "./auth.js";
import { Connections } from "./connections.js";
import type { RelayContext } from "./context.js";
import { Delivery } from "./delivery.js";
import { EventLog } from "./event-log.js";
import { joinBatcher, messageBatcher, registerClientEvents, typingBatcher, type EventContext } from "./events/index.js";
import { Housekeeping } from "./housekeeping.js";
import { httpListener } from "./http/index.js";
import { Listener } from "./listener.js";
import { Metrics } from "./metrics.js";
import { originAllowed } from "./origin.js";
import { PresenceTicks } from "./presence-ticks.js";
import { DeliveredMessages, trackLocalDeliveries } from "./recovery.js";
import { GAP_MARGIN_MS } from "./delivery.js";
import { RedisLink } from "./redis.js";
import type { RelayServer } from "./sockets.js";

export interface RelayOptions {
  config: Readonly<Config>;
  databaseUrl: string;
  logger: Logger;
  /** Generated development secret (embedded mode), used when no secret is configured. */
  devJwtSecret?: string;
  /** The database's limits read at start (lib/limits.ts applyConfiguredLimits); re-read every limitsRefreshMs. */
  limits: Limits;
}

export class Relay implements RelayContext {
  readonly config: Readonly<Config>;
  readonly db: Db;
  readonly metrics = new Metrics();
  readonly log: Logger;
  readonly warnings: RateLimitedLog;
  readonly httpServer: http.Server;
  readonly io: RelayServer;
  readonly auth: Authenticator;
  readonly eventLog: EventLog;
  readonly listener: Listener;
  readonly startedAt = Date.now();
  private readonly connections: Connections;
  private readonly delivery: Delivery;
  private readonly presenceTicks: PresenceTicks;
  private readonly housekeeping: Housekeeping;
  private readonly redis: RedisLink;
  private readonly limits: LiveLimits;
  private readonly delivered: DeliveredMessages;
  private stopping = false;

  constructor(options: RelayOptions) {
    const config = (this.config = options.config);
    this.log = options.logger;
    this.warnings = new RateLimitedLog(this.log);
    this.db = new Db({
      connectionString: options.databaseUrl,
      max: config.dbPoolSize,
      applicationName: `realtime-relay ${config.nodeId}`,
      synchronousCommit: config.dbSynchronousCommit ? "on" : "off",
      statementTimeoutMs: config.dbStatementTimeoutMs,
      lockTimeoutMs: config.dbLockTimeoutMs,
      idleInTransactionTimeoutMs: config.dbIdleTxTimeoutMs,
      log: this.log,
    });
    this.db.observe((call, seconds, ok) => this.metrics.sqlDuration.observe({ call, ok: ok ? "true" : "false" }, seconds));
    const devSecret = options.devJwtSecret && !config.jwtSecret && !config.jwtPublicKey ? options.devJwtSecret : undefined;
    this.auth = new Authenticator(devSecret ? { ...config, jwtSecret: devSecret, jwtAlgorithms: ["HS256"] } : config);
    this.limits = new LiveLimits(this.db, options.limits, config.limitsRefreshMs, this.log.child({ scope: "limits" }));
    this.eventLog = new EventLog(this.db, config.logEventTypes, config.logEvents, this.metrics, this.log);

    this.httpServer = http.createServer(
      httpListener({
        db: this.db,
        metrics: this.metrics,
        log: this.log,
        // The demo page may mint tokens with the generated development secret, or with the
        // configured one when REALTIME_DEMO_TOKENS allows it.
        demo: config.demo
          ? { tokenSecret: devSecret ?? (config.demoTokens && config.jwtSecret ? config.jwtSecret : undefined), tokensForAnyone: config.demoTokens }
          : undefined,
        health: () => ({
          db: this.db,
          nodeId: config.nodeId,
          startedAt: this.startedAt,
          connections: this.localConnectionCount,
          redisReady: config.redisUrl ? this.redis.ready : undefined,
          listenConnected: this.listener.connected,
          eventLogBuffered: this.eventLog.buffered,
        }),
      }),
    );
    const origins = config.corsOrigins;
    this.io = new Server(this.httpServer, {
      // Oversized frames are refused by engine.io (the connection closes); below that, events over
      // maxPayloadBytes get PAYLOAD_TOO_LARGE.
      maxHttpBufferSize: config.maxPayloadBytes * 2,
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

    const events: EventContext = {
      config,
      db: this.db,
      io: this.io,
      metrics: this.metrics,
      eventLog: this.eventLog,
      auth: this.auth,
      messages: messageBatcher(this.db, config.durableMessages, config.batchLanes),
      typing: typingBatcher(this.db, config.typingTimeoutMs, config.batchLanes),
      joins: joinBatcher(this.db, config.batchLanes),
      scheduleExpiry: (socket) => this.connections.scheduleExpiry(socket),
      noteActivity: (socket) => this.connections.noteActivity(socket),
      limits: () => this.limits.current,
    };
    this.connections = new Connections(this, this.auth, (socket, log) => registerClientEvents(events, socket, log));
    // Delivered message ids are kept long enough for the latest replay: after a relay is found
    // dead, which is up to stale-after plus a heartbeat after its last sign of life.
    const delivered = new DeliveredMessages(Math.max(30_000, config.staleAfterMs + 2 * config.presenceHeartbeatMs + GAP_MARGIN_MS));
    this.delivered = delivered;
    this.housekeeping = new Housekeeping(this, this.connections, (sinceMs) => {
      this.redis.askPeersToReplay(sinceMs);
      void this.delivery.replayMessages(sinceMs, "dead-relay");
    });
    this.presenceTicks = new PresenceTicks(this.io, config.presenceTickMs, (kind, n) => this.metrics.presenceFrames.inc({ kind }, n));
    this.delivery = new Delivery(
      this,
      delivered,
      (userId, idle) => this.connections.setIdle(userId, idle),
      () => this.housekeeping.heartbeat(),
      this.presenceTicks,
    );
    this.redis = new RedisLink(this, delivered, this.delivery);
    this.listener = new Listener(
      options.databaseUrl,
      (n) => this.delivery.onNotification(n),
      (lostAt) => void this.delivery.resync(lostAt).catch((err) => this.log.warn({ err: (err as Error).message }, "resync after LISTEN reconnect failed")),
      this.log.child({ scope: "listen" }),
    );
  }

  /** Room for handshakes in flight above the connection cap. */
  private get engineCap(): number {
    return this.config.maxConnections + Math.max(16, Math.ceil(this.config.maxConnections / 10));
  }

  get localConnectionCount(): number {
    return this.connections.localCount;
  }

  get port(): number {
    const address = this.httpServer.address();
    return typeof address === "object" && address ? address.port : this.config.port;
  }

  async start(): Promise<void> {
    const { config } = this;
    if (config.redisUrl) await this.redis.attach(config.redisUrl);
    else trackLocalDeliveries(this.io.of("/").adapter as never, this.delivered);
    await this.listener.start();
    const closedOnStart = await sql.nodeStart(this.db, {
      nodeId: config.nodeId,
      hostname: os.hostname(),
      pid: process.pid,
      heartbeatMs: config.presenceHeartbeatMs,
      staleAfterMs: config.staleAfterMs,
    });
    if (closedOnStart > 0) this.log.info({ closed: closedOnStart }, "closed connections left by an earlier process with this node id");

    this.connections.attach();
    this.eventLog.start();
    this.housekeeping.start();
    this.limits.start();

    await new Promise<void>((resolve, reject) => {
      this.httpServer.once("error", reject);
      this.httpServer.listen(config.port, config.host, () => {
        this.httpServer.off("error", reject);
        resolve();
      });
    });
    this.log.info({ port: this.port, host: config.host, nodeId: config.nodeId, redis: !!config.redisUrl }, "relay listening");
  }

  /** Re-reads what a lost LISTEN connection missed (also called by the listener on reconnect). */
  resync(lostAt?: number): Promise<void> {
    return this.delivery.resync(lostAt);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.connections.stop();
    this.housekeeping.stop();
    this.limits.stop();
    this.presenceTicks.stop();
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
    this.redis.disconnect();
    await this.db.close().catch(() => {});
    this.log.info("relay stopped");
  }
}
