// Checks made before a relay starts, each failing with one line a person can act on: a port that
// cannot be bound (REALTIME_PORT), a database that does not accept connections within
// REALTIME_DB_WAIT.
import net from "node:net";
import pg from "pg";
import type { Logger } from "../lib/logger.js";
import { maskUrl } from "../lib/mask.js";

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

/** Errors that mean "the database is not accepting connections yet": worth waiting for at start. */
const TRANSIENT_CODES = new Set(["57P03", "ECONNREFUSED", "ECONNRESET", "EAI_AGAIN", "ETIMEDOUT", "53300"]);

export function errorCode(err: unknown): string {
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
