import { Flags } from "@oclif/core";
import { assertAuthConfigured, ConfigError } from "../../lib/config.js";
import { RealtimeCommand } from "../lib/base.js";
import { checkRedisConfigured, describeJwt, type RedisStatus } from "../lib/checks.js";
import { runningEmbedded } from "../lib/database.js";
import { CliError, describeDbError, type DbTarget } from "../lib/errors.js";
import type { RelayRoleResult } from "../../lib/sql/roles.js";
import { maskUrl } from "../../lib/mask.js";

export interface InitJson {
  database: {
    url: string;
    embedded: boolean;
    created: boolean;
    migrationsApplied: number;
    schemaVersion: string | null;
  };
  relayRole: RelayRoleResult;
  redis: RedisStatus;
  jwt: string;
}

export default class Init extends RealtimeCommand {
  static summary = "Create and migrate the database, and check the configuration.";
  static description =
    "Creates the database named in DATABASE_URL when it is missing and applies the migrations (schema, SQL functions, views). " +
    "Without DATABASE_URL it initialises the embedded PostgreSQL in the data directory (or migrates it when a server is running). " +
    "Creates the least-privilege relay role (NOLOGIN, default realtime_relay: it may execute the SQL API and read the tables and views, " +
    "never write a table) with REALTIME_STATEMENT_TIMEOUT and REALTIME_IDLE_TX_TIMEOUT as its timeouts, when the database user has CREATEROLE, " +
    "and with --relay-user a login role that is a member of it for the server's DATABASE_URL. Without CREATEROLE it says what a DBA can run " +
    "and the server keeps connecting as the schema owner. " +
    "Then checks that Redis answers when REALTIME_REDIS_URL is set and that JWT settings are coherent. Safe to run again.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "DATABASE_URL=postgres://postgres@localhost:5432/realtime <%= config.bin %> <%= command.id %>",
    "REALTIME_RELAY_PASSWORD=... <%= config.bin %> <%= command.id %> --relay-user realtime_app",
    "<%= config.bin %> <%= command.id %> --json",
  ];
  static flags = {
    "relay-role": Flags.string({ description: "the NOLOGIN group role holding the relay's privileges", default: "realtime_relay" }),
    "relay-user": Flags.string({ description: "also create or refresh this login role as a member of the relay role (for the server's DATABASE_URL)" }),
    "relay-password": Flags.string({ description: "password of --relay-user (prefer the environment variable)", env: "REALTIME_RELAY_PASSWORD" }),
  };
  static enableJsonFlag = true;

  async run(): Promise<InitJson> {
    const { flags } = await this.parse(Init);
    const config = this.settings;
    this.log("Configuration: read (.env and environment)");

    const problems: string[] = [];
    const { relayRole, ...database } = await this.migrate(flags);
    // A login role that was asked for and could not be set up is a failure; the group role is not.
    const loginNote = relayRole.notes.find((n) => flags["relay-user"] !== undefined && n.includes(flags["relay-user"]));
    if (loginNote) problems.push(loginNote);

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
    return { database, relayRole, redis, jwt };
  }

  private async migrate(flags: {
    "relay-role": string;
    "relay-user"?: string;
    "relay-password"?: string;
  }): Promise<InitJson["database"] & { relayRole: RelayRoleResult }> {
    const config = this.settings;
    const { appliedMigrations, migrateDatabase } = await import("../../lib/migrate.js");
    const { setupRelayRole } = await import("../../lib/sql/roles.js");
    const log = (message: string) => {
      if (/debug|trace/i.test(config.logLevel)) this.logToStderr(`  ${message}`);
    };

    const run = async (target: DbTarget) => {
      try {
        const before = (await appliedMigrations(target.url)).length;
        const result = await migrateDatabase(target.url, log, { createDatabase: true });
        const after = (await appliedMigrations(target.url)).length;
        const relayRole = await setupRelayRole(target.url, {
          role: flags["relay-role"],
          login: flags["relay-user"],
          password: flags["relay-password"],
          statementTimeoutMs: config.dbStatementTimeoutMs,
          idleTxTimeoutMs: config.dbIdleTxTimeoutMs,
        });
        return { ...result, applied: after - before, relayRole };
      } catch (err) {
        throw describeDbError(err, target);
      }
    };
    const report = (
      target: DbTarget,
      r: { createdDatabase: boolean; schemaVersion: string | null; applied: number; relayRole: RelayRoleResult },
    ) => {
      const where = maskUrl(target.url);
      this.log(r.createdDatabase ? `Database: created ${where}` : `Database: ${where} exists`);
      this.log(
        r.applied > 0
          ? `Migrations: applied ${r.applied}, schema ${r.schemaVersion}`
          : `Migrations: up to date, schema ${r.schemaVersion}`,
      );
      const role = r.relayRole;
      if (role.exists) {
        const timeouts = role.timeouts
          ? `, statement_timeout ${config.dbStatementTimeoutMs} ms, idle_in_transaction_session_timeout ${config.dbIdleTxTimeoutMs} ms`
          : "";
        this.log(`Relay role: ${role.role} ${role.created ? "created" : "exists"} (executes the SQL API, reads tables and views, writes none${timeouts})`);
      }
      if (role.login?.exists) {
        this.log(`Relay login: ${role.login.name} ${role.login.created ? "created" : "refreshed"}, member of ${role.role}: use it in the server's DATABASE_URL`);
      }
      for (const note of role.notes) this.log(`Relay role: NOTE: ${note}`);
      return {
        url: where,
        embedded: target.embedded,
        created: r.createdDatabase,
        migrationsApplied: r.applied,
        schemaVersion: r.schemaVersion,
        relayRole: r.relayRole,
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

    const { startEmbeddedPostgres } = await import("../../lib/embedded.js");
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
