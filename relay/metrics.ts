// Prometheus metrics (prom-client). Local counters are updated as things happen; cluster-wide
// gauges (rooms, presence, typers, connections per relay) are read from the views at scrape time.
import client from "prom-client";
import type { Db } from "./db.js";

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

  // Cluster-wide, refreshed from the database at scrape time.
  readonly clusterConnections = new client.Gauge({
    name: "realtime_cluster_connections",
    help: "Open connections per live relay node, from realtime_node_stats",
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
    help: "Users by visible presence status",
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

  /** Reads the cluster-wide numbers; leaves the previous values when the database is unreachable. */
  async refreshCluster(db: Db): Promise<void> {
    const [row] = await db.query<{
      rooms: number;
      members: number;
      typers: number;
      presence: Record<string, number> | null;
      nodes: { node_id: string; connection_count: number }[] | null;
    }>(
      "metrics",
      `select
         (select count(*) from realtime_rooms)::int as rooms,
         (select count(*) from realtime_room_members where left_at is null)::int as members,
         (select count(*) from realtime_current_typing)::int as typers,
         (select jsonb_object_agg(status, n) from (select status, count(*) as n from realtime_presence group by status) s) as presence,
         (select jsonb_agg(jsonb_build_object('node_id', node_id, 'connection_count', connection_count))
            from realtime_node_stats where stopped_at is null) as nodes`,
    );
    this.rooms.set(row.rooms);
    this.roomMembers.set(row.members);
    this.typers.set(row.typers);
    for (const status of ["online", "away", "busy", "offline"]) this.presence.set({ status }, row.presence?.[status] ?? 0);
    this.clusterConnections.reset();
    for (const n of row.nodes ?? []) this.clusterConnections.set({ node: n.node_id }, n.connection_count);
  }
}
