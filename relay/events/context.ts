// What a client event's handler may use: a narrow view of the relay, and the call it answers.
// A handler gets its payload already checked against its schema (protocol/schemas.ts) and returns
// its acknowledgement's data; a thrown RealtimeError becomes {ok:false, error} and an `error` event.
import type { Logger } from "../../lib/logger.js";
import type { JoinRoomRequest, OutgoingMessage, SqlClient, TypingChange, TypingChangeResult } from "../../lib/sql/index.js";
import type { ClientAckData, ClientEventName, ClientEventSchemas, Infer, Message, PayloadLimits, RoomJoinResult } from "../../protocol/index.js";
import type { Authenticator } from "../auth.js";
import type { Batcher } from "../batcher.js";
import type { RelayContext } from "../context.js";
import type { RelaySocket } from "../sockets.js";

/** A stored message as answered by SQL; `duplicate` marks the retry of a stored clientMessageId. */
export type StoredMessage = Message & { duplicate?: boolean };

export interface EventContext extends Pick<RelayContext, "config" | "io" | "metrics" | "eventLog"> {
  readonly db: SqlClient;
  readonly auth: Pick<Authenticator, "verify">;
  /** message:send, typing and room:join go to the database in natural batches (batcher.ts). */
  readonly messages: Batcher<OutgoingMessage, StoredMessage>;
  readonly typing: Batcher<TypingChange, TypingChangeResult>;
  readonly joins: Batcher<JoinRoomRequest, RoomJoinResult>;
  /** The limits payloads are checked against: the database's, as last read (lib/limits.ts LiveLimits). */
  limits(): Readonly<PayloadLimits>;
  /** Re-arms the token expiry of a socket (after auth:refresh). */
  scheduleExpiry(socket: RelaySocket): void;
  /** Notes a client event (idle-to-away). */
  noteActivity(socket: RelaySocket): void;
}

/** One client event being handled. */
export interface EventCall {
  readonly ctx: EventContext;
  readonly socket: RelaySocket;
  readonly log: Logger;
  /** The socket's user id; FORBIDDEN for anonymous connections ("anonymous connections may not <action>"). */
  requireUser(action: string): string;
  /** Takes a token from the presence or typing budget; RATE_LIMITED when it is empty. */
  throttle(event: string, limit: "presence" | "typing"): void;
}

export type EventPayload<E extends ClientEventName> = Infer<ClientEventSchemas[E]>;

export type EventHandler<E extends ClientEventName> = (payload: EventPayload<E>, call: EventCall) => Promise<ClientAckData<E>> | ClientAckData<E>;

/** The handlers of a family of events; index.ts checks that every client event has one. */
export type EventHandlers<E extends ClientEventName> = { [K in E]: EventHandler<K> };

/**
 * A refusal that does not depend on the rest of the payload (an anonymous sender, a feature
 * switched off), made while the payload is checked: once it is an object (`after: null`) or once
 * field `after` passed. Fields after that point are not checked for a refused call.
 */
export interface EventGuard {
  after: string | null;
  check(call: EventCall): void;
}
export type EventGuards<E extends ClientEventName> = { [K in E]?: EventGuard };
