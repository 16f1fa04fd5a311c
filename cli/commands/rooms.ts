import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { listRooms, type RoomRow } from "../../lib/sql/admin.js";

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
    const rows = await withDb(this.settings, (db) => listRooms(db, { type: flags.type, limit: flags.limit }));
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
