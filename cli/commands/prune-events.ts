import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { pruneEventLog } from "../../lib/sql/admin.js";
import { formatDuration, parseDuration } from "../lib/duration.js";

export default class PruneEvents extends RealtimeCommand {
  static summary = "Delete old events from the event log.";
  static description =
    "Calls realtime_prune_events(): deletes events older than --older-than (default: REALTIME_EVENT_RETENTION, 7 days). Clients replaying from a pruned offset are told their gap cannot be filled.";
  static examples = ["<%= config.bin %> <%= command.id %> --older-than 7d", "<%= config.bin %> <%= command.id %> --older-than 12h --json"];
  static enableJsonFlag = true;
  static flags = {
    "older-than": Flags.string({ description: "age of the events to delete (30m, 12h, 7d, 2w)" }),
  };

  async run(): Promise<{ deleted: number; olderThan: string }> {
    const { flags } = await this.parse(PruneEvents);
    const ms = flags["older-than"] ? parseDuration(flags["older-than"], "--older-than") : this.settings.eventRetentionMs;
    const deleted = await withDb(this.settings, (db) => pruneEventLog(db, ms));
    const age = formatDuration(ms);
    this.log(`Deleted ${deleted} event${deleted === 1 ? "" : "s"} older than ${age}.`);
    return { deleted: Number(deleted), olderThan: age };
  }
}
