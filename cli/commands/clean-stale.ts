import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { cleanStale, type StaleConnection } from "../../lib/sql/admin.js";
import { formatDuration, parseDuration } from "../lib/duration.js";

export default class CleanStale extends RealtimeCommand {
  static summary = "Close connections left behind by crashed relays.";
  static description =
    "Calls disconnect_stale_connections(): closes connections whose relay stopped heart-beating for longer than the stale-after it declared when it started (90 s for a relay that declared none, or --node-timeout) or that were idle too long (REALTIME_INACTIVE_AFTER), clears their typing and fixes presence. Every relay runs this periodically; running it by hand is safe.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> --node-timeout 30s --json",
  ];
  static enableJsonFlag = true;
  static flags = {
    "node-timeout": Flags.string({ description: "for relays that declared no stale-after: silent this long is dead (default 90s)" }),
    "activity-timeout": Flags.string({ description: "a connection idle this long is closed (default: REALTIME_INACTIVE_AFTER)" }),
  };

  async run(): Promise<StaleConnection[]> {
    const { flags } = await this.parse(CleanStale);
    // Relays are judged by the stale-after each declared; this applies to those that declared none.
    const nodeMs = flags["node-timeout"] ? parseDuration(flags["node-timeout"], "--node-timeout") : null;
    const activityMs = flags["activity-timeout"]
      ? parseDuration(flags["activity-timeout"], "--activity-timeout")
      : this.settings.inactiveAfterMs;
    const closed = await withDb(this.settings, (db) => cleanStale(db, { nodeTimeoutMs: nodeMs, activityTimeoutMs: activityMs }));
    if (closed.length === 0) {
      const relays = nodeMs === null ? "relays judged by their own stale-after" : `relay timeout ${formatDuration(nodeMs)} for relays that declared none`;
      this.log(`No stale connections (${relays}, idle timeout ${formatDuration(activityMs)}).`);
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
