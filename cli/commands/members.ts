import { Args } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";

export interface MemberJson {
  userId: string;
  role: string;
  joinedAt: string;
  status: string;
  customStatus: { text?: string; emoji?: string; expiresAt?: string } | null;
  lastSeen: string | null;
}

export default class Members extends RealtimeCommand {
  static summary = "List a room's members with their presence.";
  static description = "Active members of a room (first 1000, oldest first) with role, status, custom status and last seen.";
  static examples = ["<%= config.bin %> <%= command.id %> general", "<%= config.bin %> <%= command.id %> general --json"];
  static enableJsonFlag = true;
  static args = {
    room: Args.string({ description: "room name", required: true }),
  };

  async run(): Promise<MemberJson[]> {
    const { args } = await this.parse(Members);
    const members = await withDb(this.settings, (db) =>
      db.value<MemberJson[]>("room_members", "select realtime_room_members_json(realtime_find_room($1)) as v", [args.room]),
    );
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
