// A reachability probe for REALTIME_REDIS_URL: short timeouts, no retries, never an unhandled error.
import { maskUrl } from "../../lib/mask.js";

export interface RedisCheck {
  ok: boolean;
  url: string;
  detail: string;
}

export async function checkRedis(url: string, timeoutMs = 2000): Promise<RedisCheck> {
  const { Redis } = await import("ioredis");
  const shown = maskUrl(url);
  let lastError: Error | undefined;
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  client.on("error", (err: Error) => {
    lastError = err;
  });
  try {
    await withTimeout(client.connect(), timeoutMs + 500);
    const pong = await withTimeout(client.ping(), timeoutMs);
    const info = await withTimeout(client.info("server"), timeoutMs).catch(() => "");
    const version = /redis_version:(\S+)/.exec(info)?.[1];
    return { ok: pong === "PONG", url: shown, detail: version ? `Redis ${version}` : "PONG" };
  } catch (err) {
    const e = (lastError ?? err) as Error & { code?: string };
    const reason = e.code === "ECONNREFUSED" ? "connection refused" : e.message || String(e);
    return { ok: false, url: shown, detail: reason };
  } finally {
    client.disconnect();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error("timed out")), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
