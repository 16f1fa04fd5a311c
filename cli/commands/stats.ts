import { Flags } from "@oclif/core";
import { PRESENCE_STATUSES } from "../../protocol/index.js";
import { clusterStats, type ClusterNode, type ClusterStats } from "../../lib/sql/cluster.js";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { formatDuration, parseDuration } from "../lib/duration.js";
import { formatTable } from "../lib/table.js";

export type NodeStats = ClusterNode;

/** realtime_cluster_stats, with the event window also written as a duration (1h, 7d). */
export interface StatsJson extends ClusterStats {
  events: ClusterStats["events"] & { since: string };
}

export default class Stats extends RealtimeCommand {
  static summary = "Show connection, room, presence, typing, event and node statistics.";
  static description =
    "Reads realtime_cluster_stats(), the figures the relays' /metrics also report: open connections, users online, rooms by type and active memberships, " +
    "users by presence status (realtime_presence_summary), current typers, events by type over a window, and relay nodes with their connection counts, " +
    "each judged alive or silent in SQL by the stale-after it declared when it started.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> --since 24h",
    "<%= config.bin %> <%= command.id %> --json",
  ];
  static enableJsonFlag = true;
  static flags = {
    since: Flags.string({ description: "window for the event counts (30m, 1h, 7d)", default: "1h" }),
  };

  async run(): Promise<StatsJson> {
    const { flags } = await this.parse(Stats);
    const sinceMs = parseDuration(flags.since, "--since");
    const cluster = await withDb(this.settings, (db) => clusterStats(db, sinceMs));
    const stats: StatsJson = { ...cluster, events: { ...cluster.events, since: formatDuration(sinceMs) } };

    const { connections, rooms, presence, events } = stats;
    const byType = (m: Record<string, number>) =>
      Object.keys(m).length === 0 ? "" : ` (${Object.entries(m).map(([k, v]) => `${k} ${v}`).join(", ")})`;
    this.log(
      `Connections  ${connections.total} open: ${connections.authenticated} authenticated (${connections.users} users), ${connections.anonymous} anonymous`,
    );
    this.log(`Rooms        ${rooms.total}${byType(rooms.byType)}, ${stats.members} active memberships`);
    this.log(`Presence     ${PRESENCE_STATUSES.map((s) => `${s} ${presence[s] ?? 0}`).join(", ")}`);
    this.log(`Typing       ${stats.typing} typing now`);
    this.log(`Events       ${events.total} in the last ${events.since}${byType(events.byType)}`);
    this.log("");
    if (stats.nodes.length === 0) {
      this.log("Nodes        none registered");
    } else {
      this.log(`Nodes        ${stats.nodesAlive} alive`);
      this.log(
        formatTable(stats.nodes, [
          { header: "NODE", get: (n) => n.nodeId },
          { header: "HOST", get: (n) => n.hostname },
          { header: "PID", get: (n) => n.pid, align: "right" },
          { header: "CONNECTIONS", get: (n) => n.connectionCount, align: "right" },
          { header: "STATE", get: (n) => n.state },
          { header: "STALE AFTER", get: (n) => formatDuration(n.staleAfterMs) },
          { header: "STARTED", get: (n) => new Date(n.startedAt) },
          { header: "LAST HEARTBEAT", get: (n) => new Date(n.lastHeartbeat) },
        ]),
      );
    }
    return stats;
  }
}
