import { readLimits, type Limits } from "../../../lib/sql/limits.js";
import { RealtimeCommand } from "../../lib/base.js";
import { withDb } from "../../lib/database.js";

/** The limits as label and value rows, for the terminal. */
export function limitRows(limits: Limits): [string, string][] {
  return [
    ["maxMessageLength", `${limits.maxMessageLength} characters per message`],
    ["maxMessageMetadataBytes", `${limits.maxMessageMetadataBytes} bytes of JSON per message's metadata`],
    ["maxCustomStatusText", `${limits.maxCustomStatusText} characters of custom status text`],
    ["maxCustomStatusEmoji", `${limits.maxCustomStatusEmoji} characters of custom status emoji`],
    ["statuses", limits.statuses.join(", ")],
    ["customStatusKeys", limits.customStatusKeys.join(", ")],
  ];
}

export default class LimitsShow extends RealtimeCommand {
  static summary = "Show the limits the database holds every caller to (limits set KEY VALUE changes one).";
  static description =
    "Reads realtime_limits(): message length, message metadata size, custom status text and emoji lengths, and the fixed lists of statuses and custom status keys. " +
    "The database enforces them for every caller (the relays, this CLI, psql); the relays read them from there. Change one with `limits set KEY VALUE`.";
  static examples = ["<%= config.bin %> limits", "<%= config.bin %> limits --json", "<%= config.bin %> limits set maxMessageLength 20000"];
  static enableJsonFlag = true;

  async run(): Promise<Limits> {
    await this.parse(LimitsShow);
    const limits = await withDb(this.settings, (db) => readLimits(db));
    const rows = limitRows(limits);
    const width = Math.max(...rows.map(([k]) => k.length)) + 2;
    for (const [key, value] of rows) this.log(`${key.padEnd(width)}${value}`);
    return limits;
  }
}
