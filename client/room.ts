// A joined room: members with presence, messages exactly once in id order across reconnects,
// typing, sends and history.
import { Emitter } from "./emitter.js";
import { RealtimeError, isTransient } from "./errors.js";
import { newClientMessageId } from "./ids.js";
import type { RequestOptions } from "./outbox.js";
import { MessageSequencer } from "./resume.js";
import { TypingThrottle, type TypingTimings } from "./typing.js";
import type { CustomStatus, HistoryResult, Message, Presence, PresenceStatus, RoomInfo, RoomJoinResult, RoomMember, TypingEvent } from "./wire.js";

export interface MemberState {
  status: PresenceStatus;
  customStatus: CustomStatus | null;
  lastSeen: string | null;
}

export type RoomEvents = {
  /** Membership or presence changed; the map is `room.members`. */
  members: (members: Map<string, MemberState>) => void;
  /** A message, each once, in id order (replayed ones after a reconnect included). */
  message: (message: Message) => void;
  /** The server could not replay everything missed: refetch the history. */
  gap: () => void;
  /** Who is typing now in the room (threadId null) or a thread, without this user. */
  typing: (userIds: string[], threadId: string | null) => void;
  /** The room was left: by room.leave(), on another tab of this user, or the membership was removed. */
  left: (reason: "leave" | "removed" | RealtimeError) => void;
  /** A re-join after a reconnect was refused (the room was deleted, the membership removed). */
  error: (err: RealtimeError) => void;
};

export interface SendOptions {
  threadId?: string;
  metadata?: Record<string, unknown>;
  /** Your own id of the message (default: a random UUID); a retry with the same id is stored once. */
  clientMessageId?: string;
}

export interface HistoryOptions {
  /** Messages with an id below this (default: the newest). */
  before?: number;
  /** At most this many (the server caps it). */
  limit?: number;
}

/** What a room needs from its client (internal). */
export interface RoomHost {
  readonly userId: string | undefined;
  readonly anonymous: boolean;
  readonly typingTimings: TypingTimings;
  /** ms live messages wait so that ones arriving out of id order (several relays) are given in order. */
  readonly reorderWindowMs: number;
  request<T>(event: string, payload: unknown, options?: RequestOptions): Promise<T>;
  /** Emits without acknowledgement when connected; dropped otherwise (typing is ephemeral). */
  signal(event: string, payload: unknown): void;
  /** Latest presence seen for a user, and a counter that moves with each presence:changed. */
  presenceOf(userId: string): { presence: MemberState | undefined; version: number };
  forget(room: Room): void;
}

type JoinState = "joining" | "joined" | "left";

const threadKey = (threadId: string | null | undefined) => threadId ?? "";

export class Room extends Emitter<RoomEvents> {
  readonly name: string;
  /** Members and their presence, kept current. */
  readonly members = new Map<string, MemberState>();
  /** The room as the server describes it (after the first join). */
  info: RoomInfo | undefined;
  private state: JoinState = "joining";
  private readonly messages: MessageSequencer;
  private readonly typers = new Map<string, { threadId: string | null; users: string[] }>();
  private readonly throttles = new Map<string, TypingThrottle>();
  private joinGeneration = 0;
  private firstJoin: { resolve: (room: Room) => void; reject: (err: RealtimeError) => void } | undefined;
  /** Messages of the first join, given once the join() promise's caller could subscribe. */
  private deferred: Message[] | null = null;
  /**
   * Membership, presence and typing events that arrived while a join was pending. The socket is in
   * the room before the join's answer, so they may be newer than the answer's snapshot: they are
   * applied again over it.
   */
  private duringJoin: (() => void)[] = [];
  private recordDuringJoin(apply: () => void): void {
    // Bounded: past this, the snapshot alone is close enough.
    if (this.duringJoin.length < 10_000) this.duringJoin.push(apply);
  }
  /** While replaying those: no events (one `members` and `typing` follow). */
  private quiet = false;
  /** Live messages waiting out the reorder window, with the time each may go. */
  private reorder: { message: Message; due: number }[] = [];
  private reorderTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal */
  constructor(
    private readonly host: RoomHost,
    name: string,
    since: number | undefined,
  ) {
    super();
    this.name = name;
    this.messages = new MessageSequencer(since);
  }

