// The dedicated LISTEN connection (not from the query pool). It reconnects forever with capped,
// jittered backoff; after coming back it calls onReconnect so the relay re-reads what it may have
// missed (notifications sent while disconnected are lost).
import pgListen, { type Subscriber } from "pg-listen";
import { NOTIFY_CHANNEL, type Notification } from "../protocol/index.js";
import type { Logger } from "../lib/logger.js";

const createSubscriber = pgListen.default;

const backoff = (attempt: number) => Math.min(5000, 250 * 2 ** attempt) * (0.75 + Math.random() * 0.5);

export class Listener {
  private subscriber: Subscriber | undefined;
  private stopped = false;
  private everConnected = false;
  /** When the connection was lost (the resync replays what changed since). */
  private lostAt: number | undefined;
  connected = false;

  constructor(
    private readonly connectionString: string,
    private readonly onNotification: (n: Notification) => void,
    /** Called once the connection is back; lostAt is when it was lost (ms since the epoch). */
    private readonly onReconnect: (lostAt: number) => void,
    private readonly log: Logger,
  ) {}

  private create(): Subscriber {
    const subscriber = createSubscriber(
      { connectionString: this.connectionString, application_name: "realtime-listen" },
      {
        retryTimeout: 0, // never give up (pg-listen's default gives up after 3 s)
        retryLimit: Infinity,
        retryInterval: backoff,
        paranoidChecking: 5000,
      },
    );
    subscriber.notifications.on(NOTIFY_CHANNEL, (payload: unknown) => {
      if (payload && typeof payload === "object" && (payload as Notification).v === 1) {
        this.onNotification(payload as Notification);
      }
    });
    subscriber.events.on("connected", () => this.markConnected());
    subscriber.events.on("reconnect", (attempt: number) => {
      this.markLost();
      if (attempt === 1) this.log.warn("LISTEN connection lost; reconnecting");
    });
    subscriber.events.on("error", (err: Error) => {
      // pg-listen gives up when re-subscribing fails after a reconnect: start over with a new one.
      this.markLost();
      this.log.error({ err: err.message }, "LISTEN connection failed; starting a new one");
      void subscriber.close().catch(() => {});
      if (subscriber === this.subscriber && !this.stopped) void this.connectLoop();
    });
    return subscriber;
  }

  private markLost(): void {
    this.connected = false;
    this.lostAt ??= Date.now();
  }

  private markConnected(): void {
    this.connected = true;
    if (this.everConnected) {
      const lostAt = this.lostAt ?? Date.now();
      this.log.info({ downMs: Date.now() - lostAt }, "LISTEN connection restored; resyncing");
      this.onReconnect(lostAt);
    }
    this.lostAt = undefined;
    this.everConnected = true;
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const subscriber = this.create();
      this.subscriber = subscriber;
      try {
        await subscriber.connect();
        await subscriber.listenTo(NOTIFY_CHANNEL);
        return;
      } catch (err) {
        this.markLost();
        await subscriber.close().catch(() => {});
        if (attempt === 0) this.log.warn({ err: (err as Error).message }, "LISTEN connection failed; retrying");
        await new Promise((r) => setTimeout(r, backoff(attempt)));
      }
    }
  }

  /** Connects and subscribes; the first attempt's failure is thrown (start-up should fail loudly). */
  async start(): Promise<void> {
    const subscriber = this.create();
    this.subscriber = subscriber;
    await subscriber.connect();
    await subscriber.listenTo(NOTIFY_CHANNEL);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.connected = false;
    await this.subscriber?.close().catch(() => {});
  }
}
