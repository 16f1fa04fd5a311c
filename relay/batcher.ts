// Natural batching of database calls. An item goes out at once when no call is in flight; items
// that arrive while one is in flight wait for it and then go together in the next call. An idle
// relay adds no latency; a busy one pays one round trip and one commit per batch instead of per
// item. One call in flight at a time also keeps items in arrival order (message ids increase in
// the order the relay received the sends).
import { RealtimeError, toRealtimeError } from "../protocol/index.js";
import type { ItemResult } from "../lib/sql/client.js";

/** Failures that say nothing about the items: the whole batch gets the same answer at once. */
const WHOLE_BATCH_FAILURES = new Set<string>(["UNAVAILABLE", "BUSY"]);


interface Pending<In, Out> {
  item: In;
  resolve: (value: Out) => void;
  reject: (err: RealtimeError) => void;
}

export class Batcher<In, Out> {
  private queue: Pending<In, Out>[] = [];
  private inFlight = false;

  constructor(
    /** Calls the database for a batch; answers one result per item, in order. */
    private readonly call: (items: In[]) => Promise<ItemResult<Out>[]>,
    private readonly maxBatch = 100,
  ) {}

  submit(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.inFlight) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.inFlight = true;
    try {
      while (this.queue.length > 0) await this.run(this.queue.splice(0, this.maxBatch));
    } finally {
      this.inFlight = false;
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
