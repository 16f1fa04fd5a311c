// What the SQL functions announce on the NOTIFY channel (realtime_notify(kind, body) sends
// {"v":1,"kind":kind,...body}). Every relay receives every notification and delivers it to its own sockets.

/** The one NOTIFY channel. */
export const NOTIFY_CHANNEL = "realtime";

/** The set of typers of a room (or a thread of it) changed: realtime_notify_typing. */
export interface TypingNotification {
  v: 1;
  kind: "typing";
  room: string;
  threadId: string | null;
  users: string[];
  /** Only the first users fit in a notification. */
  truncated?: boolean;
}

/** A user's visible presence changed: realtime_notify_presence. */
export interface PresenceNotification {
  v: 1;
  kind: "presence";
  userId: string;
  status: string;
  customStatus: unknown;
  lastSeen: string | null;
  /** The user's rooms; null when more than 100 or too large to fit (the relay looks them up). */
  rooms: string[] | null;
  /** An automatic away (idle): the user's next event ends it. */
  idle?: true;
}

/** A membership began or ended: realtime_add_member, realtime_remove_member, realtime_delete_room. */
export interface MemberNotification {
  v: 1;
  kind: "member";
  op: "joined" | "left";
  room: string;
  userId: string;
}

/**
 * realtime_broadcast / realtime_broadcast_user: an event of any name to a room's or a user's
 * sockets. A payload too large for a notification is stored in realtime_events, and `ref` is its seq.
 */
export type BroadcastNotification = {
  v: 1;
  kind: "broadcast";
  target: "room" | "user";
  name: string;
  event: string;
} & ({ payload: unknown; ref?: undefined } | { ref: number; payload?: undefined });

export type Notification = TypingNotification | PresenceNotification | MemberNotification | BroadcastNotification;
export type NotificationKind = Notification["kind"];
