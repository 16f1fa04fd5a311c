import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";

export interface RoomRow {
  name: string;
  type: string;
  visibility: string;
  memberCount: number;
  onlineCount: number;
  createdAt: Date;
}

export default class Rooms extends RealtimeCommand {
  static summary = "List rooms with their member and online counts.";
  static description = "Reads the realtime_room_stats view: every room with its type, visibility, active members and how many of them are online.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> --type channel",
    "<%= config.bin %> <%= command.id %> --json",
  ];
  static enableJsonFlag = true;
  static flags = {
    type: Flags.string({ description: "only rooms of this type", options: ["channel", "group", "broadcast", "dm"] }),
    limit: Flags.integer({ char: "n", description: "at most this many rooms", default: 1000, min: 1 }),
  };

  async run(): Promise<RoomRow[]> {
    const { flags } = await this.parse(Rooms);
    const rows = await withDb(this.settings, (db) =>
      db.query<RoomRow>(
        "rooms",
        `select name, type, visibility, member_count as "memberCount", online_count as "onlineCount", created_at as "createdAt"
         from realtime_room_stats
         where $1::text is null or type = $1
         order by "memberCount" desc, name
         limit $2`,
        [flags.type ?? null, flags.limit],
      ),
    );
    this.table(
      rows,
      [
        { header: "NAME", get: (r) => r.name },
        { header: "TYPE", get: (r) => r.type },
        { header: "VISIBILITY", get: (r) => r.visibility },
        { header: "MEMBERS", get: (r) => r.memberCount, align: "right" },
        { header: "ONLINE", get: (r) => r.onlineCount, align: "right" },
        { header: "CREATED", get: (r) => r.createdAt },
      ],
      flags.type ? `No ${flags.type} rooms.` : "No rooms.",
    );
    return rows;
  }
}
