// HTTP beside the sockets: /health and /metrics (Prometheus text and JSON).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { uid } from "../helpers/names.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackError, ackOk, connect } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";

let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay();
});
afterAll(async () => {
  await relay?.dispose();
});

describe("/health", () => {
  it("answers 200 with status, connections, uptime and each dependency", async () => {
    const c = await connect(relay.url, token(uid()));
    const res = await fetch(`${relay.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const body = await res.json();
    expect(body.status).toBe("ok");
    expect(body.connections).toBe(1);
    expect(body.uptime).toBeTypeOf("number");
    expect(body.uptime).toBeGreaterThanOrEqual(0);
    expect(body.nodeId).toBe(relay.nodeId);
    expect(body.dependencies.database).toMatchObject({ ok: true });
    expect(body.dependencies.database.latencyMs).toBeTypeOf("number");
    expect(body.dependencies.listen).toEqual({ ok: true });
    expect(body.dependencies.redis.ok).toBe(true);
    c.disconnect();
  });
});

describe("/metrics", () => {
  it("serves Prometheus text with connections, messages, errors, SQL latency and event-loop lag", async () => {
    const room = await createRoom(relay.db, uid("metrics"));
    const c = await connect(relay.url, token(uid()));
    await ackOk(c, "room:join", { roomName: room });
    await ackOk(c, "message:send", { roomName: room, content: "counted" });
    await ackError(c, "room:join", "NOT_FOUND", { roomName: uid("missing") });

    const res = await fetch(`${relay.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE realtime_connections gauge$/m);
    expect(text).toMatch(/^realtime_connections\{kind="authenticated"\} 1$/m);
    expect(text).toMatch(/^realtime_messages_total 1$/m);
    expect(text).toMatch(/^realtime_errors_total\{code="NOT_FOUND"\} 1$/m);
    expect(text).toMatch(/^realtime_sql_duration_seconds_bucket\{.*call="send_messages".*\} \d+$/m);
    // Joins go in batches: a refused join is an answer of a call that succeeded.
    expect(text).toMatch(/^realtime_sql_duration_seconds_count\{call="join_rooms",ok="true"\} 2$/m);
    expect(text).toMatch(/^realtime_sql_duration_seconds_count\{call="send_messages",ok="true"\} 1$/m);
    expect(text).toMatch(/^realtime_nodejs_eventloop_lag_seconds \d/m);
    expect(text).toMatch(/^realtime_process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^realtime_process_cpu_seconds_total \d/m);
    // Cluster numbers read from the database at scrape time.
    expect(text).toMatch(/^realtime_rooms [1-9]\d*$/m);
    expect(text).toMatch(/^realtime_presence_users\{status="online"\} [1-9]\d*$/m);
    c.disconnect();
  });

  it("answers JSON of the same numbers for Accept: application/json", async () => {
    const res = await fetch(`${relay.url}/metrics`, { headers: { accept: "application/json" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const metrics = (await res.json()) as { name: string; values: { value: number; labels: Record<string, string> }[] }[];
    const names = metrics.map((m) => m.name);
    for (const name of ["realtime_connections", "realtime_messages_total", "realtime_errors_total", "realtime_sql_duration_seconds"]) {
      expect(names).toContain(name);
    }
    expect(names.some((n) => n.startsWith("realtime_nodejs_eventloop_lag"))).toBe(true);
    const messages = metrics.find((m) => m.name === "realtime_messages_total")!;
    expect(messages.values[0].value).toBe(1);
  });

  it("answers 404 for unknown paths and 405 for other methods", async () => {
    const missing = await fetch(`${relay.url}/nope`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe("NOT_FOUND");
    const post = await fetch(`${relay.url}/health`, { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
  });
});
