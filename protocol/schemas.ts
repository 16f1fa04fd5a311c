// The payload schema of every client event, checked before any database call. Every failure is
// BAD_REQUEST with a message naming the field. Adding an event: its types in events.ts, its
// schema here. The limits on what is stored (message length and metadata, custom status, the
// statuses) are not written here: each check reads them from the options (SchemaOptions.limits),
// which a relay fills with the database's realtime_limits().
import type { ClientEventName, CustomStatus } from "./events.js";
import {
  anything,
  asObject,
  bad,
  clientId,
  jsonObject,
  nonNegativeInteger,
  object,
  oneOf,
  optional,
  string,
  stringArray,
  type Rule,
  type Schema,
} from "./schema.js";

const roomName = string({ max: 255, identifier: true });
const threadId = optional(string({ max: 255, identifier: true }));

const customStatusFields = object({
  text: optional(string({ max: (o) => o.limits.maxCustomStatusText, min: 0 })),
  emoji: optional(string({ max: (o) => o.limits.maxCustomStatusEmoji, min: 0 })),
  expiresAt: optional(string({ max: 64 })),
});

/** "a, b and c" */
const listed = (items: readonly string[]) => (items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`);

/** customStatus: undefined keeps the stored one, null clears it, an object (the limits' customStatusKeys only) sets it. */
const customStatus: Rule<CustomStatus | null | undefined> = (v, field, options) => {
  if (v === undefined) return undefined;
  if (v === null) return null;
  const c = asObject(v, field);
  customStatusFields.parse(c, { limits: options.limits });
  const keys = options.limits.customStatusKeys;
  const extra = Object.keys(c).filter((k) => !keys.includes(k));
  if (extra.length > 0) bad(`customStatus may only have ${listed(keys)} (got ${extra.slice(0, 3).join(", ")})`);
  return c as CustomStatus;
};

const typing = object({ roomName, threadId });

/** room:history's page size: 1 to 1000. */
const historyLimit: Rule<number> = (v, field, options) => {
  const n = nonNegativeInteger(v, field, options);
  if (n < 1 || n > 1000) bad(`${field} must be between 1 and 1000`);
  return n;
};

export const clientEventSchemas = {
  "room:join": object({ roomName, since: optional(nonNegativeInteger) }),
  "room:leave": object({ roomName }),
  "room:history": object({ roomName, before: optional(nonNegativeInteger), limit: optional(historyLimit) }),
  "message:send": object({
    roomName,
    content: string({ max: (o) => o.limits.maxMessageLength }),
    threadId,
    metadata: optional(jsonObject((o) => o.limits.maxMessageMetadataBytes)),
    clientMessageId: optional(clientId(128)),
  }),
  "typing:start": typing,
  "typing:stop": typing,
  "presence:update": object({ status: oneOf((o) => o.limits.statuses), customStatus }),
  "presence:get": object({ userIds: stringArray(100, 255) }),
  "auth:refresh": object({ token: string({ max: 8192 }) }),
  ping: anything,
} satisfies Record<ClientEventName, Schema<unknown>>;

export type ClientEventSchemas = typeof clientEventSchemas;
