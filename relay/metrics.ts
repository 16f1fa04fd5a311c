// Prometheus metrics (prom-client). Local counters are updated as things happen; cluster-wide
// gauges (rooms, presence, typers, connections per relay) are read at scrape time from
// realtime_cluster_stats(), the figures `realtime stats` shows.
import client from "prom-client";
import type { Db, TroubleKind } from "../lib/db.js";
import { clusterStats } from "../lib/sql/cluster.js";
import type { SqlClient } from "../lib/sql/client.js";

export class Metrics {
  readonly registry = new client.Registry();

  readonly connections = new client.Gauge({
    name: "realtime_connections",
    help: "Open socket connections on this relay, by kind (authenticated, anonymous)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly connectionsOpened = new client.Counter({
    name: "realtime_connections_opened_total",
    help: "Socket connections accepted by this relay",
    registers: [this.registry],
  });
  readonly connectionsRejected = new client.Counter({
    name: "realtime_connections_rejected_total",
    help: "Handshakes refused by this relay, by error code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly socketEvents = new client.Counter({
    name: "realtime_socket_events_total",
    help: "Client events received, by event name",
    labelNames: ["event"] as const,
    registers: [this.registry],
  });
  readonly rateLimitDisconnects = new client.Counter({
    name: "realtime_rate_limit_disconnects_total",
    help: "Sockets disconnected for sending on after being rate limited",
    registers: [this.registry],
  });
  readonly messages = new client.Counter({
    name: "realtime_messages_total",
    help: "Messages accepted by this relay",
    registers: [this.registry],
  });
  readonly errors = new client.Counter({
    name: "realtime_errors_total",
    help: "Errors answered to clients, by code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly notifications = new client.Counter({
    name: "realtime_notifications_total",
    help: "NOTIFY payloads received from PostgreSQL, by kind",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly sqlDuration = new client.Histogram({
    name: "realtime_sql_duration_seconds",
    help: "Latency of SQL calls, by call name and outcome",
    labelNames: ["call", "ok"] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly eventLogBuffered = new client.Gauge({
    name: "realtime_event_log_buffered",
    help: "Events waiting to be written to realtime_events",
    registers: [this.registry],
  });
  readonly eventLogWritten = new client.Counter({
    name: "realtime_event_log_written_total",
    help: "Events written to realtime_events by this relay",
    registers: [this.registry],
  });
  readonly eventLogDropped = new client.Counter({
    name: "realtime_event_log_dropped_total",
    help: "Events dropped because the buffer was full while the database was unreachable",
    registers: [this.registry],
  });
  readonly listenerReconnects = new client.Counter({
    name: "realtime_listener_reconnects_total",
    help: "Times the LISTEN connection came back after a loss (each followed by a resync)",
    registers: [this.registry],
  });
  readonly reRegistrations = new client.Counter({
    name: "realtime_reregistrations_total",
    help: "Live sockets registered again in place because their connection row was gone (database crash, sweep during an outage)",
    registers: [this.registry],
  });
  readonly redisPublishesDropped = new client.Counter({
    name: "realtime_redis_publishes_dropped_total",
    help: "Cross-relay publishes not sent because Redis was unreachable (their messages are replayed from the database when it is back)",
    registers: [this.registry],
  });
  readonly presenceFrames = new client.Counter({
    name: "realtime_presence_frames_total",
    help: "Presence frames emitted to rooms and users' sockets, by kind (changed: one change; diff: a room's changes of one tick)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly messagesReplayed = new client.Counter({
    name: "realtime_messages_replayed_total",
    help: "Messages delivered to local sockets from the database after a Redis gap, because their publish never arrived",
    registers: [this.registry],
  });

  readonly dbPool = new client.Gauge({
    name: "realtime_db_pool_connections",
    help: "This relay's pooled database connections, by state (in_use, idle, total, max) and calls waiting for one",
    labelNames: ["state"] as const,
    registers: [this.registry],
  });
  readonly dbTrouble = new client.Counter({
    name: "realtime_db_trouble_total",
    help: "Database calls answered BUSY or UNAVAILABLE, by reason (lock, statement_timeout, pool, resource, unreachable, connection_lost)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  private troubleSeen: Partial<Record<TroubleKind, number>> = {};

  // Cluster-wide, refreshed from the database at scrape time.
  readonly clusterConnections = new client.Gauge({
    name: "realtime_cluster_connections",
    help: "Open connections per relay node not stopped, from realtime_cluster_stats()",
    labelNames: ["node"] as const,
    registers: [this.registry],
  });
  readonly rooms = new client.Gauge({ name: "realtime_rooms", help: "Rooms", registers: [this.registry] });
  readonly roomMembers = new client.Gauge({
    name: "realtime_room_members",
    help: "Active room memberships",
    registers: [this.registry],
  });
  readonly presence = new client.Gauge({
    name: "realtime_presence_users",
    help: "Users by visible presence status (offline: those seen in the last hour, as realtime_presence_summary counts them)",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });
  readonly typers = new client.Gauge({
    name: "realtime_typing_indicators",
    help: "Live typing indicators",
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: "realtime_", eventLoopMonitoringPrecision: 20 });
    for (const kind of ["authenticated", "anonymous"]) this.connections.set({ kind }, 0);
  }

  /** Reads the pool's state and the trouble counts from the Db (no query). */
  refreshPool(db: Db): void {
    const pool = db.poolState();
    this.dbPool.set({ state: "in_use" }, pool.inUse);
    this.dbPool.set({ state: "idle" }, pool.idle);
    this.dbPool.set({ state: "total" }, pool.total);
    this.dbPool.set({ state: "max" }, pool.max);
    this.dbPool.set({ state: "waiting" }, pool.waiting);
    for (const [reason, n] of Object.entries(db.troubleCounts()) as [TroubleKind, number][]) {
      const delta = n - (this.troubleSeen[reason] ?? 0);
      this.dbTrouble.inc({ reason }, Math.max(0, delta));
      this.troubleSeen[reason] = n;
    }
  }

  /** Reads the cluster-wide numbers; leaves the previous values when the database is unreachable. */
  async refreshCluster(db: SqlClient): Promise<void> {
    const stats = await clusterStats(db);
    this.rooms.set(stats.rooms.total);
    this.roomMembers.set(stats.members);
    this.typers.set(stats.typing);
    for (const status of ["online", "away", "busy", "offline"] as const) this.presence.set({ status }, stats.presence[status] ?? 0);
    this.clusterConnections.reset();
    for (const n of stats.nodes) if (n.stoppedAt === null) this.clusterConnections.set({ node: n.nodeId }, n.connectionCount);
  }
}
