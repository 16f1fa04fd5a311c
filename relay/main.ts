// Starts a relay the way `realtime server start` and `npm start` do: configuration from the
// environment (and .env), the embedded PostgreSQL when DATABASE_URL is absent, migrations, serve.
import pg from "pg";
import { assertAuthConfigured, loadConfig, loadDotEnv, type Config } from "./config.js";
import { createLogger } from "./logger.js";
import { migrateDatabase } from "./migrate.js";
import { maskUrl } from "./mask.js";
import { Relay } from "./server.js";

export interface RunningServer {
  url: string;
  port: number;
  relay: Relay;
  stop(): Promise<void>;
}

export interface RunServerOptions {
  installSignalHandlers?: boolean;
  /** Overrides of the environment (tests). */
  env?: Record<string, string | undefined>;
}

/** A fresh embedded database gets a public `general` channel, so the demo page works at once. */
async function seedDemoRoom(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      "select realtime_create_room('general', 'channel', 'public') where not exists (select 1 from realtime_rooms where name = 'general')",
    );
  } finally {
    await client.end();
  }
}

export async function runServer(options: RunServerOptions = {}): Promise<RunningServer> {
  if (!options.env) loadDotEnv();
  const config: Readonly<Config> = loadConfig(options.env ?? process.env);
  const log = createLogger(config.logLevel, { nodeId: config.nodeId });

  let databaseUrl = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let devJwtSecret: string | undefined;
  if (!databaseUrl) {
    const embedded = await import("./embedded.js");
    const db = await embedded.startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPort,
      log: (message: string) => log.debug({ scope: "embedded-postgres" }, message),
    });
    databaseUrl = db.url;
    stopEmbedded = () => db.stop();
    log.info({ dataDir: config.dataDir, port: config.embeddedPort }, "embedded PostgreSQL started (no DATABASE_URL set)");
    if (!config.jwtSecret && !config.jwtPublicKey) {
      devJwtSecret = embedded.loadOrCreateDevSecret(config.dataDir);
      log.warn(
        { secretFile: config.dataDir },
        "no REALTIME_JWT_SECRET: using a development secret stored in the data directory; mint a token with `npx realtime token USER`",
      );
    }
  } else {
    assertAuthConfigured(config);
  }

  let relay: Relay;
  try {
    const migrated = await migrateDatabase(databaseUrl, (message) => log.debug({ scope: "migrate" }, message));
    log.info({ database: maskUrl(databaseUrl), schemaVersion: migrated.schemaVersion, createdDatabase: migrated.createdDatabase }, "database ready");
    if (stopEmbedded) await seedDemoRoom(databaseUrl);
    relay = new Relay({ config, databaseUrl, logger: log, devJwtSecret });
    await relay.start();
  } catch (err) {
    await stopEmbedded?.().catch(() => {});
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await relay.stop();
      await stopEmbedded?.().catch((err) => log.warn({ err: (err as Error).message }, "embedded PostgreSQL did not stop cleanly"));
    })());

  if (options.installSignalHandlers ?? true) {
    const onSignal = (signal: string) => {
      log.info({ signal }, "shutting down");
      const force = setTimeout(() => process.exit(1), 15_000);
      force.unref();
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));
    process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled rejection"));
    process.on("uncaughtException", (err) => log.error({ err }, "uncaught exception"));
  }

  const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  return { url: `http://${host}:${relay.port}`, port: relay.port, relay, stop };
}
