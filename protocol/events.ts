// The Socket.io events of the protocol, client to server and server to client, with their
// payloads and acknowledgements. Types only: the relay, the SDK (browsers too) and tests share them.
import type { ErrorCode } from "./errors.js";

/** The error part of a refused acknowledgement, and the payload of the `error` event. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** What every client event's acknowledgement answers. */
export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorPayload };
export type AckCallback<T> = (answer: Ack<T>) => void;

export type PresenceStatus = "online" | "away" | "busy" | "offline";
export const PRESENCE_STATUSES: readonly PresenceStatus[] = ["online", "away", "busy", "offline"];

export interface CustomStatus {
  text?: string;
  emoji?: string;
  /** ISO 8601; the status is hidden once it has passed. */
  expiresAt?: string;
}

// ---- payloads of client events -----------------------------------------------------------------

export interface RoomJoinPayload {
  roomName: string;
  /** The id up to which the client has every message of the room: the answer carries the rest. */
  since?: number;
}
export interface RoomLeavePayload {
  roomName: string;
}
export interface RoomHistoryPayload {
  roomName: string;
  /** Messages with an id below this (absent: the newest). */
  before?: number;
  /** At most this many, 1 to 1000 (default 50). */
  limit?: number;
}
export interface MessageSendPayload {
  roomName: string;
  content: string;
  threadId?: string;
  metadata?: Record<string, unknown>;
  /** The sender's own id of the message: a retry with the same id is answered with the stored message. */
  clientMessageId?: string;
}
export interface TypingPayload {
  roomName: string;
  threadId?: string;
}
export interface PresenceUpdatePayload {
  status: PresenceStatus;
  /** Absent: keep; null: clear; object: set. */
  customStatus?: CustomStatus | null;
}
export interface PresenceGetPayload {
  /** At most 100. */
  userIds: string[];
}
export interface AuthRefreshPayload {
  token: string;
}

// ---- what the server sends and answers ---------------------------------------------------------

export interface Room {
  id: string;
  name: string;
  type: "channel" | "group" | "dm" | "broadcast";
  visibility: "public" | "private";
  metadata: Record<string, unknown>;
  createdAt: string;
}
export interface RoomMember {
  userId: string;
  role: string;
  joinedAt: string;
  status: PresenceStatus;
  customStatus: CustomStatus | null;
  lastSeen: string | null;
}
export interface Message {
  /** Increasing: the replay offset. */
  id: number;
  eventId: string;
  roomName: string;
  userId: string;
  content: string;
  threadId: string | null;
  metadata: Record<string, unknown> | null;
  timestamp: string;
  clientMessageId?: string;
}
export interface Replay {
  events: Message[];
  /** The server cannot fill the whole gap: refetch the history. */
  gap: boolean;
  latestId: number | null;
}
export interface RoomJoinResult {
  room: Room;
  joined: boolean;
  members: RoomMember[];
  memberCount: number;
  typing: { userId: string; threadId: string | null }[];
  replay?: Replay;
}
export interface RoomHistoryResult {
  /** Oldest first. */
  messages: Message[];
  /** Older messages remain: page on with `before` = the first message's id. */
  hasMore: boolean;
}
export interface RoomLeaveResult {
  roomName: string;
  left: boolean;
}
export interface TypingResult {
  changed: boolean;
  users?: string[];
  /** false when this server has typing indicators switched off. */
  enabled?: boolean;
}
/** Presence changes of members of one room, oldest first; a user may appear more than once. */
export interface PresenceDiffEvent {
  roomName: string;
  changes: Presence[];
}

export interface Presence {
  userId: string;
  status: PresenceStatus;
  customStatus: CustomStatus | null;
  lastSeen: string | null;
}
export interface AuthRefreshResult {
  userId: string;
  exp: number | null;
}
export interface Pong {
  timestamp: number;
}

export interface ConnectedEvent {
  socketId: string;
  serverTime: string;
  protocolVersion: number;
}
export interface AuthenticatedEvent {
  userId: string;
  sessionId: string;
  /** The socket is already back in every one of these rooms. */
  rooms: string[];
  anonymous: boolean;
}
export interface MembershipEvent {
  roomName: string;
  userId: string;
}
export interface TypingEvent {
  roomName: string;
  threadId: string | null;
  users: string[];
}

/** Client to server: each event takes its payload and an optional acknowledgement. */
export interface ClientToServerEvents {
  "room:join": (payload: RoomJoinPayload, ack?: AckCallback<RoomJoinResult>) => void;
  "room:leave": (payload: RoomLeavePayload, ack?: AckCallback<RoomLeaveResult>) => void;
  "room:history": (payload: RoomHistoryPayload, ack?: AckCallback<RoomHistoryResult>) => void;
  "message:send": (payload: MessageSendPayload, ack?: AckCallback<Message>) => void;
  "typing:start": (payload: TypingPayload, ack?: AckCallback<TypingResult>) => void;
  "typing:stop": (payload: TypingPayload, ack?: AckCallback<TypingResult>) => void;
  "presence:update": (payload: PresenceUpdatePayload, ack?: AckCallback<Presence>) => void;
  "presence:get": (payload: PresenceGetPayload, ack?: AckCallback<Presence[]>) => void;
  "auth:refresh": (payload: AuthRefreshPayload, ack?: AckCallback<AuthRefreshResult>) => void;
  ping: (payload?: unknown, ack?: AckCallback<Pong>) => void;
}

/** Server to client. A realtime_broadcast() from SQL may also emit an event of any other name. */
export interface ServerToClientEvents {
  connected: (payload: ConnectedEvent) => void;
  authenticated: (payload: AuthenticatedEvent) => void;
  "user:joined": (payload: MembershipEvent) => void;
  "user:left": (payload: MembershipEvent) => void;
  "message:new": (payload: Message) => void;
  "typing:event": (payload: TypingEvent) => void;
  "presence:changed": (payload: Presence) => void;
  /** Several presence changes of a room's members within one tick, in order: one frame for the room. */
  "presence:diff": (payload: PresenceDiffEvent) => void;
  pong: (payload: Pong) => void;
  error: (payload: ErrorPayload) => void;
}

export type ClientEventName = keyof ClientToServerEvents;
export type ServerEventName = keyof ServerToClientEvents;
/** The payload a client event carries. */
export type ClientPayload<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0];
/** The `data` of a client event's successful acknowledgement. */
export type ClientAckData<E extends ClientEventName> =
  NonNullable<Parameters<ClientToServerEvents[E]>[1]> extends AckCallback<infer T> ? T : never;
