import { Args } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { deleteRoom } from "../../lib/sql/admin.js";

export default class DeleteRoom extends RealtimeCommand {
  static summary = "Delete a room and its memberships.";
  static description =
    "Calls realtime_delete_room(): the room, its memberships and typing indicators go; connected members are told they left. Its messages stay in the event log until pruned.";
  static examples = ["<%= config.bin %> <%= command.id %> general"];
  static enableJsonFlag = true;
  static args = {
    name: Args.string({ description: "room name", required: true }),
  };

  async run(): Promise<{ name: string; deleted: boolean }> {
    const { args } = await this.parse(DeleteRoom);
    const deleted = await withDb(this.settings, (db) => deleteRoom(db, args.name));
    this.log(`Deleted room ${args.name}.`);
    return { name: args.name, deleted };
  }
}
