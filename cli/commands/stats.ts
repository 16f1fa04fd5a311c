import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { formatDuration, parseDuration, toInterval } from "../lib/duration.js";
import { formatTable } from "../lib/table.js";

export interface NodeStats {
  nodeId: string;
  hostname: string | null;
  pid: number | null;
  startedAt: Date;
  lastHeartbeat: Date;
  stoppedAt: Date | null;
  connectionCount: number;
}

export interface StatsJson {
  connections: { total: number; authenticated: number; anonymous: number; users: number };
  rooms: { total: number; byType: Record<string, number> };
  members: number;
  presence: Record<string, number>;
  typing: number;
  events: { since: string; total: number; byType: Record<string, number> };
  nodes: NodeStats[];
}

export default class Stats extends RealtimeCommand {
  static summary = "Show connection, room, presence, typing, event and node statistics.";
  static description =
    "Reads the analytics views: open connections, rooms by type and active memberships, users by presence status (realtime_presence_summary), current typers, events by type over a window, and relay nodes with their connection counts (realtime_node_stats).";
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
    const stats = await withDb(this.settings, async (db) => {
      const [connections] = await db.query<StatsJson["connections"]>(
        "stats_connections",
        `select count(*) as total,
                count(*) filter (where not anonymous) as authenticated,
                count(*) filter (where anonymous) as anonymous,
                count(distinct user_id) filter (where not anonymous) as users
         from realtime_active_connections`,
      );
      const rooms = await db.query<{ type: string; rooms: number; members: number }>(
        "stats_rooms",
        `select type, count(*) as rooms, coalesce(sum(member_count), 0)::bigint as members
         from realtime_room_stats group by type order by type`,
      );
      const presence = await db.query<{ status: string; user_count: number }>(
        "stats_presence",
        "select status, user_count from realtime_presence_summary",
      );
      const typing = await db.value<number>("stats_typing", "select count(*) as v from realtime_current_typing");
      const events = await db.query<{ type: string; count: number }>(
        "stats_events",
        `select type, count(*) as count from realtime_events
         where created_at > now() - $1::interval group by type order by count desc, type`,
        [toInterval(sinceMs)],
      );
      const nodes = await db.query<NodeStats>(
        "stats_nodes",
        `select node_id as "nodeId", hostname, pid, started_at as "startedAt", last_heartbeat as "lastHeartbeat",
                stopped_at as "stoppedAt", connection_count as "connectionCount"
         from realtime_node_stats
         where stopped_at is null or connection_count > 0 or last_heartbeat > now() - interval '1 day'
         order by "connectionCount" desc, "nodeId"`,
      );
      const result: StatsJson = {
        connections,
        rooms: { total: 0, byType: {} },
        members: 0,
        presence: { online: 0, away: 0, busy: 0, offline: 0 },
        typing,
        events: { since: formatDuration(sinceMs), total: 0, byType: {} },
        nodes,
      };
      for (const r of rooms) {
        result.rooms.byType[r.type] = r.rooms;
        result.rooms.total += r.rooms;
        result.members += r.members;
      }
      for (const p of presence) result.presence[p.status] = p.user_count;
      for (const e of events) {
        result.events.byType[e.type] = e.count;
        result.events.total += e.count;
      }
      return result;
    });

    const { connections, rooms, presence, events } = stats;
    const byType = (m: Record<string, number>) =>
      Object.keys(m).length === 0 ? "" : ` (${Object.entries(m).map(([k, v]) => `${k} ${v}`).join(", ")})`;
    this.log(
      `Connections  ${connections.total} open: ${connections.authenticated} authenticated (${connections.users} users), ${connections.anonymous} anonymous`,
    );
    this.log(`Rooms        ${rooms.total}${byType(rooms.byType)}, ${stats.members} active memberships`);
    this.log(`Presence     ${Object.entries(presence).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    this.log(`Typing       ${stats.typing} typing now`);
    this.log(`Events       ${events.total} in the last ${events.since}${byType(events.byType)}`);
    this.log("");
    if (stats.nodes.length === 0) {
      this.log("Nodes        none registered");
    } else {
      this.log("Nodes");
      this.log(
        formatTable(stats.nodes, [
          { header: "NODE", get: (n) => n.nodeId },
          { header: "HOST", get: (n) => n.hostname },
          { header: "PID", get: (n) => n.pid, align: "right" },
          { header: "CONNECTIONS", get: (n) => n.connectionCount, align: "right" },
          {
            header: "STATE",
            get: (n) =>
              n.stoppedAt
                ? "stopped"
                : Date.now() - new Date(n.lastHeartbeat).getTime() > this.settings.staleAfterMs
                  ? "silent"
                  : "alive",
          },
          { header: "STARTED", get: (n) => n.startedAt },
          { header: "LAST HEARTBEAT", get: (n) => n.lastHeartbeat },
        ]),
      );
    }
    return stats;
  }
}
