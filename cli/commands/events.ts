import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { listEvents, type EventRow } from "../../lib/sql/admin.js";
import { parseDuration } from "../lib/duration.js";

export default class Events extends RealtimeCommand {
  static summary = "Show recent events from the event log.";
  static description =
    "Reads realtime_events, newest first: connects, disconnects, errors, messages, joins, leaves, presence and typing, as REALTIME_LOG_EVENT_TYPES records them. SEQ is the replay offset.";
  static examples = [
    "<%= config.bin %> <%= command.id %> -n 50",
    "<%= config.bin %> <%= command.id %> --type message --room general",
    "<%= config.bin %> <%= command.id %> --user alice --since 1h --json",
  ];
  static enableJsonFlag = true;
  static flags = {
    limit: Flags.integer({ char: "n", description: "how many events", default: 50, min: 1, max: 10_000 }),
    type: Flags.string({ description: "only events of this type (connect, disconnect, error, message, join, leave, presence, typing, ...)" }),
    room: Flags.string({ description: "only events in this room" }),
    user: Flags.string({ description: "only events of this user" }),
    since: Flags.string({ description: "only events newer than this (30s, 15m, 1h, 7d)" }),
  };

  async run(): Promise<EventRow[]> {
    const { flags } = await this.parse(Events);
    const sinceMs = flags.since === undefined ? undefined : parseDuration(flags.since, "--since");
    const rows = await withDb(this.settings, (db) =>
      listEvents(db, { type: flags.type, room: flags.room, user: flags.user, sinceMs, limit: flags.limit }),
    );
    this.table(
      rows,
      [
        { header: "SEQ", get: (r) => r.seq, align: "right" },
        { header: "TIME", get: (r) => r.createdAt },
        { header: "TYPE", get: (r) => r.type },
        { header: "USER", get: (r) => r.userId },
        { header: "ROOM", get: (r) => r.roomName },
        { header: "DATA", get: (r) => r.data, max: 60 },
      ],
      "No events.",
    );
    return rows;
  }
}
