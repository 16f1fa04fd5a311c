// Presence changes go out once per tick, not one event per change: in a connect or restart storm
// a room of 100 whose members come online one after another would send each member ~100 frames.
// Each tick, a room with several changes gets one `presence:diff` frame with them in order (encoded
// once for the room); a change that is alone in its rooms goes out as `presence:changed` to those
// rooms and the user's own sockets in one emit. A socket gets each change once: sockets in a room
// that gets a diff are left out of the single `presence:changed` of a change the diff carries.
import type { Presence } from "../protocol/index.js";
import { holdForJoining, roomKey, userKey, type RelayServer } from "./sockets.js";

interface PendingChange {
  presence: Presence;
  rooms: string[];
}

export class PresenceTicks {
  private pending: PendingChange[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly io: RelayServer,
    /** How long changes wait to go out together, ms; 0: the next turn of the event loop. */
    private readonly tickMs: number,
    /** Counted per frame written to a room or a user's sockets. */
    private readonly onFrames: (kind: "changed" | "diff", n: number) => void = () => {},
  ) {}

  /** Queues a change of a user for the sockets of the user and of the user's rooms. */
  add(presence: Presence, rooms: string[]): void {
    this.pending.push({ presence, rooms });
    if (this.timer || this.immediate) return;
    if (this.tickMs === 0) this.immediate = setImmediate(() => this.flush());
    else this.timer = setTimeout(() => this.flush(), this.tickMs).unref();
  }

  /** Sends what is queued now (also on shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const changes = this.pending;
    this.pending = [];
    if (changes.length === 0) return;

    const byRoom = new Map<string, Presence[]>();
    for (const c of changes) {
      for (const room of c.rooms) {
        const list = byRoom.get(room);
        if (list) list.push(c.presence);
        else byRoom.set(room, [c.presence]);
      }
    }
    for (const [room, list] of byRoom) {
      if (list.length < 2) continue;
      this.io.local.to(roomKey(room)).emit("presence:diff", { roomName: room, changes: list });
      this.onFrames("diff", 1);
    }
    for (const c of changes) {
      const single: string[] = [userKey(c.presence.userId)];
      const inDiff: string[] = [];
      for (const room of c.rooms) {
        if (byRoom.get(room)!.length < 2) single.push(roomKey(room));
        else inDiff.push(roomKey(room));
      }
      const target = this.io.local.to(single);
      (inDiff.length > 0 ? target.except(inDiff) : target).emit("presence:changed", c.presence);
      this.onFrames("changed", 1);
      // Sockets whose join of one of these rooms is in flight get it once they are in.
      holdForJoining(this.io, c.rooms, "presence:changed", c.presence);
    }
  }

  stop(): void {
    this.flush();
  }
}
