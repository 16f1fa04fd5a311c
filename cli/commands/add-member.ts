import { Args, Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { addMember } from "../../lib/sql/admin.js";

export default class AddMember extends RealtimeCommand {
  static summary = "Add a user to a room.";
  static description =
    "Calls realtime_add_member(). The only way into a private room; in a broadcast room owners and admins may send. Adding an existing member changes nothing.";
  static examples = [
    "<%= config.bin %> <%= command.id %> staff alice",
    "<%= config.bin %> <%= command.id %> announcements bob --role admin",
  ];
  static enableJsonFlag = true;
  static args = {
    room: Args.string({ description: "room name", required: true }),
    user: Args.string({ description: "user id", required: true }),
  };
  static flags = {
    role: Flags.string({ description: "member role", options: ["owner", "admin", "member"], default: "member" }),
  };

  async run(): Promise<{ room: string; userId: string; role: string; added: boolean }> {
    const { args, flags } = await this.parse(AddMember);
    const added = await withDb(this.settings, (db) => addMember(db, args.room, args.user, flags.role));
    this.log(
      added ? `Added ${args.user} to ${args.room} as ${flags.role}.` : `${args.user} is already a member of ${args.room}.`,
    );
    return { room: args.room, userId: args.user, role: flags.role, added };
  }
}