  /** The id up to which this client has every message of the room (the next re-join's `since`). */
  get offset(): number | undefined {
    return this.messages.offset;
  }

  get joined(): boolean {
    return this.state === "joined";
  }

  /** Who is typing in the room itself (threadId null), without this user. */
  get typingUsers(): string[] {
    return this.typers.get(threadKey(null))?.users ?? [];
  }

  /** Who is typing in a thread, without this user. */
  typingIn(threadId: string | null): string[] {
    return this.typers.get(threadKey(threadId))?.users ?? [];
  }

  /**
   * Sends a message. It waits through reconnects and is retried with the same clientMessageId, so
   * it is stored once; resolves with the stored message, rejects with the server's refusal.
   */
  send(content: string, options: SendOptions = {}): Promise<Message> {
    if (this.state === "left") return Promise.reject(new RealtimeError("NOT_FOUND", `room ${this.name} was left`));
    this.throttles.get(threadKey(options.threadId))?.reset();
    const payload: Record<string, unknown> = { roomName: this.name, content, clientMessageId: options.clientMessageId ?? newClientMessageId() };
    if (options.threadId !== undefined) payload.threadId = options.threadId;
    if (options.metadata !== undefined) payload.metadata = options.metadata;
    return this.host.request<Message>("message:send", payload, { send: true });
  }

  /** Call on every keystroke: a throttled typing:start, and typing:stop after a pause. */
  typing(options: { threadId?: string } = {}): void {
    if (this.state === "left" || this.host.anonymous) return;
    const key = threadKey(options.threadId);
    let throttle = this.throttles.get(key);
    if (!throttle) {
      const payload = options.threadId === undefined ? { roomName: this.name } : { roomName: this.name, threadId: options.threadId };
      throttle = new TypingThrottle((op) => this.host.signal(`typing:${op}`, payload), this.host.typingTimings);
      this.throttles.set(key, throttle);
    }
    throttle.keystroke();
  }

  /** Ends this user's typing indicator now (e.g. the input was cleared). */
  stopTyping(options: { threadId?: string } = {}): void {
    this.throttles.get(threadKey(options.threadId))?.stop();
  }

  /** Older messages from the event log, oldest first. */
  async history(options: HistoryOptions = {}): Promise<HistoryResult> {
    const payload: Record<string, unknown> = { roomName: this.name };
    if (options.before !== undefined) payload.before = options.before;
    if (options.limit !== undefined) payload.limit = options.limit;
    try {
      return await this.host.request<HistoryResult>("room:history", payload);
    } catch (err) {
      const e = err as RealtimeError;
      if (e.code === "BAD_REQUEST" && /unknown event/.test(e.message)) {
        throw new RealtimeError("NOT_SUPPORTED", "this server cannot page history (room:history is unknown to it)");
      }
      throw e;
    }
  }

  /** Leaves the room (ends the membership). */
  async leave(): Promise<void> {
    if (this.state === "left") return;
    this.end("leave");
    await this.host.request("room:leave", { roomName: this.name });
  }

  // ---- driven by the client ---------------------------------------------------------------

  /** @internal The first join: resolves with the room once the server said yes. */
  whenJoined(): Promise<Room> {
    return new Promise((resolve, reject) => (this.firstJoin = { resolve, reject }));
  }

  /** @internal Sends room:join, with `since` when this client has an offset; on every (re)connect. */
  join(): void {
    if (this.state === "left") return;
    const generation = ++this.joinGeneration;
    // Before the first answer there is no offset: ask for nothing missed, only the latest id.
    const since = this.messages.offset ?? Number.MAX_SAFE_INTEGER;
    const resume = this.messages.offset !== undefined;
    this.host.request<RoomJoinResult>("room:join", { roomName: this.name, since }, { retryOnReconnect: false }).then(
      (answer) => {
        if (generation === this.joinGeneration && this.state !== "left") this.applyJoin(answer, resume);
      },
      (err: RealtimeError) => {
        if (generation !== this.joinGeneration || this.state === "left") return;
        // Lost with the connection: the next authenticated joins again.
        if (err.code === "UNAVAILABLE" && /connection was lost/.test(err.message)) return;
        if (err.code === "CLOSED") return;
        // No answer, or the server was busy past the retries: try again while connected; a re-join is
        // never given up for a passing reason.
        if (err.code === "TIMEOUT" || (isTransient(err.code) && !this.firstJoin)) {
          setTimeout(() => {
            if (generation === this.joinGeneration) this.join();
          }, 1000);
          return;
        }
        if (this.firstJoin) {
          const first = this.firstJoin;
          this.firstJoin = undefined;
          this.state = "left";
          this.host.forget(this);
          first.reject(err);
          return;
        }
        this.emit("error", err);
        this.end(err);
      },
    );
  }

