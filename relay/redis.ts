// Cross-relay delivery through Redis: the adapter (deduplicating message:new by id, see
// recovery.ts), the gap while Redis is unreachable, and the replay once it is back.
import { Redis } from "ioredis";
import type { RelayContext } from "./context.js";
import { GAP_MARGIN_MS, type Delivery } from "./delivery.js";
import { createDedupAdapter, dropPublishesWhileDown, type DeliveredMessages } from "./recovery.js";

export class RedisLink {
  ready = false;
  private pub: Redis | undefined;
  private sub: Redis | undefined;
  /** When the current Redis gap began (undefined: no gap). */
  private gapSince: number | undefined;

  constructor(
    private readonly ctx: Pick<RelayContext, "config" | "io" | "metrics" | "log">,
    private readonly delivered: DeliveredMessages,
    private readonly delivery: Pick<Delivery, "replayMessages">,
  ) {}

  async attach(url: string): Promise<void> {
    const { io, metrics, config } = this.ctx;
    const log = this.ctx.log.child({ scope: "redis" });
    // Capped, jittered backoff; never give up (maxRetriesPerRequest null).
    const pub = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: (n) => Math.min(2000, 50 * 2 ** n) * (0.75 + Math.random() / 2) });
    const sub = pub.duplicate();
    let reported = false;
    let connectedOnce = false;
    const lost = () => {
      if (this.ready || this.gapSince === undefined) this.gapSince ??= Date.now();
      this.delivered.holdFrom(this.gapSince - GAP_MARGIN_MS);
      this.ready = false;
    };
    for (const [name, conn] of [["pub", pub], ["sub", sub]] as const) {
      conn.on("error", (err) => {
        if (!reported) log.warn({ err: err.message, conn: name }, "redis error; cross-relay delivery paused");
        reported = true;
      });
      conn.on("ready", () => {
        reported = false;
        if (!(pub.status === "ready" && sub.status === "ready")) return;
        this.ready = true;
        log.info("redis connected");
        if (connectedOnce && this.gapSince !== undefined) this.afterGap();
        connectedOnce = true;
      });
      conn.on("end", lost);
      conn.on("close", lost);
    }
    this.pub = pub;
    this.sub = sub;
    dropPublishesWhileDown(pub, () => metrics.redisPublishesDropped.inc());
    io.adapter(createDedupAdapter(pub, sub, { key: config.redisPrefix }, this.delivered));
    // Another relay back from a Redis gap asks every relay to replay that window to its sockets.
    io.on("realtime:replay", (since: unknown) => {
      if (typeof since === "number" && Number.isFinite(since)) void this.delivery.replayMessages(since, "peer");
    });
    // Start-up waits briefly for Redis, then carries on with local delivery if it is down.
    await Promise.race([
      new Promise<void>((resolve) => (pub.status === "ready" ? resolve() : pub.once("ready", () => resolve()))),
      new Promise<void>((resolve) => setTimeout(resolve, 3000).unref()),
    ]);
  }

  /** Redis is back: replay the gap here, and ask every other relay to replay it too. */
  private afterGap(): void {
    const since = (this.gapSince ?? Date.now()) - GAP_MARGIN_MS;
    // Resubscription and the other relays' reconnects settle first; later messages flow normally.
    setTimeout(() => {
      this.gapSince = undefined;
      this.ctx.io.serverSideEmit("realtime:replay", since);
      void this.delivery.replayMessages(since, "redis").finally(() => {
        if (this.gapSince === undefined) this.delivered.holdFrom(undefined);
      });
    }, 1000).unref();
  }

  /** Asks every other relay to replay the messages stored since then to its own sockets. */
  askPeersToReplay(sinceMs: number): void {
    if (this.ready) this.ctx.io.serverSideEmit("realtime:replay", sinceMs);
  }

  disconnect(): void {
    this.pub?.disconnect();
    this.sub?.disconnect();
  }
}
