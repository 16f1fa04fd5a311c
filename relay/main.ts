// Starts a relay the way `realtime server start` and `npm start` do: configuration from the
// environment (and .env), the embedded PostgreSQL when DATABASE_URL is absent, migrations, serve.
//
// Start-up fails with one line for what a person can fix: a busy port (REALTIME_PORT), a database
// that does not exist (`realtime init` creates it: the relay never creates databases), a database
// that stays unreachable for REALTIME_DB_WAIT. With installSignalHandlers, SIGINT/SIGTERM at any
// moment, start-up included, stop whatever has started (the embedded PostgreSQL too) and exit.
import net from "node:net";
import pg from "pg";
import { assertAuthConfigured, loadConfig, loadDotEnv, type Config } from "../lib/config.js";
import { createLogger, type Logger } from "../lib/logger.js";
import { migrateDatabase } from "../lib/migrate.js";
import { maskUrl } from "../lib/mask.js";
import { Relay } from "./server.js";
import { ensurePublicChannel } from "../lib/sql/rooms.js";

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

/** A start-up failure a person can fix; its message is the one line to print. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "StartupError";
  }
}

/** Start-up was interrupted by a signal; everything it had started is stopped. */
export class StartupAborted extends Error {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal} during start-up`);
    this.name = "StartupAborted";
  }
}

/** Errors that mean "the database is not accepting connections yet": worth waiting for at start. */
const TRANSIENT_CODES = new Set(["57P03", "ECONNREFUSED", "ECONNRESET", "EAI_AGAIN", "ETIMEDOUT", "53300"]);

function errorCode(err: unknown): string {
  const e = err as { code?: string; errors?: Array<{ code?: string }> };
  return e?.code ?? e?.errors?.find((x) => x.code)?.code ?? "";
}

function isTransient(err: unknown): boolean {
  if (TRANSIENT_CODES.has(errorCode(err))) return true;
  return /timeout expired|Connection terminated unexpectedly/i.test((err as Error)?.message ?? "");
}

function describeWait(err: unknown): string {
  const code = errorCode(err);
  if (code === "57P03") return "the database system is starting up";
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "53300") return "too many connections";
  return (err as Error)?.message || code || String(err);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Connects once to the database, waiting up to waitMs (logged once) while it is starting up or
 * refusing connections. Other failures (no such database, bad password) are thrown at once.
 */
export async function waitForDatabase(
  databaseUrl: string,
  waitMs: number,
  log: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000, application_name: "realtime-start" });
    client.on("error", () => {});
    try {
      await client.connect();
      if (announced) log.info({ database: maskUrl(databaseUrl) }, "database is accepting connections");
      return;
    } catch (err) {
      if (!isTransient(err) || Date.now() >= deadline || signal?.aborted) throw err;
      if (!announced) {
        announced = true;
        log.warn(
          { database: maskUrl(databaseUrl), reason: describeWait(err), waitSeconds: Math.round(waitMs / 1000) },
          "database not accepting connections yet; waiting (REALTIME_DB_WAIT)",
        );
      }
      await sleep(Math.min(500, Math.max(0, deadline - Date.now())), signal);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** Fails with one line when host:port cannot be bound (checked before anything else starts). */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const failure = await tryListen(host, port);
  if (!failure) return;
  let suggestion: number | undefined;
  if (errorCode(failure) === "EADDRINUSE") {
    for (let p = port + 1; p <= Math.min(65535, port + 20) && suggestion === undefined; p++) {
      if (!(await tryListen(host, p))) suggestion = p;
    }
  }
  throw listenError(failure, host, port, suggestion);
}

/** Binds host:port for a moment; the error when that fails. */
function tryListen(host: string, port: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (err) => resolve(err));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** A listen failure as one line: which port, and how to pick another. */
export function listenError(err: unknown, host: string, port: number, suggestion?: number): Error {
  const code = errorCode(err);
  const where = host === "0.0.0.0" || host === "::" ? `port ${port}` : `${host}:${port}`;
  if (code === "EADDRINUSE") {
    return new StartupError(
      `${where} is already in use (another realtime server or program listens there): set REALTIME_PORT to a free port${suggestion ? `, e.g. REALTIME_PORT=${suggestion}` : ""}`,
      code,
    );
  }
  if (code === "EACCES") {
    return new StartupError(`no permission to listen on ${where} (ports below 1024 need privileges): set REALTIME_PORT to a port above 1023`, code);
  }
  if (code === "EADDRNOTAVAIL") {
    return new StartupError(`cannot listen on ${where}: ${host} is not an address of this machine; check REALTIME_HOST`, code);
  }
  return err as Error;
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
    relay = new Relay({ config, databaseUrl, logger: log, devJwtSecret });
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
