import fs from "node:fs";
import { Args, Flags } from "@oclif/core";
import { prettyLine, wantsPretty } from "../../../lib/logger.js";
import { RealtimeCommand } from "../../lib/base.js";
import { CliError } from "../../lib/errors.js";
import { sleep } from "../../../lib/process.js";
import { listServers, runDir, tailLines } from "../../lib/server.js";

export default class ServerLogs extends RealtimeCommand {
  static summary = "Show the servers' logs (all of them, or one with --node).";
  static description =
    "Prints the last N lines (default 50) of each server's log, <data dir>/run/<name>.log (every server started with server start writes one; " +
    "a detached server's whole output goes there). With several servers each log is headed by its name, and --follow prefixes each line with it. " +
    "In a terminal the JSON lines are shown as `time level message key=value` (LOG_FORMAT=json keeps them raw). --follow keeps printing new lines until Ctrl-C.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> 100 --node relay-b",
    "<%= config.bin %> <%= command.id %> 20 --follow",
  ];
  static args = {
    lines: Args.integer({ description: "how many lines", default: 50, min: 0 }),
  };
  static flags = {
    node: Flags.string({ char: "n", description: "only this server's log (its REALTIME_NODE_ID, or port-<port>)" }),
    follow: Flags.boolean({ char: "f", description: "keep printing lines as they are written", default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ServerLogs);
    const config = this.settings;
    let logs = listServers(config).filter((s) => s.hasLog);
    if (flags.node !== undefined) {
      const known = logs.map((s) => s.name);
      logs = logs.filter((s) => s.name === flags.node);
      if (logs.length === 0) {
        throw new CliError(
          `no log for the server ${flags.node} in ${runDir(config)}${known.length ? ` (logs: ${known.join(", ")})` : ""}`,
        );
      }
    }
    if (logs.length === 0) {
      throw new CliError(`no server log in ${runDir(config)}: a server writes one there when started with npx realtime server start`);
    }
    const pretty = wantsPretty(config.logFormat, process.stdout);
    const color = pretty && process.stdout.isTTY === true && !process.env.NO_COLOR;
    const several = logs.length > 1;
    const show = (line: string) => (pretty ? prettyLine(line, color) : line);

    for (const [i, log] of logs.entries()) {
      const lines = tailLines(log.logFile, args.lines);
      if (several) process.stdout.write(`${i > 0 ? "\n" : ""}==> ${log.name} (${log.logFile}) <==\n`);
      if (lines.length) process.stdout.write(lines.map(show).join("\n") + "\n");
    }
    if (!flags.follow) return;

    const positions = new Map(logs.map((l) => [l.logFile, fs.statSync(l.logFile).size]));
    const partial = new Map<string, string>();
    for (;;) {
      await sleep(250);
      for (const log of logs) {
        let size: number;
        try {
          size = fs.statSync(log.logFile).size;
        } catch {
          continue; // rotated away; wait for it to come back
        }
        let position = positions.get(log.logFile) ?? 0;
        if (size < position) position = 0; // truncated
        if (size === position) continue;
        const fd = fs.openSync(log.logFile, "r");
        try {
          const buffer = Buffer.alloc(size - position);
          fs.readSync(fd, buffer, 0, buffer.length, position);
          positions.set(log.logFile, size);
          const text = (partial.get(log.logFile) ?? "") + buffer.toString("utf8");
          const parts = text.split("\n");
          partial.set(log.logFile, parts.pop() ?? "");
          const out = parts.map((line) => (several ? `[${log.name}] ` : "") + show(line));
          if (out.length) process.stdout.write(out.join("\n") + "\n");
        } finally {
          fs.closeSync(fd);
        }
      }
    }
  }
}
