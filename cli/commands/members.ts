import { Args } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { roomMembers, type RoomMember } from "../../lib/sql/admin.js";

export default class Members extends RealtimeCommand {
  static summary = "List a room's members with their presence.";
  static description = "Active members of a room (first 1000, oldest first) with role, status, custom status and last seen.";
  static examples = ["<%= config.bin %> <%= command.id %> general", "<%= config.bin %> <%= command.id %> general --json"];
  static enableJsonFlag = true;
  static args = {
    room: Args.string({ description: "room name", required: true }),
  };

  async run(): Promise<RoomMember[]> {
    const { args } = await this.parse(Members);
    const members = await withDb(this.settings, (db) => roomMembers(db, args.room));
    this.table(
      members,
      [
        { header: "USER", get: (m) => m.userId },
        { header: "ROLE", get: (m) => m.role },
        { header: "STATUS", get: (m) => m.status },
        {
          header: "CUSTOM STATUS",
          get: (m) => (m.customStatus ? [m.customStatus.emoji, m.customStatus.text].filter(Boolean).join(" ") : null),
          max: 40,
        },
        { header: "JOINED", get: (m) => m.joinedAt && new Date(m.joinedAt) },
        { header: "LAST SEEN", get: (m) => m.lastSeen && new Date(m.lastSeen) },
      ],
      `Room ${args.room} has no members.`,
    );
    return members;
  }
}
