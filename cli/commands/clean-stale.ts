import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { formatDuration, parseDuration, toInterval } from "../lib/duration.js";

export interface ClosedConnection {
  socketId: string;
  userId: string | null;
  nodeId: string | null;
  reason: string;
}

export default class CleanStale extends RealtimeCommand {
  static summary = "Close connections left behind by crashed relays.";
  static description =
    "Calls disconnect_stale_connections(): closes connections whose relay stopped heart-beating (REALTIME_STALE_AFTER) or that were idle too long (REALTIME_INACTIVE_AFTER), clears their typing and fixes presence. Every relay runs this periodically; running it by hand is safe.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> --node-timeout 30s --json",
  ];
  static enableJsonFlag = true;
  static flags = {
    "node-timeout": Flags.string({ description: "a relay silent this long is dead (default: REALTIME_STALE_AFTER)" }),
    "activity-timeout": Flags.string({ description: "a connection idle this long is closed (default: REALTIME_INACTIVE_AFTER)" }),
  };

  async run(): Promise<ClosedConnection[]> {
    const { flags } = await this.parse(CleanStale);
    const nodeMs = flags["node-timeout"] ? parseDuration(flags["node-timeout"], "--node-timeout") : this.settings.staleAfterMs;
    const activityMs = flags["activity-timeout"]
      ? parseDuration(flags["activity-timeout"], "--activity-timeout")
      : this.settings.inactiveAfterMs;
    const closed = await withDb(this.settings, (db) =>
      db.query<ClosedConnection>(
        "disconnect_stale_connections",
        `select socket_id as "socketId", user_id as "userId", node_id as "nodeId", reason
         from disconnect_stale_connections(now(), $1::interval, $2::interval)`,
        [toInterval(nodeMs), toInterval(activityMs)],
      ),
    );
    if (closed.length === 0) {
      this.log(`No stale connections (relay timeout ${formatDuration(nodeMs)}, idle timeout ${formatDuration(activityMs)}).`);
    } else {
      this.log(`Closed ${closed.length} stale connection${closed.length === 1 ? "" : "s"}:`);
      this.table(
        closed,
        [
          { header: "SOCKET", get: (c) => c.socketId },
          { header: "USER", get: (c) => c.userId },
          { header: "NODE", get: (c) => c.nodeId },
          { header: "REASON", get: (c) => c.reason },
        ],
        "",
      );
    }
    return closed;
  }
}
