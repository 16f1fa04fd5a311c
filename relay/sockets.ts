// The typed Socket.io server and socket of the relay, what each socket carries, and the names of
// the Socket.io rooms it uses.
import type { Server, Socket } from "socket.io";
import type { ClientToServerEvents, ServerToClientEvents } from "../protocol/index.js";
import type { Identity } from "./auth.js";
import type { SocketLimits } from "./limits.js";

/** Between relays (through the adapter): a relay back from a Redis gap asks the others to replay it. */
export interface InterServerEvents {
  "realtime:replay": (sinceMs: number) => void;
}

export interface SocketData {
  identity: Identity;
  connectionId: string;
  rooms: string[];
  expiryTimer?: NodeJS.Timeout;
  limits: SocketLimits;
  /** What the socket was registered with, to register it again in place when its row is lost. */
  device: unknown;
  /** Sent an event since the last heartbeat (idle-to-away). */
  active?: boolean;
  /** room:join calls in flight: they count toward the room cap, so concurrent joins cannot overshoot it. */
  joining?: number;
  /**
   * Room events (membership, presence, typing) announced while a room:join of this socket was in
   * flight, by room: delivered once the join succeeds (the socket was not in the room yet and would
   * miss them), dropped if it is refused.
   */
  heldForJoin?: Map<string, Array<[event: string, payload: unknown]>>;
}

export type RelayServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type RelaySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Socket.io room names: one per chat room, one per user (all of the user's sockets). */
export const roomKey = (name: string) => `room:${name}`;
export const userKey = (userId: string) => `user:${userId}`;
/** Sockets whose room:join of the room is in flight (they are not in roomKey yet). */
export const joiningKey = (name: string) => `joining:${name}`;

/**
 * Holds a room event for the sockets whose join of one of these rooms is in flight. Not for those
 * already in the room: the join's own membership notification can arrive before its answer and put
 * the socket in the room, and from then on it gets the room's events live.
 */
export function holdForJoining(io: RelayServer, rooms: string[], event: string, payload: unknown): void {
  const nsp = io.of("/");
  for (const room of rooms) {
    const ids = nsp.adapter.rooms.get(joiningKey(room));
    if (!ids) continue;
    const inRoom = nsp.adapter.rooms.get(roomKey(room));
    for (const id of ids) {
      if (inRoom?.has(id)) continue;
      nsp.sockets.get(id)?.data.heldForJoin?.get(room)?.push([event, payload]);
    }
  }
}

/** Chat rooms with a socket on this relay. */
export function localRoomNames(io: RelayServer): string[] {
  return [...io.of("/").adapter.rooms.keys()].filter((r) => r.startsWith("room:")).map((r) => r.slice(5));
}

/** Users with a socket on this relay (anonymous sockets left out). */
export function localUserIds(io: RelayServer): string[] {
  const users = new Set<string>();
  for (const socket of io.of("/").sockets.values()) {
    const id = socket.data.identity;
    if (id && !id.anonymous) users.add(id.userId);
  }
  return [...users];
}

/** Emits an event whose name is not in the protocol (a realtime_broadcast() from SQL). */
export function emitAnyEvent(target: { emit(...args: never[]): unknown }, event: string, payload: unknown): void {
  (target as unknown as { emit(event: string, payload: unknown): unknown }).emit(event, payload);
}
