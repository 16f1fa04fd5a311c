// What the SQL API modules need from a database: lib/db.ts's Db (named calls, errors mapped to
// the protocol's codes). Helpers shared by the modules.
import type { Db } from "../db.js";

export type SqlClient = Pick<Db, "query" | "value">;

/** A duration parameter given in milliseconds, as the interval the SQL functions take. */
export const msInterval = (param: number) => `make_interval(secs => $${param}::double precision / 1000)`;

/** A timestamp parameter given in milliseconds since the epoch. */
export const msTimestamp = (param: number) => `to_timestamp($${param}::double precision / 1000)`;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Also NUL, which jsonb refuses too: for text the relay writes itself (the event log), not client fields that are validated. */
export const NUL_OR_LONE_SURROGATE = new RegExp(`\\u0000|${LONE_SURROGATE.source}`, "g");

/**
 * A JSON parameter PostgreSQL accepts: a lone UTF-16 surrogate becomes U+FFFD (as the driver does
 * for a text parameter), because jsonb refuses it and it would fail the whole batch.
 */
export function jsonParam(value: unknown, unstorable: RegExp = LONE_SURROGATE): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "string" ? v.replace(unstorable, "\uFFFD") : v));
}

/** What the SQL batch functions answer per item: a value, or an error with an SQLSTATE. */
export type ItemResult<Out> = { ok: true; value: Out } | { ok: false; error: { code: string; message: string } };
