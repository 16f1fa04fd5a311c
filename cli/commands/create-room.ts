import { Args, Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { createRoom, type Room } from "../../lib/sql/admin.js";
import { CliError } from "../lib/errors.js";

export default class CreateRoom extends RealtimeCommand {
  static summary = "Create a channel, group or broadcast room.";
  static description =
    "Calls realtime_create_room(). Fails when the name is taken. With --owner, that user becomes the room's owner (a member with role owner). Direct-message rooms are opened with open-dm.";
  static examples = [
    '<%= config.bin %> <%= command.id %> general --type channel --visibility public',
    '<%= config.bin %> <%= command.id %> staff --type group --visibility private --owner alice',
    `<%= config.bin %> <%= command.id %> announcements --type broadcast --visibility public --metadata '{"senderRoles":["admin"]}'`,
  ];
  static enableJsonFlag = true;
  static args = {
    name: Args.string({ description: "room name (1 to 255 characters)", required: true }),
  };
  static flags = {
    type: Flags.string({ description: "room type", options: ["channel", "group", "broadcast"], default: "channel" }),
    visibility: Flags.string({ description: "who may join: anyone (public) or members only (private)", options: ["public", "private"], default: "public" }),
    metadata: Flags.string({ description: "room metadata, a JSON object (e.g. senders / senderRoles of a broadcast room)" }),
    owner: Flags.string({ description: "user id that becomes the room's owner" }),
  };

  async run(): Promise<Room> {
    const { args, flags } = await this.parse(CreateRoom);
    let metadata: unknown = {};
    if (flags.metadata !== undefined) {
      try {
        metadata = JSON.parse(flags.metadata);
      } catch (err) {
        throw new CliError(`--metadata is not valid JSON (${(err as Error).message})`, 2);
      }
      if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
        throw new CliError("--metadata must be a JSON object", 2);
      }
    }
    const room = await withDb(this.settings, (db) =>
      createRoom(db, {
        name: args.name,
        type: flags.type,
        visibility: flags.visibility,
        metadata: metadata as Record<string, unknown>,
        owner: flags.owner ?? null,
      }),
    );
    this.log(
      `Created room ${room.name} (${room.type}, ${room.visibility})` + (flags.owner ? `, owned by ${flags.owner}` : "") + ".",
    );
    return room;
  }
}
