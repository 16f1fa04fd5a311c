// Per room: which messages the application has been given, and the replay offset.
//
// `offset` is the id up to which the client has every message of the room, the `since` of the next
// re-join. While a (re-)join is pending, live messages are held back and do not move the offset: the
// server puts a reconnected socket back in its rooms before the client re-joins, so a live message
// can arrive before the replay that fills the gap. When the join's answer comes, the replay and the
// held messages are merged by id, the ones already given are dropped, and the offset moves past all.
import type { Message, Replay } from "./wire.js";

/** How many recent ids are remembered for dropping duplicates; older ids count as seen. */
const SEEN_LIMIT = 5000;

export class MessageSequencer {
  /** The id up to which the client has every message; undefined before the first join answer. */
  offset: number | undefined;
  private syncing = true;
  private held: Message[] = [];
  private seen = new Set<number>();
  private seenOrder: number[] = [];
  /** Ids at or below this were forgotten from `seen` and count as seen. */
  private floor = -1;

  constructor(offset?: number) {
    this.offset = offset;
  }

  /** True while a join is pending (live messages are held). */
  get resyncing(): boolean {
    return this.syncing;
  }

  /** A reconnect began: hold live messages until the re-join's answer. */
  beginResync(): void {
    this.syncing = true;
    this.held = [];
  }

  /** A live message:new; returns the messages to give the application now (none or this one). */
  live(message: Message): Message[] {
    if (!isMessage(message)) return [];
    if (this.syncing) {
      this.held.push(message);
      return [];
    }
    if (this.hasSeen(message.id)) return [];
    this.markSeen(message.id);
    this.advance(message.id);
    return [message];
  }

  /**
   * The join's answer: its replay (absent when nothing was asked) and the room's latest id. Returns
   * the messages to give the application, in id order, each once.
   */
  joined(replay: Replay | undefined): Message[] {
    const candidates = [...(replay?.events ?? []), ...this.held].filter(isMessage).sort((a, b) => a.id - b.id);
    const out: Message[] = [];
    for (const m of candidates) {
      if (this.hasSeen(m.id)) continue;
      this.markSeen(m.id);
      out.push(m);
    }
    this.held = [];
    this.syncing = false;
    if (replay?.latestId != null) this.advance(replay.latestId);
    for (const m of out) this.advance(m.id);
    if (this.offset === undefined) this.offset = 0;
    return out;
  }

  private advance(id: number): void {
    if (this.offset === undefined || id > this.offset) this.offset = id;
  }

  hasSeen(id: number): boolean {
    return id <= this.floor || this.seen.has(id);
  }

  private markSeen(id: number): void {
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > SEEN_LIMIT) {
      // Forget the oldest half; the floor keeps them seen.
      this.seenOrder.sort((a, b) => a - b);
      const drop = this.seenOrder.splice(0, SEEN_LIMIT / 2);
      for (const old of drop) this.seen.delete(old);
      this.floor = Math.max(this.floor, drop[drop.length - 1]);
    }
  }
}

function isMessage(m: unknown): m is Message {
  return typeof m === "object" && m !== null && Number.isSafeInteger((m as Message).id);
}
