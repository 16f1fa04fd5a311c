// Natural batching of message:send. A send goes to the database at once when no call is in flight;
// sends that arrive while one is in flight wait for it and then go together in one call of
// realtime_send_messages. An idle relay adds no latency; a busy one commits many messages per
// transaction and per round trip.
import type { Db } from "./db.js";
import { RealtimeError, toRealtimeError } from "./protocol.js";

export interface OutgoingMessage {
  roomName: string;
  userId: string;
  content: string;
  threadId: string | null;
  metadata: Record<string, unknown> | null;
  roles: string[];
}

export type StoredMessage = Record<string, unknown> & { id: number; roomName: string };

interface Pending {
  message: OutgoingMessage;
  resolve: (stored: StoredMessage) => void;
  reject: (err: RealtimeError) => void;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Strings as PostgreSQL can store them: a lone UTF-16 surrogate becomes U+FFFD (as the driver does
 * for a text parameter), because jsonb refuses it and it would fail the whole batch.
 */
function wellFormed(value: unknown): unknown {
  if (typeof value === "string") return value.replace(LONE_SURROGATE, "\uFFFD");
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [wellFormed(k) as string, wellFormed(v)]));
  }
  return value;
}

type Result = { ok: true; message: StoredMessage } | { ok: false; error: { code: string; message: string } };

export class MessageBatcher {
  private queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly db: Db,
    private readonly maxBatch = 100,
    /**
     * Calls in flight at once. One keeps this relay's messages in the order they arrived: ids
     * increase in send order and message:new goes out in that order.
     */
    private readonly maxInFlight = 1,
  ) {}

  send(message: OutgoingMessage): Promise<StoredMessage> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    let results: Result[];
    try {
      results = await this.db.value<Result[]>("send_messages", "select realtime_send_messages($1::jsonb) as v", [
        JSON.stringify(batch.map((p) => wellFormed(p.message))),
      ]);
    } catch (err) {
      const e = toRealtimeError(err);
      if (batch.length > 1 && e.code !== "UNAVAILABLE") {
        // Whatever failed the whole call, it must not fail the other senders: one at a time.
        for (const p of batch) await this.flush([p]);
        return;
      }
      for (const p of batch) p.reject(e);
      return;
    }
    batch.forEach((p, i) => {
      const r = results[i];
      if (r?.ok) p.resolve(r.message);
      else p.reject(toRealtimeError({ code: r?.error.code ?? "XX000", message: r?.error.message ?? "message not stored" }));
    });
  }
}
