// A relay's GET /health from tests: one answer, or waiting until it is healthy.
import { sleep } from "./wait.js";

/**
 * GET /health of the relay at url: status and body (JSON, or the text when it is not JSON). With
 * timeoutMs, a relay that does not answer in time (or at all) gives status 0 and no body; without,
 * the request's error is thrown.
 */
export async function health(url: string, timeoutMs?: number): Promise<{ status: number; body: any }> {
  const request = async () => {
    const res = await fetch(`${url}/health`, timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body };
  };
  if (timeoutMs === undefined) return request();
  try {
    return await request();
  } catch {
    return { status: 0, body: undefined };
  }
}

/** Waits until GET /health answers 200; returns when (ms since epoch). */
export async function healthy(url: string, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await health(url, 2000)).status === 200) return Date.now();
    if (Date.now() > deadline) throw new Error(`${url}/health did not answer 200 within ${timeoutMs} ms`);
    await sleep(50);
  }
}
