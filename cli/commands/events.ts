import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { parseDuration, toInterval } from "../lib/duration.js";

export interface EventRow {
  seq: number;
  id: string;
  type: string;
  userId: string | null;
  roomName: string | null;
  data: unknown;
  createdAt: Date;
}

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
    const since = flags.since === undefined ? null : toInterval(parseDuration(flags.since, "--since"));
    const rows = await withDb(this.settings, (db) =>
      db.query<EventRow>(
        "events",
        `select seq, id, type, user_id as "userId", room_name as "roomName", data, created_at as "createdAt"
         from realtime_events
         where ($1::text is null or type = $1)
           and ($2::text is null or room_name = $2)
           and ($3::text is null or user_id = $3)
           and ($4::interval is null or created_at > now() - $4::interval)
         order by seq desc
         limit $5`,
        [flags.type ?? null, flags.room ?? null, flags.user ?? null, since, flags.limit],
      ),
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
