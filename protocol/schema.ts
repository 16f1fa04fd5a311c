// A small schema helper for client payloads: a schema is an object of ordered field rules, each
// returning the field's typed value or throwing BAD_REQUEST with a message naming the field. Runs
// in browsers too (no Node API), so a client can check a payload before sending it.
import { RealtimeError } from "./errors.js";
import type { PresenceStatus } from "./events.js";

/**
 * The limits a payload is held to: the server's database holds them (realtime_limits(), changed
 * with `realtime limits set`), and a relay validates with the values it last read from it.
 */
export interface PayloadLimits {
  /** Characters of a message's content. */
  maxMessageLength: number;
  /** Bytes of a message's metadata, as JSON. */
  maxMessageMetadataBytes: number;
  /** Characters of a custom status's text and emoji. */
  maxCustomStatusText: number;
  maxCustomStatusEmoji: number;
  /** The statuses a user may choose. */
  statuses: readonly PresenceStatus[];
  /** The keys a custom status may have. */
  customStatusKeys: readonly string[];
}

export interface SchemaOptions {
  limits: Readonly<PayloadLimits>;
  /**
   * Called once the payload is known to be an object (with null), then after each field checked
   * (with its name): lets a server refuse a call (anonymous, say) at the same point as before.
   */
  checkpoint?: (afterField: string | null) => void;
}

/** Checks one field of a payload; absent fields arrive as undefined. */
export type Rule<T> = (value: unknown, field: string, options: SchemaOptions) => T;

/** A bound fixed by the protocol, or read from the options (the limits) at each check. */
export type Bound<T> = T | ((options: SchemaOptions) => T);

function resolve<T>(bound: Bound<T>, options: SchemaOptions): T {
  return typeof bound === "function" ? (bound as (options: SchemaOptions) => T)(options) : bound;
}

export interface Schema<T> {
  parse(value: unknown, options: SchemaOptions): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

export type Payload = Record<string, unknown>;

const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function bad(message: string, details?: unknown): never {
  throw new RealtimeError("BAD_REQUEST", message, details);
}

export function asObject(value: unknown, what = "payload"): Payload {
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad(`${what} must be an object`);
  return value as Payload;
}

type Fields = Record<string, Rule<unknown>>;
type Parsed<F extends Fields> = { [K in keyof F]: ReturnType<F[K]> };

/** A payload object whose fields are checked in the order given; unknown fields are ignored. */
export function object<F extends Fields>(fields: F): Schema<Parsed<F>> {
  return {
    parse(value, options) {
      const p = asObject(value);
      options.checkpoint?.(null);
      const out: Record<string, unknown> = {};
      for (const [field, rule] of Object.entries(fields)) {
        out[field] = rule(p[field], field, options);
        options.checkpoint?.(field);
      }
      return out as Parsed<F>;
    },
  };
}

/** Any payload (or none). */
export const anything: Schema<unknown> = { parse: (value) => value };

/** undefined and null are absent: undefined. */
export function optional<T>(rule: Rule<T>): Rule<T | undefined> {
  return (value, field, options) => (value === undefined || value === null ? undefined : rule(value, field, options));
}

export interface StringRule {
  max: Bound<number>;
  min?: number;
  /** Refuse control characters and surrounding spaces (identifiers such as room names). */
  identifier?: boolean;
}

export function string(rule: StringRule): Rule<string> {
  return (v, field, options) => {
    const max = resolve(rule.max, options);
    if (typeof v !== "string") bad(`${field} must be a string`);
    const len = [...v].length;
    if (len < (rule.min ?? 1)) bad(`${field} must not be empty`);
    if (len > max) bad(`${field} must be at most ${max} characters`, { field, max });
    if (rule.identifier && (CONTROL.test(v) || v !== v.trim())) {
      bad(`${field} must not contain control characters or surrounding spaces`);
    }
    // PostgreSQL text cannot hold NUL: refused here rather than failing (INTERNAL) in the database.
    if (v.includes("\u0000")) bad(`${field} must not contain NUL characters`);
    return v;
  };
}

/**
 * An id the client makes up: 1 to `max` characters without control characters or lone surrogates
 * (stored as is: two ids that would both be stored as U+FFFD must not collide).
 */
export function clientId(max: number): Rule<string> {
  return (v, field) => {
    const what = `${field} must be a string of 1 to ${max} characters without control characters`;
    if (typeof v !== "string") bad(what, { field });
    const len = [...v].length;
    if (len < 1 || len > max || CONTROL.test(v) || LONE_SURROGATE.test(v)) bad(what, { field, max });
    return v;
  };
}

export function oneOf<T extends string>(allowed: Bound<readonly T[]>): Rule<T> {
  return (v, field, options) => {
    const values = resolve(allowed, options);
    if (typeof v !== "string" || !(values as readonly string[]).includes(v)) bad(`${field} must be one of ${values.join(", ")}`);
    return v as T;
  };
}

/** True when a string anywhere in a JSON value (keys included) holds a NUL character. */
function containsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === "object") {
    return Object.entries(value).some(([k, v]) => k.includes("\u0000") || containsNul(v));
  }
  return false;
}

const utf8 = new TextEncoder();
/** Bytes of a string in UTF-8 (a lone surrogate counts as U+FFFD, as it is sent). */
export const utf8Length = (s: string) => utf8.encode(s).length;

/** A JSON object no larger than maxBytes when serialised. */
export function jsonObject(limit: Bound<number>): Rule<Payload> {
  return (v, field, options) => {
    const maxBytes = resolve(limit, options);
    asObject(v, field);
    if (utf8Length(JSON.stringify(v)) > maxBytes) bad(`${field} must be at most ${maxBytes} bytes of JSON`);
    if (containsNul(v)) bad(`${field} must not contain NUL characters`);
    return v as Payload;
  };
}

export const nonNegativeInteger: Rule<number> = (v, field) => {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) bad(`${field} must be a non-negative integer`);
  return v;
};

export function stringArray(maxItems: number, itemMax: number): Rule<string[]> {
  return (v, field) => {
    if (!Array.isArray(v)) bad(`${field} must be an array of strings`);
    if (v.length > maxItems) bad(`${field} may hold at most ${maxItems} items`);
    for (const item of v) {
      if (typeof item !== "string" || item.length === 0 || item.length > itemMax || item.includes("\u0000")) {
        bad(`${field} items must be strings of 1 to ${itemMax} characters`);
      }
    }
    return v as string[];
  };
}

/** How deep a client's JSON may nest: JSON.stringify and the batch parameters recurse per level. */
export const MAX_DEPTH = 32;

/** Whether a value nests more than `max` levels. Iterative: JSON.parse accepts 10,000 levels. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object" || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Refuses a payload nested more than MAX_DEPTH levels, which would overflow the stack (INTERNAL) further on. */
export function assertShallow(value: unknown, what = "payload"): void {
  if (nestedDeeperThan(value, MAX_DEPTH)) bad(`${what} must not be nested more than ${MAX_DEPTH} levels deep`);
}
