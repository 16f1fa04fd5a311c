import { spawn } from "node:child_process";
import fs from "node:fs";
import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../../lib/base.js";
import { CliError, describeDbError, isDatabaseError } from "../../lib/errors.js";
import { BIN_RUN } from "../../../lib/paths.js";
import { sleep } from "../../../lib/process.js";
import {
  baseUrl,
  livePid,
  logFile,
  probeHealth,
  readState,
  removeRunFiles,
  runDir,
  serverName,
  tailLines,
  writePidFile,
  writeState,
} from "../../lib/server.js";

/** The last thing the server logged, for a failed start: pino's msg (and err.message) when JSON. */
function lastLogMessage(file: string): string | undefined {
  let lines: string[];
  try {
    lines = tailLines(file, 20);
  } catch {
    return undefined;
  }
  for (const line of lines.reverse()) {
    const text = line.trim();
    if (!text) continue;
    try {
      const entry = JSON.parse(text) as { msg?: string; level?: number; err?: { message?: string } };
      if (entry.level !== undefined && entry.level < 40 && lines.length > 1) continue;
      const parts = [entry.msg, entry.err?.message].filter(Boolean);
      if (parts.length) return parts.join(": ");
    } catch {
      return text;
    }
  }
  return lines.find((l) => l.trim());
}

/** A log file a failed start opened but never wrote to is not worth listing in server logs. */
function removeIfEmpty(file: string): void {
  try {
    if (fs.statSync(file).size === 0) fs.unlinkSync(file);
  } catch {
    // gone
  }
}

export default class ServerStart extends RealtimeCommand {
  static summary = "Start the realtime server.";
  static description =
    "Runs the Socket.io relay in the foreground (Ctrl-C stops it). Without DATABASE_URL it first starts the embedded PostgreSQL and migrates it. " +
    "Several servers can run from one directory: each is named after REALTIME_NODE_ID (or port-<REALTIME_PORT> without one) and has its own " +
    "<data dir>/run/<name>.pid, .json (URL and ports, for other shells) and .log. " +
    "With --detach it starts the server in the background (its output goes to the .log file), waits until GET /health answers and prints the URL.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> --detach",
    "REALTIME_NODE_ID=relay-b REALTIME_PORT=3102 DATABASE_URL=postgres://localhost/app <%= config.bin %> <%= command.id %> --detach",
  ];
  static flags = {
    detach: Flags.boolean({ char: "d", description: "run in the background (see server logs, server stop)", default: false }),
    timeout: Flags.integer({ description: "with --detach: seconds to wait for /health", default: 60, min: 1 }),
    // The process --detach starts: its stdout already is the log file.
    "detached-child": Flags.boolean({ hidden: true, default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ServerStart);
    const config = this.settings;
    const name = serverName(config);
    const running = livePid(config, name);
    if (running !== undefined && running !== process.pid) {
      const state = readState(config, name);
      throw new CliError(
        `a server named ${name} is already running (pid ${running}${state ? `, ${state.url}` : ""}); stop it with npx realtime server stop --node ${name}, ` +
          "or give this one another REALTIME_NODE_ID and REALTIME_PORT",
      );
    }
    if (flags.detach) await this.startDetached(name, flags.timeout * 1000);
    else await this.startForeground(name, flags["detached-child"]);
  }

  private async startForeground(name: string, detachedChild: boolean): Promise<void> {
    const config = this.settings;
    // Until runServer has installed its own handlers, a signal just exits (through the exit hook
    // that removes the pid file). The early handlers are removed only after runServer's are in
    // place (its synchronous start): with no listener at all for a moment, Node would drop a
    // signal caught meanwhile instead of delivering it.
    const early = () => process.exit(130);
    process.on("SIGINT", early);
    process.on("SIGTERM", early);
    writePidFile(config, process.pid, name);
    process.on("exit", () => removeRunFiles(config, name, process.pid));
    const { runServer } = await import("../../../relay/main.js");
    try {
      const starting = runServer({ installSignalHandlers: true, logFile: detachedChild ? undefined : logFile(config, name) });
      process.off("SIGINT", early);
      process.off("SIGTERM", early);
      const server = await starting;
      writeState(config, {
        name,
        nodeId: server.nodeId,
        pid: process.pid,
        url: baseUrl(config, server.port),
        port: server.port,
        host: config.host,
        embeddedPort: server.embeddedPort ?? null,
        database: server.database,
        startedAt: new Date().toISOString(),
      });
      this.log(`Realtime server ${name} listening on ${server.url} (pid ${process.pid})`);
    } catch (err) {
      removeRunFiles(config, name, process.pid);
      removeIfEmpty(logFile(config, name));
      if (config.databaseUrl && isDatabaseError(err, config.databaseUrl)) {
        throw describeDbError(err, { url: config.databaseUrl, embedded: false });
      }
      throw err;
    }
  }

  private async startDetached(name: string, timeoutMs: number): Promise<void> {
    const config = this.settings;
    if (config.port === 0) {
      throw new CliError("REALTIME_PORT=0 picks a random port: set a fixed port to start the server with --detach");
    }
    const url = baseUrl(config);
    const health = `${url}/health`;
    const before = await probeHealth(health, 1000);
    if (before.answered) {
      throw new CliError(`something already answers on ${url} (HTTP ${before.status}); stop it or set REALTIME_PORT to a free port`);
    }

    fs.mkdirSync(runDir(config), { recursive: true });
    const log = logFile(config, name);
    const fd = fs.openSync(log, "a");
    const child = spawn(process.execPath, [BIN_RUN, "server", "start", "--detached-child"], {
      detached: true,
      stdio: ["ignore", fd, fd],
      cwd: process.cwd(),
      env: process.env,
    });
    fs.closeSync(fd);
    const pid = child.pid;
    if (pid === undefined) throw new CliError(`could not start ${process.execPath} ${BIN_RUN}`);
    writePidFile(config, pid, name);
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on("exit", (code, signal) => {
      exited = { code, signal };
    });
    child.unref();

    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) {
        removeRunFiles(config, name, pid);
        const last = lastLogMessage(log);
        const how = exited.signal ? `signal ${exited.signal}` : `code ${exited.code}`;
        throw new CliError(
          `the server exited during start-up (${how})${last ? `: ${last}` : ""}; see ${log} (npx realtime server logs --node ${name})`,
        );
      }
      const probe = await probeHealth(health, 1000);
      if (probe.answered) {
        this.log(`Realtime server ${name} started (pid ${pid}): ${url}`);
        if (probe.status !== 200) {
          this.log(`Warning: ${health} answers HTTP ${probe.status}; check npx realtime status`);
        }
        this.log(`Logs: ${log} (npx realtime server logs --follow); stop with npx realtime server stop --node ${name}`);
        return;
      }
      if (Date.now() > deadline) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          // gone already
        }
        removeRunFiles(config, name, pid);
        throw new CliError(
          `the server did not answer ${health} within ${Math.round(timeoutMs / 1000)} s and was stopped; see ${log}`,
        );
      }
      await sleep(250);
    }
  }
}
