import fs from "node:fs";
import { Args, Flags } from "@oclif/core";
import { RealtimeCommand } from "../../lib/base.js";
import { CliError } from "../../lib/errors.js";
import { logFile, sleep, tailLines } from "../../lib/server.js";

export default class ServerLogs extends RealtimeCommand {
  static summary = "Show the server log.";
  static description =
    "Prints the last N lines (default 50) of <data dir>/server.log, written by a server started with server start --detach. --follow keeps printing new lines until Ctrl-C.";
  static examples = [
    "<%= config.bin %> <%= command.id %>",
    "<%= config.bin %> <%= command.id %> 100",
    "<%= config.bin %> <%= command.id %> 20 --follow",
  ];
  static args = {
    lines: Args.integer({ description: "how many lines", default: 50, min: 0 }),
  };
  static flags = {
    follow: Flags.boolean({ char: "f", description: "keep printing lines as they are written", default: false }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ServerLogs);
    const file = logFile(this.settings);
    if (!fs.existsSync(file)) {
      throw new CliError(`no server log at ${file}: the server writes it when started with npx realtime server start --detach`);
    }
    const lines = tailLines(file, args.lines);
    if (lines.length) process.stdout.write(lines.join("\n") + "\n");
    if (!flags.follow) return;

    let position = fs.statSync(file).size;
    for (;;) {
      await sleep(250);
      let size: number;
      try {
        size = fs.statSync(file).size;
      } catch {
        continue; // rotated away; wait for it to come back
      }
      if (size < position) position = 0; // truncated
      if (size === position) continue;
      const fd = fs.openSync(file, "r");
      try {
        const buffer = Buffer.alloc(size - position);
        fs.readSync(fd, buffer, 0, buffer.length, position);
        process.stdout.write(buffer);
        position = size;
      } finally {
        fs.closeSync(fd);
      }
    }
  }
}