  /** @internal The connection dropped: hold live messages until the re-join's answer. */
  disconnected(): void {
    this.flushReorder();
    this.duringJoin = [];
    if (this.state === "joined") this.state = "joining";
    this.messages.beginResync();
    for (const t of this.throttles.values()) t.reset();
  }

  /** @internal */
  closed(err: RealtimeError): void {
    if (this.firstJoin) {
      this.firstJoin.reject(err);
      this.firstJoin = undefined;
    }
    this.state = "left";
    for (const t of this.throttles.values()) t.reset();
  }

  /** @internal */
  onMessage(message: Message): void {
    if (this.state === "left") return;
    const accepted = this.messages.live(message);
    if (accepted.length === 0) return;
    if (this.host.reorderWindowMs <= 0) return this.deliver(accepted);
    const due = Date.now() + this.host.reorderWindowMs;
    for (const m of accepted) this.reorder.push({ message: m, due });
    this.reorder.sort((a, b) => a.message.id - b.message.id);
    this.scheduleReorder();
  }

  /**
   * Each held message waits the window from its arrival; when one is due, it goes with every held
   * message of a lower id (those arrived later, out of order), all in id order.
   */
  private releaseDue(): void {
    this.reorderTimer = undefined;
    const now = Date.now();
    let upTo = -1;
    this.reorder.forEach((h, i) => {
      if (h.due <= now) upTo = i;
    });
    if (upTo >= 0) this.deliver(this.reorder.splice(0, upTo + 1).map((h) => h.message));
    this.scheduleReorder();
  }

  private scheduleReorder(): void {
    if (this.reorderTimer !== undefined || this.reorder.length === 0) return;
    const next = Math.min(...this.reorder.map((h) => h.due));
    this.reorderTimer = setTimeout(() => this.releaseDue(), Math.max(0, next - Date.now()));
  }

  /** Gives every held message now (a reconnect, a leave). */
  private flushReorder(): void {
    if (this.reorderTimer !== undefined) clearTimeout(this.reorderTimer);
    this.reorderTimer = undefined;
    const held = this.reorder.map((h) => h.message);
    this.reorder = [];
    this.deliver(held);
  }

  /** @internal */
  onUserJoined(userId: string): void {
    if (this.state === "joining") return this.recordDuringJoin(() => this.onUserJoined(userId));
    if (this.state === "left" || this.members.has(userId)) return;
    const known = this.host.presenceOf(userId);
    this.members.set(userId, known.presence ?? { status: "offline", customStatus: null, lastSeen: null });
    this.membersChanged();
    if (known.presence) return;
    // Presence of a user this client has not heard of yet: ask, unless a presence:changed overtakes the answer.
    this.host.request<Presence[]>("presence:get", { userIds: [userId] }).then(
      (list) => {
        const p = list.find((x) => x.userId === userId);
        if (!p || !this.members.has(userId) || this.host.presenceOf(userId).version !== known.version) return;
        this.members.set(userId, { status: p.status, customStatus: p.customStatus ?? null, lastSeen: p.lastSeen ?? null });
        this.membersChanged();
      },
      () => {},
    );
  }

  /** @internal */
  onUserLeft(userId: string): void {
    if (this.state === "left") return;
    if (this.state === "joining") {
      // This user's own leave before a pending join is overtaken by that join (it makes the membership again).
      if (userId !== this.host.userId) this.recordDuringJoin(() => this.onUserLeft(userId));
      return;
    }
    if (userId === this.host.userId) {
      // This user's membership ended (another tab left, or it was removed): the server took this socket out too.
      this.end("removed");
      return;
    }
    if (this.members.delete(userId)) this.membersChanged();
  }

