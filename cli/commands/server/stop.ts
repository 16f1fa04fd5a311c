import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../../lib/base.js";
import { CliError } from "../../lib/errors.js";
import { isAlive, isServerProcess, pidFile, readPid, removePidFile, sleep } from "../../lib/server.js";

export default class ServerStop extends RealtimeCommand {
  static summary = "Stop a server started with server start.";
  static description =
    "Sends SIGTERM to the pid in <data dir>/server.pid and waits for the server to close its connections and exit (up to --timeout seconds), then removes the pid file. Says so when no server is running.";
  static examples = ["<%= config.bin %> <%= command.id %>"];
  static enableJsonFlag = true;
  static flags = {
    timeout: Flags.integer({ description: "seconds to wait for the server to exit", default: 30, min: 1 }),
  };

  async run(): Promise<{ stopped: boolean; pid: number | null }> {
    const { flags } = await this.parse(ServerStop);
    const config = this.settings;
    const file = pidFile(config);
    const pid = readPid(file);
    if (pid === undefined) {
      this.log(`The server is not running (no pid file at ${file}).`);
      return { stopped: false, pid: null };
    }
    if (!isAlive(pid) || !isServerProcess(pid)) {
      removePidFile(config, pid);
      this.log(`The server is not running (removed a stale pid file for pid ${pid}).`);
      return { stopped: false, pid };
    }
    try {
      process.kill(pid, "SIGTERM");
    } catch (err) {
      throw new CliError(`cannot signal the server (pid ${pid}): ${(err as Error).message}`);
    }
    const deadline = Date.now() + flags.timeout * 1000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) {
        throw new CliError(
          `the server (pid ${pid}) did not exit within ${flags.timeout} s after SIGTERM; run the command again, or kill -9 ${pid}`,
        );
      }
      await sleep(100);
    }
    removePidFile(config, pid);
    this.log(`Stopped the server (pid ${pid}).`);
    return { stopped: true, pid };
  }
}
