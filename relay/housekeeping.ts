// Periodic work: the node's heartbeat (which also finds sockets whose rows were lost and registers
// them again), the tick that settles presence and expires typing, the stale sweep with idle away,
// and pruning the event log.
import * as sql from "../lib/sql/index.js";
import type { Connections } from "./connections.js";
import type { RelayContext } from "./context.js";
import { GAP_MARGIN_MS } from "./delivery.js";

export class Housekeeping {
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    private readonly ctx: Pick<RelayContext, "config" | "db" | "io" | "log">,
    private readonly connections: Pick<Connections, "closePending" | "liveSocketsAmong" | "registerAgain">,
    /**
     * Called when this relay's sweep found a dead relay: messages it stored in its last moments may
     * never have been published. sinceMs: from when to look.
     */
    private readonly onDeadRelays: (sinceMs: number) => void = () => {},
  ) {}

  start(): void {
    const { config } = this.ctx;
    this.every(config.presenceHeartbeatMs, () => this.heartbeat());
    this.every(250, () => sql.tick(this.ctx.db));
    this.every(Math.max(1000, Math.floor(config.presenceHeartbeatMs / 2)), () => this.sweepStale());
    // Also soon after start, so a relay restarted more often than hourly still prunes; spread so
    // relays started together do not all prune at once. A failing prune is worth a warning: the
    // table grows until it works.
    this.every(3_600_000, () => sql.pruneEvents(this.ctx.db, config.eventRetentionMs), {
      firstAfterMs: 30_000 + Math.floor(Math.random() * 30_000),
      failureLevel: "warn",
    });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
  }

  private every(ms: number, fn: () => Promise<unknown>, options: { firstAfterMs?: number; failureLevel?: "debug" | "warn" } = {}): void {
    let running = false;
    const run = () => {
      if (running || this.stopped) return;
      running = true;
      fn()
        .catch((err) => this.ctx.log[options.failureLevel ?? "debug"]({ err: (err as Error).message }, "periodic task failed"))
        .finally(() => (running = false));
    };
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.push(timer);
    if (options.firstAfterMs !== undefined) {
      const first = setTimeout(run, options.firstAfterMs);
      first.unref();
      this.timers.push(first);
    }
  }

  /** Touches this node and its sockets; registers again in place the live sockets whose rows are gone. */
  async heartbeat(): Promise<void> {
    await this.connections.closePending();
    const socketIds: string[] = [];
    const active: string[] = [];
    for (const [id, socket] of this.ctx.io.of("/").sockets) {
      socketIds.push(id);
      if (socket.data.active) {
        active.push(id);
        socket.data.active = false;
      }
    }
    const notOpen = await sql.nodeHeartbeat(this.ctx.db, this.ctx.config.nodeId, socketIds, active);
    // Sockets the database no longer holds open (a crash emptied the UNLOGGED table, a sweep closed
    // them while this relay could not heartbeat, a DBA): the relay still holds them, so it puts
    // them back in place instead of making their clients reconnect.
    const lost = this.connections.liveSocketsAmong(notOpen);
    if (lost.length > 0) await this.connections.registerAgain(lost);
  }

  private async sweepStale(): Promise<void> {
    const { db, config, log } = this.ctx;
    const closed = await sql.disconnectStale(db, config.staleAfterMs, config.inactiveAfterMs);
    if (closed.length > 0) log.info({ closed: closed.length }, "closed stale connections");
    if (closed.some((c) => c.reason === "node dead")) {
      this.onDeadRelays(Date.now() - config.staleAfterMs - config.presenceHeartbeatMs - GAP_MARGIN_MS);
    }
    if (config.idleAfterMs > 0) await sql.markIdle(db, config.idleAfterMs);
  }
}
