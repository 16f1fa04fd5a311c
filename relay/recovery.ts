// Cross-relay delivery that survives a Redis outage. Messages reach other relays' sockets through
// the Redis adapter; while Redis (or this relay's link to it) is down, publishes are lost. So:
// - publishes that cannot be sent fail at once instead of piling up in ioredis's offline queue
//   (which delivered them seconds late, and not to relays whose subscription came back later);
// - every relay remembers, for a while, which message ids it delivered to its sockets;
// - when Redis is back, each relay reads the messages stored in its rooms since the gap began and
//   delivers to its own sockets those it had not delivered, and asks the other relays to do the
//   same for that window (a relay whose link alone broke lost the others' messages too).
// Deliveries are deduplicated by message id, so a replay and a late publish never both arrive.
import type { Namespace } from "socket.io";
import { RedisAdapter, type RedisAdapterOptions } from "@socket.io/redis-adapter";
import type { Redis } from "ioredis";

/** Message ids this relay delivered to its sockets, kept for a while so a replay can skip them. */
export class DeliveredMessages {
  private readonly ids = new Set<number>();
  /** Ids in delivery order with their times; entries before `head` are forgotten already. */
  private readonly order: number[] = [];
  private readonly times: number[] = [];
  private head = 0;
  /** While a gap is open, nothing delivered since this time may be forgotten. */
  private keepSince: number | undefined;

  constructor(private readonly retainMs: number) {}

  /** Records a delivery; false when this id was already delivered (a duplicate to drop). */
  add(id: number, now = Date.now()): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    this.order.push(id);
    this.times.push(now);
    this.evict(now);
    return true;
  }

  has(id: number): boolean {
    return this.ids.has(id);
  }

  holdFrom(since: number | undefined): void {
    this.keepSince = since;
  }

  get size(): number {
    return this.ids.size;
  }

  // Called on every delivery: advancing a head index costs O(1); the arrays are compacted only
  // once most of them is forgotten (shifting them on each call would cost the whole window).
  private evict(now: number): void {
    const cutoff = Math.min(now - this.retainMs, this.keepSince ?? Infinity);
    while (this.head < this.order.length && this.times[this.head] < cutoff) this.ids.delete(this.order[this.head++]);
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.times.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** The id of a message:new packet, or undefined for any other packet. */
export function messageIdOf(packet: unknown): number | undefined {
  const data = (packet as { data?: unknown[] } | undefined)?.data;
  if (!Array.isArray(data) || data[0] !== "message:new") return undefined;
  const id = (data[1] as { id?: unknown } | undefined)?.id;
  return typeof id === "number" ? id : undefined;
}

type Parser = { encode(value: unknown): unknown; decode(msg: unknown): unknown };
interface AdapterWithInternals {
  onmessage(pattern: unknown, channel: unknown, msg: unknown): void;
  broadcast(packet: unknown, opts: unknown): void;
  parser: Parser;
}
const Base = RedisAdapter as unknown as new (nsp: Namespace, pub: Redis, sub: Redis, opts?: Partial<RedisAdapterOptions>) => AdapterWithInternals;

/**
 * The Redis adapter, with message:new packets from other relays recorded in `delivered` and dropped
 * when this relay already delivered that id (a replay came first).
 */
export function createDedupAdapter(pub: Redis, sub: Redis, opts: Partial<RedisAdapterOptions>, delivered: DeliveredMessages) {
  class DedupAdapter extends Base {
    /** The packet onmessage just decoded, so the adapter's own decode of it costs nothing. */
    private decoded: { msg: unknown; value: unknown } | undefined;

    constructor(nsp: Namespace) {
      super(nsp, pub, sub, opts);
      const inner = this.parser;
      this.parser = {
        encode: (value) => inner.encode(value),
        decode: (msg) => {
          const cached = this.decoded;
          return cached && cached.msg === msg ? cached.value : inner.decode(msg);
        },
      };
    }

    override onmessage(pattern: unknown, channel: unknown, msg: unknown): void {
      let id: number | undefined;
      try {
        const value = this.parser.decode(msg);
        this.decoded = { msg, value };
        id = Array.isArray(value) ? messageIdOf(value[1]) : undefined;
      } catch {
        id = undefined; // left to the adapter, which ignores what it cannot decode
      }
      try {
        if (id !== undefined && !delivered.add(id)) return;
        super.onmessage(pattern, channel, msg);
      } finally {
        this.decoded = undefined;
      }
    }

    // Messages this relay sends (and replays) are delivered here too.
    override broadcast(packet: unknown, opts: unknown): void {
      const id = messageIdOf(packet);
      if (id !== undefined) delivered.add(id);
      super.broadcast(packet, opts);
    }
  }
  // Socket.io calls the factory with `new`: a function, not an arrow.
  return function dedupAdapter(nsp: Namespace) {
    return new DedupAdapter(nsp) as unknown as RedisAdapter;
  };
}

/**
 * Without Redis: the in-memory adapter, recording the ids of the messages it delivers, so a replay
 * (after a database restart, or a dead relay) skips them too.
 */
export function trackLocalDeliveries(adapter: { broadcast(packet: unknown, opts: unknown): void }, delivered: DeliveredMessages): void {
  const broadcast = adapter.broadcast.bind(adapter);
  adapter.broadcast = (packet: unknown, opts: unknown) => {
    const id = messageIdOf(packet);
    if (id !== undefined) delivered.add(id);
    broadcast(packet, opts);
  };
}

/**
 * ioredis queues commands while disconnected and sends them on reconnect; for publishes that means
 * late deliveries the replay already made. Fail them at once instead (counted), and never let a
 * failed publish become an unhandled rejection.
 */
export function dropPublishesWhileDown(pub: Redis, onDropped: () => void): void {
  const publish = pub.publish.bind(pub) as (...args: unknown[]) => Promise<number>;
  (pub as unknown as { publish: (...args: unknown[]) => Promise<number> }).publish = (...args: unknown[]) => {
    if (pub.status !== "ready") {
      onDropped();
      return Promise.resolve(0);
    }
    return publish(...args).catch(() => {
      onDropped();
      return 0;
    });
  };
}
