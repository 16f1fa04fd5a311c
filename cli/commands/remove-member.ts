import { Args } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { removeMember } from "../../lib/sql/admin.js";

export default class RemoveMember extends RealtimeCommand {
  static summary = "Remove a user from a room.";
  static description =
    "Calls realtime_remove_member(): ends the membership and clears the user's typing there; their sockets are told they left.";
  static examples = ["<%= config.bin %> <%= command.id %> staff alice"];
  static enableJsonFlag = true;
  static args = {
    room: Args.string({ description: "room name", required: true }),
    user: Args.string({ description: "user id", required: true }),
  };

  async run(): Promise<{ room: string; userId: string; removed: boolean }> {
    const { args } = await this.parse(RemoveMember);
    const removed = await withDb(this.settings, (db) => removeMember(db, args.room, args.user));
    this.log(removed ? `Removed ${args.user} from ${args.room}.` : `${args.user} is not a member of ${args.room}.`);
    return { room: args.room, userId: args.user, removed };
  }
}
