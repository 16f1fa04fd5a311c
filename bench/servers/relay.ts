// The relay under test: the product's own entry point, configured by the environment bench/run.ts
// passes (dedicated database, JWT secret, limits above the bench's load, LOG_LEVEL=warn,
// REALTIME_LOG_EVENTS=false).
import { runServer } from "../../relay/main.js";
import { serveIpc } from "./ipc.js";

const running = await runServer({ env: process.env, installSignalHandlers: false });
serveIpc({
  port: running.port,
  connections: () => running.relay.localConnectionCount,
  stop: () => running.stop(),
});
