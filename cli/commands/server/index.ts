import { Command, loadHelpClass } from "@oclif/core";

export default class Server extends Command {
  static summary = "Start, stop and inspect the realtime server (server start|stop|logs).";
  static description = "Commands that manage the Socket.io relay process: server start [--detach], server stop, server logs [N] [--follow].";
  static examples = ["<%= config.bin %> server start --detach", "<%= config.bin %> server logs 100", "<%= config.bin %> server stop"];

  async run(): Promise<void> {
    await this.parse(Server);
    const Help = await loadHelpClass(this.config);
    await new Help(this.config).showHelp(["server"]);
  }
}
