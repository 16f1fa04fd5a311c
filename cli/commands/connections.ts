import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { withDb } from "../lib/database.js";
import { listConnections, type ConnectionRow } from "../../lib/sql/admin.js";

export default class Connections extends RealtimeCommand {
  static summary = "List open socket connections.";
  static description = "Reads the realtime_active_connections view: open sockets, newest first, with their user's presence and the relay node holding them.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> --user alice",
    "<%= config.bin %> <%= command.id %> --json",
  ];
  static enableJsonFlag = true;
  static flags = {
    user: Flags.string({ description: "only this user's connections" }),
    limit: Flags.integer({ char: "n", description: "at most this many connections", default: 100, min: 1 }),
  };

  async run(): Promise<ConnectionRow[]> {
    const { flags } = await this.parse(Connections);
    const rows = await withDb(this.settings, (db) => listConnections(db, { user: flags.user, limit: flags.limit }));
    this.table(
      rows,
      [
        { header: "SOCKET", get: (r) => r.socketId },
        { header: "USER", get: (r) => (r.anonymous ? "(anonymous)" : r.userId) },
        { header: "STATUS", get: (r) => r.presenceStatus },
        { header: "NODE", get: (r) => r.nodeId },
        { header: "DEVICE", get: (r) => r.device, max: 40 },
        { header: "CONNECTED", get: (r) => r.connectedAt },
        { header: "LAST ACTIVITY", get: (r) => r.lastActivity },
      ],
      flags.user ? `${flags.user} has no open connections.` : "No open connections.",
    );
    return rows;
  }
}
