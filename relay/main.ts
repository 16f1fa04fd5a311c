// Starts a relay the way `realtime server start` and `npm start` do: configuration from the
// environment (and .env), the embedded PostgreSQL when DATABASE_URL is absent, migrations, serve.
//
// Start-up fails with one line for what a person can fix: a busy port (REALTIME_PORT), a database
// that does not exist (`realtime init` creates it: the relay never creates databases), a database
// that stays unreachable for REALTIME_DB_WAIT, a REALTIME_MAX_MESSAGE_LENGTH the relay's role may
// not write to the database (lib/limits.ts). With installSignalHandlers, SIGINT/SIGTERM at any
// moment, start-up included, stop whatever has started (the embedded PostgreSQL too) and exit.
import pg from "pg";
import { assertAuthConfigured, loadConfig, loadDotEnv, type Config } from "../lib/config.js";
import { Db } from "../lib/db.js";
import { applyConfiguredLimits } from "../lib/limits.js";
import { createLogger, type Logger } from "../lib/logger.js";
import { migrateDatabase } from "../lib/migrate.js";
import { maskUrl } from "../lib/mask.js";
import { assertPortFree, errorCode, listenError, waitForDatabase } from "./startup-checks.js";
import { Relay } from "./server.js";
import { ensurePublicChannel } from "../lib/sql/rooms.js";
import type { Limits } from "../lib/sql/limits.js";

export interface RunningServer {
  url: string;
  port: number;
  relay: Relay;
  /** The embedded PostgreSQL's port, when this server started one. */
  embeddedPort: number | undefined;
  /** The database URL with its password masked. */
  database: string;
  nodeId: string;
  stop(): Promise<void>;
}

export interface RunServerOptions {
  installSignalHandlers?: boolean;
  /** Overrides of the environment (tests). */
  env?: Record<string, string | undefined>;
  /** Also append the JSON log lines to this file (the CLI's per-node log file). */
  logFile?: string;
}

export { assertPortFree, listenError, StartupError, waitForDatabase } from "./startup-checks.js";

/** Start-up was interrupted by a signal; everything it had started is stopped. */
export class StartupAborted extends Error {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal} during start-up`);
    this.name = "StartupAborted";
  }
}

/** A fresh embedded database gets a public `general` channel, so the demo page works at once. */
async function seedDemoRoom(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await ensurePublicChannel(client, "general");
  } finally {
    await client.end();
  }
}

/**
 * The database's limits, with those set in the environment (REALTIME_MAX_MESSAGE_LENGTH) written
 * there first and logged in one line each; a role that may not write them fails with LimitsError.
 */
async function startLimits(databaseUrl: string, config: Readonly<Config>, log: Logger): Promise<Limits> {
  const db = new Db({
    connectionString: databaseUrl,
    max: 1,
    applicationName: `realtime-start ${config.nodeId}`,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    lockTimeoutMs: config.dbLockTimeoutMs,
  });
  try {
    return await applyConfiguredLimits(db, config, (line) => log.info(line));
  } finally {
    await db.close().catch(() => {});
  }
}

export async function runServer(options: RunServerOptions = {}): Promise<RunningServer> {
  if (!options.env) loadDotEnv();
  const config: Readonly<Config> = loadConfig(options.env ?? process.env);
  const log = createLogger(config.logLevel, { nodeId: config.nodeId }, { format: config.logFormat, file: options.logFile });
  const installSignals = options.installSignalHandlers ?? true;

  // Signals during start-up abort it (whatever has started is stopped); afterwards they stop the
  // server. A second signal exits at once (the embedded PostgreSQL is still told to stop: see the
  // exit hook in embedded.ts).
  const abort = new AbortController();
  let stopRunning: (() => Promise<void>) | undefined;
  let signals = 0;
  const removeSignalHandlers: Array<() => void> = [];
  if (installSignals) {
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        log.warn({ signal }, "second signal: exiting now");
        process.exit(130);
      }
      const force = setTimeout(() => process.exit(1), 15_000);
      force.unref();
      if (!stopRunning) {
        log.info({ signal }, "interrupted during start-up; stopping what has started");
        abort.abort(new StartupAborted(signal));
        return;
      }
      log.info({ signal }, "shutting down");
      stopRunning().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const handler = () => onSignal(signal);
      process.on(signal, handler);
      removeSignalHandlers.push(() => process.off(signal, handler));
    }
  }
  const checkAborted = () => {
    if (abort.signal.aborted) throw abort.signal.reason as Error;
  };

  let databaseUrl = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let embeddedPort: number | undefined;
  let devJwtSecret: string | undefined;
  let relay: Relay | undefined;
  try {
    if (databaseUrl) assertAuthConfigured(config);
    // Before anything starts: a busy port is the commonest failure of a second `npm start`.
    await assertPortFree(config.host, config.port);
    checkAborted();

    if (!databaseUrl) {
      const embedded = await import("../lib/embedded.js");
      const db = await embedded.startEmbeddedPostgres({
        dataDir: config.dataDir,
        port: config.embeddedPort,
        log: (message: string) => log.debug({ scope: "embedded-postgres" }, message),
        signal: abort.signal,
      });
      databaseUrl = db.url;
      embeddedPort = db.port;
      stopEmbedded = () => db.stop();
      log.info({ dataDir: config.dataDir, port: db.port }, "embedded PostgreSQL started (no DATABASE_URL set)");
      checkAborted();
      if (!config.jwtSecret && !config.jwtPublicKey) {
        devJwtSecret = embedded.loadOrCreateDevSecret(config.dataDir);
        log.warn(
          { secretFile: config.dataDir },
          "no REALTIME_JWT_SECRET: using a development secret stored in the data directory; mint a token with `npx realtime token USER`",
        );
      }
    } else {
      await waitForDatabase(databaseUrl, config.dbWaitMs, log, abort.signal);
    }
    checkAborted();

    const migrated = await migrateDatabase(databaseUrl, (message) => log.debug({ scope: "migrate" }, message));
    log.info({ database: maskUrl(databaseUrl), schemaVersion: migrated.schemaVersion }, "database ready");
    checkAborted();
    if (stopEmbedded) await seedDemoRoom(databaseUrl);
    // Payloads are checked against the database's limits (REALTIME_MAX_MESSAGE_LENGTH is written
    // there first), read before serving and re-read by the relay every REALTIME_LIMITS_REFRESH.
    const limits = await startLimits(databaseUrl, config, log);
    checkAborted();
    relay = new Relay({ config, databaseUrl, logger: log, devJwtSecret, limits });
    try {
      await relay.start();
    } catch (err) {
      const code = errorCode(err);
      throw code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL" ? listenError(err, config.host, config.port) : err;
    }
    checkAborted();
  } catch (err) {
    // Stop in order: the relay (its LISTEN connection) before the database it listens to.
    await relay?.stop().catch(() => {});
    await stopEmbedded?.().catch(() => {});
    if (abort.signal.aborted && installSignals) {
      log.info("stopped before start-up finished");
      process.exit(130);
    }
    for (const remove of removeSignalHandlers) remove();
    throw err;
  }

  const started = relay;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await started.stop();
      await stopEmbedded?.().catch((err) => log.warn({ err: (err as Error).message }, "embedded PostgreSQL did not stop cleanly"));
    })());
  stopRunning = stop;

  if (installSignals) {
    process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled rejection"));
    process.on("uncaughtException", (err) => log.error({ err }, "uncaught exception"));
  }

  const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${started.port}`,
    port: started.port,
    relay: started,
    embeddedPort,
    database: maskUrl(databaseUrl),
    nodeId: config.nodeId,
    stop,
  };
}
