// The limits on what is stored live in the database (functions/limits.sql). A relay reads them at
// start; REALTIME_MAX_MESSAGE_LENGTH, from before they moved there, still works: when it is set and
// differs from the database's value, start writes it there (realtime_set_limits) and says so; a
// least-privilege relay role may not, and start then stops with one line naming the CLI command.
// A running relay re-reads them every REALTIME_LIMITS_REFRESH (LiveLimits), so `realtime limits
// set` reaches it without a restart.
import type { Config } from "./config.js";
import type { Logger } from "./logger.js";
import { LIMIT_KEYS, readLimits, setLimits, type LimitKey, type Limits } from "./sql/limits.js";
import type { SqlClient } from "./sql/client.js";

const ENV_NAMES: Record<LimitKey, string | undefined> = {
  maxMessageLength: "REALTIME_MAX_MESSAGE_LENGTH",
  maxMessageMetadataBytes: undefined,
  maxCustomStatusText: undefined,
  maxCustomStatusEmoji: undefined,
};

export class LimitsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LimitsError";
  }
}

/**
 * Reads the database's limits, first writing those set in the environment (config.limitsFromEnv)
 * when they differ. log receives one line per limit written. Throws a LimitsError (one line) when
 * this role may not change them.
 */
export async function applyConfiguredLimits(
  db: SqlClient,
  config: Pick<Readonly<Config>, "limitsFromEnv">,
  log: (message: string) => void,
): Promise<Limits> {
  const current = await readLimits(db);
  const changes: Partial<Record<LimitKey, number>> = {};
  for (const [key, value] of Object.entries(config.limitsFromEnv) as [LimitKey, number | undefined][]) {
    if (value !== undefined && current[key] !== value) changes[key] = value;
  }
  if (Object.keys(changes).length === 0) return current;
  let limits: Limits;
  try {
    limits = await setLimits(db, changes);
  } catch (err) {
    // lib/db.ts's Db maps the error to the protocol's codes and keeps PostgreSQL's as its cause.
    const sqlState = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
    if (sqlState !== "42501") throw err;
    const [key, value] = Object.entries(changes)[0];
    throw new LimitsError(
      `${ENV_NAMES[key as LimitKey]}=${value} but the database's ${key} is ${current[key as LimitKey]}, and this role may not change it: ` +
        `run \`npx realtime limits set ${key} ${value}\` with the schema owner's DATABASE_URL, or unset ${ENV_NAMES[key as LimitKey]}`,
    );
  }
  for (const [key, value] of Object.entries(changes)) {
    log(
      `${ENV_NAMES[key as LimitKey]}=${value}: the database now holds ${key} ${value} for every caller (was ${current[key as LimitKey]}); ` +
        "`npx realtime limits` shows the limits, and the variable may be removed",
    );
  }
  return limits;
}

/** The names of the limits that differ between a and b. */
function changedLimits(a: Limits, b: Limits): string[] {
  const keys = [...LIMIT_KEYS, "statuses", "customStatusKeys"] as const;
  return keys.filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]));
}

/**
 * The limits a relay validates payloads with: those read at start, re-read every intervalMs. A
 * failed read keeps the last ones (warned once until a read succeeds again): the database applies
 * its own limits to every call that reaches it anyway.
 */
export class LiveLimits {
  private limits: Limits;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;

  constructor(
    private readonly db: SqlClient,
    initial: Limits,
    private readonly intervalMs: number,
    private readonly log: Pick<Logger, "info" | "warn">,
  ) {
    this.limits = initial;
  }

  /** The limits last read from the database. */
  get current(): Limits {
    return this.limits;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Reads the database's limits now. */
  async refresh(): Promise<void> {
    try {
      const next = await readLimits(this.db);
      const changed = changedLimits(this.limits, next);
      if (changed.length > 0) {
        this.log.info({ changed: Object.fromEntries(changed.map((k) => [k, next[k as keyof Limits]])) }, "the database's limits changed; payloads are checked against them now");
      }
      if (this.failing) this.log.info("the database's limits are readable again");
      this.failing = false;
      this.limits = next;
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, "could not re-read the database's limits; keeping the last ones read");
      this.failing = true;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }
}
