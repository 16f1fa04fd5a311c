// The protocol's payloads as the SDK uses them (types only: nothing here reaches the bundle).
import type { ErrorCode } from "../protocol/index.js";

export type { ErrorCode };

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorPayload };

export type PresenceStatus = "online" | "away" | "busy" | "offline";

export interface CustomStatus {
  text?: string;
  emoji?: string;
  /** ISO 8601; the server hides the status once it has passed. */
  expiresAt?: string;
}

export interface Message {
  /** Increasing: the replay offset. */
  id: number;
  /** Absent on messages that came from a replay or history of an older server. */
  eventId?: string;
  roomName: string;
  userId: string;
  content: string;
  threadId: string | null;
  metadata: Record<string, unknown> | null;
  timestamp: string;
  clientMessageId?: string;
}

export interface RoomInfo {
  id: string;
  name: string;
  type: "channel" | "group" | "dm" | "broadcast";
  visibility: "public" | "private";
  metadata: Record<string, unknown>;
  createdAt: string;
}

export interface RoomMember {
  userId: string;
  role?: string;
  joinedAt?: string;
  status: PresenceStatus;
  customStatus: CustomStatus | null;
  lastSeen: string | null;
}

export interface Replay {
  events: Message[];
  gap: boolean;
  latestId: number | null;
}

export interface RoomJoinResult {
  room: RoomInfo;
  joined: boolean;
  members: RoomMember[];
  memberCount: number;
  typing: { userId: string; threadId: string | null }[];
  replay?: Replay;
}

export interface Presence {
  userId: string;
  status: PresenceStatus;
  customStatus: CustomStatus | null;
  lastSeen: string | null;
}

export interface AuthenticatedEvent {
  userId: string;
  sessionId: string;
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

export interface HistoryResult {
  messages: Message[];
  hasMore: boolean;
}
