// The bench servers answer the load generator over the IPC channel: memory and CPU measured from
// inside the server process (after a forced GC when asked), connection count, and stop.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";

export interface ServerStats {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Event-loop utilisation since the previous stats call (0..1). */
  elu: number;
  loopDelayP99Ms: number;
  connections: number;
}

type Msg = { type: string; id?: number; gc?: boolean };

export function serveIpc(opts: { port: number; connections: () => number; stop: () => Promise<void> }): void {
  if (!process.send) throw new Error("bench servers run as IPC children of bench/run.ts");
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let lastElu = performance.eventLoopUtilization();
  const gc = (globalThis as { gc?: () => void }).gc;

  process.on("message", (raw) => {
    const msg = raw as Msg;
    if (msg.type === "stats") {
      if (msg.gc && gc) {
        gc();
        gc();
      }
      const m = process.memoryUsage();
      const cpu = process.cpuUsage();
      const elu = performance.eventLoopUtilization(lastElu);
      lastElu = performance.eventLoopUtilization();
      const stats: ServerStats = {
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        cpuUserMs: cpu.user / 1000,
        cpuSystemMs: cpu.system / 1000,
        elu: elu.utilization,
        loopDelayP99Ms: delay.percentile(99) / 1e6,
        connections: opts.connections(),
      };
      delay.reset();
      process.send!({ type: "stats", id: msg.id, stats });
    } else if (msg.type === "stop") {
      const force = setTimeout(() => process.exit(0), 10_000);
      force.unref();
      opts.stop().finally(() => {
        process.send!({ type: "stopped", id: msg.id }, () => process.exit(0));
      });
    }
  });
  // SIGTERM: shut down as in production (the restart storm), then exit.
  process.once("SIGTERM", () => {
    const force = setTimeout(() => process.exit(0), 20_000);
    force.unref();
    opts.stop().finally(() => process.exit(0));
  });
  // The parent went away: do not linger.
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "ready", port: opts.port, pid: process.pid });
}
