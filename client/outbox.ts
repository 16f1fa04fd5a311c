// Requests that wait for the connection and survive it: message sends and the other acknowledged
// events. A request is emitted only while the client is authenticated; one whose connection drops
// before the answer is sent again after the reconnect when that is safe (a message keeps its
// clientMessageId, so the server stores it once), and transient refusals (UNAVAILABLE, BUSY,
// RATE_LIMITED, no answer in time) are retried after a delay.
import { RealtimeError, isTransient, retryDelayMs } from "./errors.js";
import type { Ack } from "./wire.js";

export interface OutboxTransport {
  /** True while authenticated: requests may be emitted. */
  ready(): boolean;
  /** Emits with an acknowledgement; `cb(err)` when none came within timeoutMs. */
  emit(event: string, payload: unknown, timeoutMs: number, cb: (err: Error | null, answer?: Ack<unknown>) => void): void;
}

export interface RequestOptions {
  /** Sent again after a reconnect when the connection dropped before the answer (default true). */
  retryOnReconnect?: boolean;
  /** Attempts after transient refusals and timeouts (default 5; sends: unlimited). */
  maxAttempts?: number;
  /** Counts toward the pending-send limit. */
  send?: boolean;
}

interface Item {
  event: string;
  payload: unknown;
  resolve: (data: unknown) => void;
  reject: (err: RealtimeError) => void;
  retryOnReconnect: boolean;
  maxAttempts: number;
  send: boolean;
  attempts: number;
  /** Identifies the attempt whose answer counts; answers of older attempts are ignored. */
  attempt: number;
  inflight: boolean;
  wait?: ReturnType<typeof setTimeout>;
}

export class Outbox {
  private items: Item[] = [];
  private closed: RealtimeError | undefined;

  constructor(
    private readonly transport: OutboxTransport,
    private readonly options: { ackTimeoutMs: number; maxPendingSends: number },
  ) {}

  /** Sends not yet acknowledged. */
  get pendingSends(): number {
    let n = 0;
    for (const item of this.items) if (item.send) n++;
    return n;
  }

  request<T>(event: string, payload: unknown, options: RequestOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    const send = options.send ?? false;
    if (send && this.pendingSends >= this.options.maxPendingSends) {
      return Promise.reject(
        new RealtimeError("LIMIT_EXCEEDED", `${this.options.maxPendingSends} messages are already waiting to be sent`, {
          limit: "pendingSends",
          max: this.options.maxPendingSends,
        }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const item: Item = {
        event,
        payload,
        resolve: resolve as (data: unknown) => void,
        reject,
        retryOnReconnect: options.retryOnReconnect ?? true,
        maxAttempts: options.maxAttempts ?? (send ? Infinity : 5),
        send,
        attempts: 0,
        attempt: 0,
        inflight: false,
      };
      this.items.push(item);
      this.try(item);
    });
  }

  /** Emits everything that waits for the connection, oldest first. Called once authenticated. */
  flush(): void {
    for (const item of [...this.items]) if (!item.inflight && item.wait === undefined) this.try(item);
  }

  /** The connection dropped: answers of attempts in flight will not come. */
  disconnected(): void {
    for (const item of [...this.items]) {
      if (!item.inflight) continue;
      item.inflight = false;
      item.attempt++;
      if (!item.retryOnReconnect) this.finish(item, new RealtimeError("UNAVAILABLE", "the connection was lost before the answer"));
    }
  }

  /** Rejects everything with `err`; later requests are refused with it too. */
  close(err: RealtimeError): void {
    this.closed = err;
    for (const item of [...this.items]) this.finish(item, err);
  }

  private try(item: Item): void {
    if (this.closed || item.inflight || !this.transport.ready()) return;
    item.inflight = true;
    item.attempts++;
    const attempt = ++item.attempt;
    this.transport.emit(item.event, item.payload, this.options.ackTimeoutMs, (err, answer) => {
      if (item.attempt !== attempt || !this.items.includes(item)) return;
      item.inflight = false;
      let error: RealtimeError;
      if (err || !answer || typeof answer !== "object") {
        error = new RealtimeError("TIMEOUT", `no answer to ${item.event} within ${this.options.ackTimeoutMs} ms`);
        // Without an answer the request may or may not have been applied: only retry what is safe.
        if (!item.retryOnReconnect) return this.finish(item, error);
      } else if (answer.ok) {
        return this.finish(item, undefined, answer.data);
      } else {
        error = RealtimeError.from(answer.error);
      }
      if (isTransient(error.code) && item.attempts < item.maxAttempts) {
        item.wait = setTimeout(() => {
          item.wait = undefined;
          this.try(item);
        }, retryDelayMs(error, item.attempts));
        return;
      }
      this.finish(item, error);
    });
  }

  private finish(item: Item, err: RealtimeError | undefined, data?: unknown): void {
    const i = this.items.indexOf(item);
    if (i < 0) return;
    this.items.splice(i, 1);
    if (item.wait !== undefined) clearTimeout(item.wait);
    item.attempt++;
    if (err) item.reject(err);
    else item.resolve(data);
  }
}
