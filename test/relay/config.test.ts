// Configuration from the environment: defaults, and one clear error naming a bad variable.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../lib/config.js";

const base = { REALTIME_JWT_SECRET: "config-test-secret-0123456789" };

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("uses the seed defaults", () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({
      port: 3101,
      host: "0.0.0.0",
      maxConnections: 10_000,
      allowAnonymous: false,
      enablePresence: true,
      enableTyping: true,
      typingTimeoutMs: 3000,
      presenceHeartbeatMs: 30_000,
      logLevel: "info",
      logEvents: true,
      logEventTypes: ["connect", "disconnect", "error"],
      idleAfterMs: 0,
      jwtAlgorithms: ["HS256"],
    });
  });

  it("derives the abuse limits' defaults from the rate limit and the typing timeout", () => {
    expect(loadConfig(base)).toMatchObject({
      rateLimitPerSec: 50,
      rateLimitBurst: 100,
      rateStrikes: 200,
      presenceRateLimitPerSec: 2,
      typingRateLimitPerSec: 10,
      typingThrottleMs: 1000,
      maxConnectionsPerUser: 20,
      maxRoomsPerSocket: 500,
    });
    expect(loadConfig({ ...base, REALTIME_RATE_BURST: "7" }).rateStrikes).toBe(14);
    // A short typing timeout shortens the default throttle instead of refusing to start.
    expect(loadConfig({ ...base, REALTIME_TYPING_TIMEOUT: "600" }).typingThrottleMs).toBe(300);
    expect(errorOf({ REALTIME_TYPING_THROTTLE: "2000" }).message).toBe(
      "REALTIME_TYPING_THROTTLE: must be at most half of REALTIME_TYPING_TIMEOUT (1500 ms), got 2000",
    );
    expect(errorOf({ REALTIME_MAX_ROOMS_PER_SOCKET: "0" }).variable).toBe("REALTIME_MAX_ROOMS_PER_SOCKET");
    expect(loadConfig(base).presenceVisibility).toBe("rooms");
    expect(loadConfig({ ...base, REALTIME_PRESENCE_VISIBILITY: "ALL" }).presenceVisibility).toBe("all");
    expect(errorOf({ REALTIME_PRESENCE_VISIBILITY: "friends" }).message).toBe('REALTIME_PRESENCE_VISIBILITY: must be one of rooms, all, got "friends"');
    expect(errorOf({ REALTIME_MAX_CONNECTIONS_PER_USER: "-1" }).variable).toBe("REALTIME_MAX_CONNECTIONS_PER_USER");
  });

  it("names the variable and the problem", () => {
    expect(errorOf({ REALTIME_PORT: "abc" }).message).toBe('REALTIME_PORT: must be an integer, got "abc"');
    expect(errorOf({ REALTIME_ALLOW_ANONYMOUS: "maybe" }).variable).toBe("REALTIME_ALLOW_ANONYMOUS");
    expect(errorOf({ REALTIME_LOG_EVENT_TYPES: "connect,nonsense" }).message).toMatch(/REALTIME_LOG_EVENT_TYPES: "nonsense"/);
    expect(errorOf({ DATABASE_URL: "mysql://x" }).variable).toBe("DATABASE_URL");
    expect(errorOf({ REALTIME_JWT_ALGORITHMS: "none" }).variable).toBe("REALTIME_JWT_ALGORITHMS");
    expect(errorOf({ REALTIME_JWT_ALGORITHMS: "HS256,RS256" }).message).toMatch(/cannot mix/);
    expect(errorOf({ REALTIME_IDLE_AFTER: "1000", REALTIME_PRESENCE_HEARTBEAT: "1000" }).message).toMatch(
      /REALTIME_IDLE_AFTER: must be 0 \(off\) or at least twice REALTIME_PRESENCE_HEARTBEAT/,
    );
  });

  it("refuses an origin without a scheme, or with a path, and keeps a trailing slash out", () => {
    expect(errorOf({ REALTIME_CORS_ORIGIN: "localhost:3000" }).message).toMatch(/REALTIME_CORS_ORIGIN: "localhost:3000" is not an origin like http:\/\/localhost:3000/);
    expect(errorOf({ REALTIME_CORS_ORIGIN: "http://a.example/app" }).variable).toBe("REALTIME_CORS_ORIGIN");
    expect(loadConfig({ REALTIME_CORS_ORIGIN: "http://localhost:3000/, https://app.example" }).corsOrigins).toEqual(["http://localhost:3000", "https://app.example"]);
  });
});