  /** @internal */
  onPresence(p: Presence): void {
    if (this.state === "joining") return this.recordDuringJoin(() => this.onPresence(p));
    if (this.state === "left" || !this.members.has(p.userId)) return;
    this.members.set(p.userId, { status: p.status, customStatus: p.customStatus ?? null, lastSeen: p.lastSeen ?? null });
    this.membersChanged();
  }

  private membersChanged(): void {
    if (!this.quiet) this.emit("members", this.members);
  }

  /** @internal */
  onTyping(e: TypingEvent): void {
    if (this.state === "joining") return this.recordDuringJoin(() => this.onTyping(e));
    if (this.state === "left") return;
    const users = (e.users ?? []).filter((u) => u !== this.host.userId);
    const key = threadKey(e.threadId);
    const before = this.typers.get(key)?.users ?? [];
    if (users.length === 0) this.typers.delete(key);
    else this.typers.set(key, { threadId: e.threadId ?? null, users });
    if (!this.quiet && !sameList(before, users)) this.emit("typing", users, e.threadId ?? null);
  }

  // ---- internals --------------------------------------------------------------------------

  private applyJoin(answer: RoomJoinResult, resume: boolean): void {
    this.info = answer.room;
    this.state = "joined";
    this.members.clear();
    for (const m of answer.members ?? []) this.members.set(m.userId, memberState(m));
    // Typing is state: the answer carries it fresh.
    const previous = new Map(this.typers);
    this.typers.clear();
    for (const t of answer.typing ?? []) {
      if (t.userId === this.host.userId) continue;
      const key = threadKey(t.threadId);
      const entry = this.typers.get(key) ?? { threadId: t.threadId ?? null, users: [] };
      entry.users.push(t.userId);
      this.typers.set(key, entry);
    }
    // Then what changed while the join was pending, in arrival order.
    const pending = this.duringJoin;
    this.duringJoin = [];
    this.quiet = true;
    try {
      for (const apply of pending) apply();
    } finally {
      this.quiet = false;
    }
    const gap = resume && answer.replay?.gap === true;
    this.flushReorder();
    const messages = this.messages.joined(answer.replay);

    if (this.firstJoin) {
      const first = this.firstJoin;
      this.firstJoin = undefined;
      // The caller subscribes after `await client.join()`: give it what arrived meanwhile right after.
      this.deferred = messages;
      first.resolve(this);
      setTimeout(() => {
        const held = this.deferred ?? [];
        this.deferred = null;
        if (gap) this.emit("gap");
        for (const m of held) this.emit("message", m);
      }, 0);
      return;
    }
    this.emit("members", this.members);
    for (const [key, { threadId, users }] of this.typers) {
      if (!sameList(previous.get(key)?.users ?? [], users)) this.emit("typing", users, threadId);
    }
    for (const [key, { threadId }] of previous) if (!this.typers.has(key)) this.emit("typing", [], threadId);
    if (gap) this.emit("gap");
    this.deliver(messages);
  }

  private deliver(messages: Message[]): void {
    if (messages.length === 0) return;
    if (this.deferred) {
      this.deferred.push(...messages);
      return;
    }
    for (const m of messages) this.emit("message", m);
  }

  private end(reason: "leave" | "removed" | RealtimeError): void {
    this.flushReorder();
    this.state = "left";
    if (this.firstJoin) {
      // Left before the first join was answered: the join() promise settles too.
      this.firstJoin.reject(reason instanceof RealtimeError ? reason : new RealtimeError("CLOSED", `room ${this.name} was left before the join was answered`));
      this.firstJoin = undefined;
    }
    for (const t of this.throttles.values()) {
      if (reason === "leave") t.stop();
      else t.reset();
    }
    this.host.forget(this);
    this.emit("left", reason);
  }
}

function memberState(m: RoomMember): MemberState {
  return { status: m.status, customStatus: m.customStatus ?? null, lastSeen: m.lastSeen ?? null };
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
