import { Flags } from "@oclif/core";
import { RealtimeCommand } from "../../lib/base.js";
import { CliError } from "../../lib/errors.js";
import { isAlive, sleep } from "../../../lib/process.js";
import { listServers, removeRunFiles, runDir, type ServerInstance } from "../../lib/server.js";

export interface StoppedServer {
  node: string;
  pid: number;
}

export default class ServerStop extends RealtimeCommand {
  static summary = "Stop the servers started with server start (all of them, or one with --node).";
  static description =
    "Sends SIGTERM to every server that has a pid file in <data dir>/run/ (or only the one named with --node: its REALTIME_NODE_ID, or port-<port>) " +
    "and waits for each to close its connections and exit (up to --timeout seconds), then removes its pid file. Says so when no server is running.";
  static examples = ["<%= config.bin %> <%= command.id %>", "<%= config.bin %> <%= command.id %> --node relay-b"];
  static enableJsonFlag = true;
  static flags = {
    node: Flags.string({ char: "n", description: "stop only this server (its REALTIME_NODE_ID, or port-<port>)" }),
    timeout: Flags.integer({ description: "seconds to wait for each server to exit", default: 30, min: 1 }),
  };

  async run(): Promise<{ stopped: StoppedServer[] }> {
    const { flags } = await this.parse(ServerStop);
    const config = this.settings;
    const all = listServers(config);
    let targets: ServerInstance[] = all.filter((s) => s.pid !== null);
    if (flags.node !== undefined) {
      targets = targets.filter((s) => s.name === flags.node);
      if (targets.length === 0) {
        const known = all.filter((s) => s.pid !== null).map((s) => s.name);
        this.log(
          `The server ${flags.node} is not running${known.length ? ` (running: ${known.join(", ")})` : ` (no server runs from ${runDir(config)})`}.`,
        );
        return { stopped: [] };
      }
    }
    if (targets.length === 0) {
      this.log(`The server is not running (no pid file in ${runDir(config)}).`);
      return { stopped: [] };
    }

    for (const server of targets) {
      try {
        process.kill(server.pid!, "SIGTERM");
      } catch (err) {
        if ((err as { code?: string }).code === "ESRCH") continue;
        throw new CliError(`cannot signal the server ${server.name} (pid ${server.pid}): ${(err as Error).message}`);
      }
    }
    const deadline = Date.now() + flags.timeout * 1000;
    const stopped: StoppedServer[] = [];
    for (const server of targets) {
      const pid = server.pid!;
      while (isAlive(pid)) {
        if (Date.now() > deadline) {
          throw new CliError(
            `the server ${server.name} (pid ${pid}) did not exit within ${flags.timeout} s after SIGTERM; run the command again, or kill -9 ${pid}`,
          );
        }
        await sleep(100);
      }
      removeRunFiles(config, server.name, pid);
      this.log(`Stopped the server ${server.name} (pid ${pid}).`);
      stopped.push({ node: server.name, pid });
    }
    return { stopped };
  }
}
