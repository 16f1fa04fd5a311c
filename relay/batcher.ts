// Natural batching of database calls. An item goes out at once when its lane has no call in
// flight; items that arrive while one is in flight wait for it and then go together in the next
// call. An idle relay adds no latency; a busy one pays one round trip and one commit per batch
// instead of per item.
//
// Items are spread over lanes by a key (the room, the user), each lane with at most one call in
// flight: several calls run at once, so every PostgreSQL core works and a slow commit does not
// hold everything up, while items of one key stay in arrival order (message ids of a room
// increase in the order the relay received the sends). Lanes never share a key, so two calls in
// flight never touch the same room's rows.
import { RealtimeError, toRealtimeError } from "../protocol/index.js";
import type { ItemResult } from "../lib/sql/client.js";

/** Failures that say nothing about the items: the whole batch gets the same answer at once. */
const WHOLE_BATCH_FAILURES = new Set<string>(["UNAVAILABLE", "BUSY"]);

interface Pending<In, Out> {
  item: In;
  resolve: (value: Out) => void;
  reject: (err: RealtimeError) => void;
}

interface Lane<In, Out> {
  queue: Pending<In, Out>[];
  inFlight: boolean;
}

export interface BatcherOptions<In> {
  /** Most items per call. */
  maxBatch?: number;
  /** Calls in flight at once (each on its own lane); 1 keeps every item in arrival order. */
  lanes?: number;
  /** Items with the same key share a lane, so they are stored in arrival order. */
  key?: (item: In) => string;
}

/** A small, stable string hash (FNV-1a): the same key always picks the same lane. */
export function laneOf(key: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % lanes;
}

export class Batcher<In, Out> {
  private readonly lanes: Lane<In, Out>[];
  private readonly maxBatch: number;
  private readonly key: ((item: In) => string) | undefined;

  constructor(
    /** Calls the database for a batch; answers one result per item, in order. */
    private readonly call: (items: In[]) => Promise<ItemResult<Out>[]>,
    options: BatcherOptions<In> = {},
  ) {
    this.maxBatch = options.maxBatch ?? 100;
    const lanes = options.key ? Math.max(1, Math.floor(options.lanes ?? 1)) : 1;
    this.key = options.key;
    this.lanes = Array.from({ length: lanes }, () => ({ queue: [], inFlight: false }));
  }

  /** Items waiting or in flight, over every lane. */
  get pending(): number {
    let n = 0;
    for (const lane of this.lanes) n += lane.queue.length;
    return n;
  }

  submit(item: In): Promise<Out> {
    const lane = this.lanes.length === 1 || !this.key ? this.lanes[0]! : this.lanes[laneOf(this.key(item), this.lanes.length)]!;
    return new Promise((resolve, reject) => {
      lane.queue.push({ item, resolve, reject });
      if (!lane.inFlight) void this.drain(lane);
    });
  }

  private async drain(lane: Lane<In, Out>): Promise<void> {
    lane.inFlight = true;
    try {
      while (lane.queue.length > 0) await this.run(lane.queue.splice(0, this.maxBatch));
    } finally {
      lane.inFlight = false;
    }
  }

  private async run(batch: Pending<In, Out>[]): Promise<void> {
    let results: ItemResult<Out>[];
    try {
      results = await this.call(batch.map((p) => p.item));
    } catch (err) {
      const e = toRealtimeError(err);
      if (batch.length > 1 && !WHOLE_BATCH_FAILURES.has(e.code)) {
        // Whatever failed the whole call must not fail the other items: one at a time. Not when
        // the database is unreachable or busy (a held lock, a statement timeout, no free
        // connection): each item would wait and fail again, one after another.
        for (const p of batch) await this.run([p]);
        return;
      }
      for (const p of batch) p.reject(e);
      return;
    }
    batch.forEach((p, i) => {
      const r = results?.[i];
      if (r?.ok) p.resolve(r.value);
      else p.reject(toRealtimeError({ code: r?.error.code ?? "XX000", message: r?.error.message ?? "no result" }));
    });
  }
}
