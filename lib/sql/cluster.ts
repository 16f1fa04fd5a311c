// functions/views.sql, realtime_cluster_stats: the cluster's figures in one answer, for `realtime
// stats` and the relay's /metrics alike.
import type { PresenceStatus } from "../../protocol/index.js";
import { msInterval, type SqlClient } from "./client.js";

export interface ClusterNode {
  nodeId: string;
  hostname: string | null;
  pid: number | null;
  startedAt: string;
  lastHeartbeat: string;
  stoppedAt: string | null;
  connectionCount: number;
  /** The stale-after the node declared when it started (90 s when none). */
  staleAfterMs: number;
  /** Heartbeated within its own stale-after and not stopped. */
  alive: boolean;
  state: "alive" | "silent" | "stopped";
}

export interface ClusterStats {
  at: string;
  /** Relays alive by their own declared stale-after. */
  nodesAlive: number;
  connections: { total: number; authenticated: number; anonymous: number; users: number };
  /** Users whose visible status is not offline. */
  usersOnline: number;
  /** Users per status: everyone not offline, plus offline users seen in the last hour (realtime_presence_summary). */
  presence: Record<PresenceStatus, number>;
  rooms: { total: number; byType: Record<string, number> };
  /** Active memberships. */
  members: number;
  /** Typing indicators that have not expired. */
  typing: number;
  events: { sinceMs: number; total: number; byType: Record<string, number> };
  /** Relays not stopped, holding connections, or heard from in the last day; most connections first. */
  nodes: ClusterNode[];
}

/** The cluster's figures; events are counted over the last eventsSinceMs (default one hour). */
export function clusterStats(db: SqlClient, eventsSinceMs = 3_600_000): Promise<ClusterStats> {
  return db.value<ClusterStats>("cluster_stats", `select realtime_cluster_stats(${msInterval(1)}) as v`, [eventsSinceMs]);
}
