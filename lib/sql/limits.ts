// functions/limits.sql: the limits on what is stored, held by the database for every caller.
import type { PresenceStatus } from "../../protocol/index.js";
import type { SqlClient } from "./client.js";

/** The limits realtime_set_limits may change. */
export const LIMIT_KEYS = ["maxMessageLength", "maxMessageMetadataBytes", "maxCustomStatusText", "maxCustomStatusEmoji"] as const;
export type LimitKey = (typeof LIMIT_KEYS)[number];

export interface Limits extends Record<LimitKey, number> {
  /** The statuses a user may choose. */
  statuses: PresenceStatus[];
  /** The keys a custom status may have. */
  customStatusKeys: string[];
  updatedAt: string | null;
}

/** realtime_limits(): what every caller is held to. */
export function readLimits(db: SqlClient): Promise<Limits> {
  return db.value<Limits>("limits", "select realtime_limits() as v");
}

/**
 * realtime_set_limits: changes the given limits (integers in range; RT400 otherwise) and answers
 * them all. The schema owner may; the relay role may not (42501).
 */
export function setLimits(db: SqlClient, changes: Partial<Record<LimitKey, number>>): Promise<Limits> {
  return db.value<Limits>("set_limits", "select realtime_set_limits($1::jsonb) as v", [JSON.stringify(changes)]);
}
