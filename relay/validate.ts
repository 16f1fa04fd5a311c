// Validation of hostile socket payloads, before any database call. Every failure is BAD_REQUEST
// with a message naming the field.
import { RealtimeError } from "../protocol/index.js";

export type Payload = Record<string, unknown>;

const CONTROL = /[\u0000-\u001f\u007f]/;

export function bad(message: string, details?: unknown): never {
  throw new RealtimeError("BAD_REQUEST", message, details);
}

export function object(value: unknown, what = "payload"): Payload {
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad(`${what} must be an object`);
  return value as Payload;
}

export function optionalObject(value: unknown): Payload {
  return value === undefined || value === null ? {} : object(value);
}

export interface StringRule {
  max: number;
  min?: number;
  /** Refuse control characters and surrounding spaces (identifiers such as room names). */
  identifier?: boolean;
}

export function string(p: Payload, field: string, rule: StringRule): string {
  const v = p[field];
  if (typeof v !== "string") bad(`${field} must be a string`);
  const len = [...v].length;
  if (len < (rule.min ?? 1)) bad(`${field} must not be empty`);
  if (len > rule.max) bad(`${field} must be at most ${rule.max} characters`, { field, max: rule.max });
  if (rule.identifier && (CONTROL.test(v) || v !== v.trim())) {
    bad(`${field} must not contain control characters or surrounding spaces`);
  }
  // PostgreSQL text cannot hold NUL: refused here rather than failing (INTERNAL) in the database.
  if (v.includes("\u0000")) bad(`${field} must not contain NUL characters`);
  return v;
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

export function optionalString(p: Payload, field: string, rule: StringRule): string | undefined {
  if (p[field] === undefined || p[field] === null) return undefined;
  return string(p, field, rule);
}

export function roomName(p: Payload): string {
  return string(p, "roomName", { max: 255, identifier: true });
}

export function threadId(p: Payload): string | undefined {
  return optionalString(p, "threadId", { max: 255, identifier: true });
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * message:send's optional clientMessageId: the sender's own id of the message, 1 to 128 characters
 * without control characters or lone surrogates (stored as is: two ids that would both be stored
 * as U+FFFD must not collide), the key that makes a retry return the stored message.
 */
export function clientMessageId(p: Payload): string | undefined {
  const v = p.clientMessageId;
  if (v === undefined || v === null) return undefined;
  const what = "clientMessageId must be a string of 1 to 128 characters without control characters";
  if (typeof v !== "string") bad(what, { field: "clientMessageId" });
  const len = [...v].length;
  if (len < 1 || len > 128 || CONTROL.test(v) || LONE_SURROGATE.test(v)) bad(what, { field: "clientMessageId", max: 128 });
  return v;
}

export function oneOf<T extends string>(p: Payload, field: string, values: readonly T[]): T {
  const v = p[field];
  if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
    bad(`${field} must be one of ${values.join(", ")}`);
  }
  return v as T;
}

/** A JSON object no larger than maxBytes when serialised. */
export function optionalJsonObject(p: Payload, field: string, maxBytes: number): Payload | undefined {
  const v = p[field];
  if (v === undefined || v === null) return undefined;
  object(v, field);
  if (Buffer.byteLength(JSON.stringify(v)) > maxBytes) bad(`${field} must be at most ${maxBytes} bytes of JSON`);
  if (containsNul(v)) bad(`${field} must not contain NUL characters`);
  return v as Payload;
}

export function nonNegativeInteger(p: Payload, field: string): number | undefined {
  const v = p[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) bad(`${field} must be a non-negative integer`);
  return v;
}

export function stringArray(p: Payload, field: string, maxItems: number, itemMax: number): string[] {
  const v = p[field];
  if (!Array.isArray(v)) bad(`${field} must be an array of strings`);
  if (v.length > maxItems) bad(`${field} may hold at most ${maxItems} items`);
  for (const item of v) {
    if (typeof item !== "string" || item.length === 0 || item.length > itemMax || item.includes("\u0000")) {
      bad(`${field} items must be strings of 1 to ${itemMax} characters`);
    }
  }
  return v as string[];
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
export function shallow(value: unknown, what = "payload"): void {
  if (nestedDeeperThan(value, MAX_DEPTH)) bad(`${what} must not be nested more than ${MAX_DEPTH} levels deep`);
}
