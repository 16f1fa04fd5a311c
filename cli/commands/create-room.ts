import { Args, Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { CliError } from "../lib/errors.js";

export interface RoomJson {
  id: string;
  name: string;
  type: string;
  visibility: string;
  metadata: Record<string, unknown>;
  createdAt: string;
}

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

  async run(): Promise<RoomJson> {
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
      db.value<RoomJson>(
        "create_room",
        "select realtime_create_room($1, $2, $3, $4::jsonb, $5) as v",
        [args.name, flags.type, flags.visibility, JSON.stringify(metadata), flags.owner ?? null],
      ),
    );
    this.log(
      `Created room ${room.name} (${room.type}, ${room.visibility})` + (flags.owner ? `, owned by ${flags.owner}` : "") + ".",
    );
    return room;
  }
}
