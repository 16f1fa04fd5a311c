import { spawn } from "node:child_process";
import fs from "node:fs";
import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../../lib/base.js";
import { CliError, describeDbError, isDatabaseError } from "../../lib/errors.js";
import {
  BIN_RUN,
  baseUrl,
  livePid,
  logFile,
  probeHealth,
  removePidFile,
  sleep,
  tailLines,
  writePidFile,
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

export default class ServerStart extends RealtimeCommand {
  static summary = "Start the realtime server.";
  static description =
    "Runs the Socket.io relay in the foreground (Ctrl-C stops it). Without DATABASE_URL it first starts the embedded PostgreSQL and migrates it. " +
    "With --detach it starts the server in the background, appends its output to <data dir>/server.log, writes <data dir>/server.pid, waits until GET /health answers and prints the URL.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> --detach",
    "REALTIME_PORT=4000 DATABASE_URL=postgres://localhost/app <%= config.bin %> <%= command.id %> --detach",
  ];
  static flags = {
    detach: Flags.boolean({ char: "d", description: "run in the background (see server logs, server stop)", default: false }),
    timeout: Flags.integer({ description: "with --detach: seconds to wait for /health", default: 60, min: 1 }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ServerStart);
    const config = this.settings;
    const running = livePid(config);
    if (running !== undefined && running !== process.pid) {
      throw new CliError(`a server is already running (pid ${running}); stop it with npx realtime server stop`);
    }
    if (flags.detach) await this.startDetached(flags.timeout * 1000);
    else await this.startForeground();
  }

  private async startForeground(): Promise<void> {
    const config = this.settings;
    writePidFile(config, process.pid);
    process.on("exit", () => removePidFile(config, process.pid));
    const { runServer } = await import("../../../relay/main.js");
    try {
      const server = await runServer({ installSignalHandlers: true });
      this.log(`Realtime server listening on ${server.url} (pid ${process.pid})`);
    } catch (err) {
      removePidFile(config, process.pid);
      if (config.databaseUrl && isDatabaseError(err, config.databaseUrl)) {
        throw describeDbError(err, { url: config.databaseUrl, embedded: false });
      }
      throw err;
    }
  }

  private async startDetached(timeoutMs: number): Promise<void> {
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

    fs.mkdirSync(config.dataDir, { recursive: true });
    const log = logFile(config);
    const fd = fs.openSync(log, "a");
    const child = spawn(process.execPath, [BIN_RUN, "server", "start"], {
      detached: true,
      stdio: ["ignore", fd, fd],
      cwd: process.cwd(),
      env: process.env,
    });
    fs.closeSync(fd);
    const pid = child.pid;
    if (pid === undefined) throw new CliError(`could not start ${process.execPath} ${BIN_RUN}`);
    writePidFile(config, pid);
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on("exit", (code, signal) => {
      exited = { code, signal };
    });
    child.unref();

    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) {
        removePidFile(config, pid);
        const last = lastLogMessage(log);
        const how = exited.signal ? `signal ${exited.signal}` : `code ${exited.code}`;
        throw new CliError(
          `the server exited during start-up (${how})${last ? `: ${last}` : ""}; see ${log} (npx realtime server logs)`,
        );
      }
      const probe = await probeHealth(health, 1000);
      if (probe.answered) {
        this.log(`Realtime server started (pid ${pid}): ${url}`);
        if (probe.status !== 200) {
          this.log(`Warning: ${health} answers HTTP ${probe.status}; check npx realtime status`);
        }
        this.log(`Logs: ${log} (npx realtime server logs --follow); stop with npx realtime server stop`);
        return;
      }
      if (Date.now() > deadline) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          // gone already
        }
        removePidFile(config, pid);
        throw new CliError(
          `the server did not answer ${health} within ${Math.round(timeoutMs / 1000)} s and was stopped; see ${log}`,
        );
      }
      await sleep(250);
    }
  }
}
