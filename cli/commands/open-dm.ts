import { Args } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { openDm, type Room } from "../../lib/sql/admin.js";

export default class OpenDm extends RealtimeCommand {
  static summary = "Open the direct-message room of two users.";
  static description =
    "Calls realtime_open_dm(): returns the one dm room of the pair, creating it with both memberships the first time.";
  static examples = ["<%= config.bin %> <%= command.id %> alice bob"];
  static enableJsonFlag = true;
  static args = {
    userA: Args.string({ description: "first user id", required: true }),
    userB: Args.string({ description: "second user id", required: true }),
  };

  async run(): Promise<Room> {
    const { args } = await this.parse(OpenDm);
    const room = await withDb(this.settings, (db) => openDm(db, args.userA, args.userB));
    this.log(`DM room ${room.name} (${args.userA}, ${args.userB}).`);
    return room;
  }
}
