import { Args } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { getPresence, type Presence as UserPresence } from "../../lib/sql/admin.js";
import { CliError } from "../lib/errors.js";

export default class Presence extends RealtimeCommand {
  static summary = "Show the presence of users.";
  static description = "Calls realtime_get_presence() for up to 100 users; users never seen are offline.";
  static examples = ["<%= config.bin %> <%= command.id %> alice", "<%= config.bin %> <%= command.id %> alice bob carol --json"];
  static enableJsonFlag = true;
  static strict = false;
  static args = {
    users: Args.string({ description: "user ids", required: true }),
  };

  async run(): Promise<UserPresence[]> {
    const { argv } = await this.parse(Presence);
    const users = argv as string[];
    if (users.length > 100) throw new CliError("at most 100 users at a time", 2);
    const presence = await withDb(this.settings, (db) => getPresence(db, users));
    this.table(
      presence,
      [
        { header: "USER", get: (p) => p.userId },
        { header: "STATUS", get: (p) => p.status },
        {
          header: "CUSTOM STATUS",
          get: (p) => (p.customStatus ? [p.customStatus.emoji, p.customStatus.text].filter(Boolean).join(" ") : null),
          max: 40,
        },
        { header: "LAST SEEN", get: (p) => p.lastSeen && new Date(p.lastSeen) },
      ],
      "No users.",
    );
    return presence;
  }
}
