// The protocol's payloads as the SDK uses them: the types of protocol/events.ts (types only:
// nothing here reaches the bundle).
export type {
  Ack,
  AuthenticatedEvent,
  ClientToServerEvents,
  CustomStatus,
  ErrorPayload,
  MembershipEvent,
  Message,
  MessageSendPayload,
  Presence,
  PresenceDiffEvent,
  PresenceStatus,
  Replay,
  Room as RoomInfo,
  RoomJoinResult,
  RoomMember,
  ServerToClientEvents,
  TypingEvent,
} from "../protocol/events.js";
export type { ErrorCode } from "../protocol/errors.js";
import type { Message } from "../protocol/events.js";

/** The answer of room:history: a page of older messages, oldest first (RoomHistoryResult). */
export interface HistoryResult {
  messages: Message[];
  /** Older messages remain: page on with `before` = the first message's id. */
  hasMore: boolean;
}
