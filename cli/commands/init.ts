import { assertAuthConfigured, ConfigError } from "../../relay/config.js";
import { RealtimeCommand } from "../lib/base.js";
import { checkRedisConfigured, describeJwt, type RedisStatus } from "../lib/checks.js";
import { runningEmbedded } from "../lib/database.js";
import { CliError, describeDbError, type DbTarget } from "../lib/errors.js";
import { maskUrl } from "../../relay/mask.js";

export interface InitJson {
  database: {
    url: string;
    embedded: boolean;
    created: boolean;
    migrationsApplied: number;
    schemaVersion: string | null;
  };
  redis: RedisStatus;
  jwt: string;
}

/** How many migrations the database has applied; 0 when it or the migrations table does not exist. */
async function appliedMigrations(url: string): Promise<number> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, application_name: "realtime-cli" });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ n: string }>("select count(*) as n from graphile_migrate.migrations");
    return Number(rows[0].n);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "3D000" || code === "42P01" || code === "3F000") return 0;
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

export default class Init extends RealtimeCommand {
  static summary = "Create and migrate the database, and check the configuration.";
  static description =
    "Creates the database named in DATABASE_URL when it is missing and applies the migrations (schema, SQL functions, views). " +
    "Without DATABASE_URL it initialises the embedded PostgreSQL in the data directory (or migrates it when a server is running). " +
    "Then checks that Redis answers when REALTIME_REDIS_URL is set and that JWT settings are coherent. Safe to run again.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "DATABASE_URL=postgres://postgres@localhost:5432/realtime <%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> --json",
  ];
  static enableJsonFlag = true;

  async run(): Promise<InitJson> {
    await this.parse(Init);
    const config = this.settings;
    this.log("Configuration: read (.env and environment)");

    const database = await this.migrate();

    const problems: string[] = [];
    const redis = await checkRedisConfigured(config);
    if (!redis.configured) this.log("Redis: not configured (single node, in-memory adapter)");
    else if (redis.ok) this.log(`Redis: reachable at ${redis.url} (${redis.detail})`);
    else {
      this.log(`Redis: UNREACHABLE at ${redis.url} (${redis.detail})`);
      problems.push(`cannot reach Redis at ${redis.url} (${redis.detail}); is Redis running? Check REALTIME_REDIS_URL`);
    }

    const jwt = describeJwt(config);
    try {
      if (config.databaseUrl) assertAuthConfigured(config);
      this.log(`JWT: ${jwt}`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.log(`JWT: PROBLEM: ${err.message}`);
      problems.push(err.message);
    }

    if (problems.length > 0) {
      throw new CliError(
        problems.length === 1 ? problems[0] : `${problems.length} problems: ${problems.join("; ")}`,
      );
    }
    this.log("Ready: start the server with npx realtime server start");
    return { database, redis, jwt };
  }

  private async migrate(): Promise<InitJson["database"]> {
    const config = this.settings;
    const { migrateDatabase } = await import("../../relay/migrate.js");
    const log = (message: string) => {
      if (/debug|trace/i.test(config.logLevel)) this.logToStderr(`  ${message}`);
    };

    const run = async (target: DbTarget) => {
      try {
        const before = await appliedMigrations(target.url);
        const result = await migrateDatabase(target.url, log);
        const after = await appliedMigrations(target.url);
        return { ...result, applied: after - before };
      } catch (err) {
        throw describeDbError(err, target);
      }
    };
    const report = (target: DbTarget, r: { createdDatabase: boolean; schemaVersion: string | null; applied: number }) => {
      const where = maskUrl(target.url);
      this.log(r.createdDatabase ? `Database: created ${where}` : `Database: ${where} exists`);
      this.log(
        r.applied > 0
          ? `Migrations: applied ${r.applied}, schema ${r.schemaVersion}`
          : `Migrations: up to date, schema ${r.schemaVersion}`,
      );
      return {
        url: where,
        embedded: target.embedded,
        created: r.createdDatabase,
        migrationsApplied: r.applied,
        schemaVersion: r.schemaVersion,
      };
    };

    if (config.databaseUrl) {
      const target = { url: config.databaseUrl, embedded: false };
      return report(target, await run(target));
    }

    const runningUrl = await runningEmbedded(config);
    if (runningUrl) {
      this.log("Embedded PostgreSQL: running (started by the server)");
      const target = { url: runningUrl, embedded: true };
      return report(target, await run(target));
    }

    const { startEmbeddedPostgres } = await import("../../relay/embedded.js");
    this.log(`Embedded PostgreSQL: starting in ${config.dataDir} (port ${config.embeddedPort})`);
    const pg = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPort, log });
    try {
      const target = { url: pg.url, embedded: true };
      return report(target, await run(target));
    } finally {
      // migrateDatabase has closed graphile-migrate's pool, so the database can stop at once.
      await pg.stop();
      this.log("Embedded PostgreSQL: stopped (the server starts it again)");
    }
  }
}
