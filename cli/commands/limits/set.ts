import { Args } from "@oclif/core";
import { LIMIT_KEYS, setLimits, type LimitKey, type Limits } from "../../../lib/sql/limits.js";
import { RealtimeCommand } from "../../lib/base.js";
import { withDb } from "../../lib/database.js";
import { CliError } from "../../lib/errors.js";

export default class LimitsSet extends RealtimeCommand {
  static summary = "Change one limit the database holds every caller to.";
  static description =
    "Calls realtime_set_limits(): KEY is one of " +
    LIMIT_KEYS.join(", ") +
    "; VALUE an integer in its range (the database refuses others). It takes effect at once for every caller; relays pick it up when they next read the limits. " +
    "Needs the schema owner's DATABASE_URL: the relay role may read the limits, not change them.";
  static examples = [
    "<%= config.bin %> limits set maxMessageLength 20000",
    "<%= config.bin %> limits set maxMessageMetadataBytes 16384 --json",
  ];
  static enableJsonFlag = true;
  static args = {
    key: Args.string({ description: "the limit", required: true, options: [...LIMIT_KEYS] }),
    value: Args.string({ description: "an integer", required: true }),
  };

  async run(): Promise<Limits> {
    const { args } = await this.parse(LimitsSet);
    if (!/^\d+$/.test(args.value)) throw new CliError(`${args.key} must be a non-negative integer, got "${args.value}"`, 2);
    const limits = await withDb(this.settings, (db) => setLimits(db, { [args.key as LimitKey]: Number(args.value) }));
    this.log(`${args.key} is now ${limits[args.key as LimitKey]} for every caller.`);
    return limits;
  }
}
