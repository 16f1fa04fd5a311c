// An in-process relay on its own test database, for the end-to-end tests (clients: sockets.ts,
// tokens: tokens.ts).
import { runServer, type RunningServer } from "../../relay/main.js";
import { createTestDatabase, type TestDatabase } from "./db.js";
import { closeClients } from "./sockets.js";
import { JWT_SECRET } from "./tokens.js";

export interface TestRelay {
  url: string;
  port: number;
  nodeId: string;
  db: TestDatabase;
  server: RunningServer;
  /** Stops the relay (idempotent); the database stays for inspection. */
  stop(): Promise<void>;
  /** Stops the relay, closes the clients opened against it and drops its database when it owns it. */
  dispose(): Promise<void>;
}

let relayCounter = 0;

/**
 * Starts a relay in-process on port 0 against a fresh test database (or `options.db`, shared with
 * another relay of the same file). `env` overrides the defaults below.
 */
export async function startRelay(env: Record<string, string | undefined> = {}, options: { db?: TestDatabase } = {}): Promise<TestRelay> {
  const db = options.db ?? (await createTestDatabase());
  const nodeId = `e2e-${process.pid}-${++relayCounter}`;
  let server: RunningServer;
  try {
    server = await runServer({
      env: {
        DATABASE_URL: db.url,
        REALTIME_JWT_SECRET: JWT_SECRET,
        REALTIME_PORT: "0",
        REALTIME_HOST: "127.0.0.1",
        REALTIME_NODE_ID: nodeId,
        REALTIME_DEMO: "false",
        LOG_LEVEL: "silent",
        ...env,
      },
      installSignalHandlers: false,
    });
  } catch (err) {
    if (!options.db) await db.drop().catch(() => {});
    throw err;
  }
  const url = server.url;
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= server.stop());
  return {
    url,
    port: server.port,
    nodeId,
    db,
    server,
    stop,
    async dispose() {
      closeClients(url);
      await stop();
      if (!options.db) await db.drop();
    },
  };
}
