// Waiting in tests: a plain delay, and polling for state that announces itself with no event.
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface UntilOptions {
  /** Pause between two checks; default 25 ms. */
  stepMs?: number;
  /** What is awaited, for the timeout error ("timed out after N ms waiting for <what>"); a function is called only then. */
  what?: string | (() => string);
}

async function poll<T>(fn: () => Promise<T> | T, timeoutMs: number, stepMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) return undefined;
    await sleep(stepMs);
  }
}

/** Polls fn() until it returns a truthy value, and returns that value; throws after timeoutMs. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 3000, options: UntilOptions = {}): Promise<T> {
  const v = await poll(fn, timeoutMs, options.stepMs ?? 25);
  if (v) return v;
  const what = typeof options.what === "function" ? options.what() : (options.what ?? "the condition");
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Polls check() until it holds; true when it did within timeoutMs, false when it did not (for a
 * caller that reports the outcome itself rather than failing here).
 */
export async function within(check: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 100): Promise<boolean> {
  return (await poll(check, timeoutMs, stepMs)) === true;
}
