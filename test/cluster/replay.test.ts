// Replay after reconnect: a client that joins with the last message id it saw gets what it missed,
// in order, without duplicates, up to REALTIME_REPLAY_LIMIT; a gap it cannot fill is reported.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom } from "../helpers/db.js";
import { startRelay, type TestRelay } from "../helpers/relay.js";
import { ackOk, connect } from "../helpers/sockets.js";
import { token } from "../helpers/tokens.js";

let relay: TestRelay;

beforeAll(async () => {
  relay = await startRelay({ REALTIME_REPLAY_LIMIT: "5" });
  await createRoom(relay.db, "history");
});
afterAll(async () => {
  await relay?.dispose();
});

describe("room:join with since", () => {
  it("replays the messages after the given id, in order and without duplicates", async () => {
    const sender = await connect(relay.url, token("replay-sender"));
    const reader = await connect(relay.url, token("replay-reader"));
    await ackOk(sender, "room:join", { roomName: "history" });
    const first = await ackOk(reader, "room:join", { roomName: "history", since: 0 });
    expect(first.replay.events).toEqual([]);
    const lastSeen = first.replay.latestId ?? 0;

    const sent: number[] = [];
    const m1 = await ackOk(sender, "message:send", { roomName: "history", content: "one" });
    sent.push(m1.id);
    reader.disconnect(); // the reader misses the next ones
    for (const content of ["two", "three", "four"]) sent.push((await ackOk(sender, "message:send", { roomName: "history", content })).id);

    const back = await connect(relay.url, token("replay-reader"));
    const replay = (await ackOk(back, "room:join", { roomName: "history", since: m1.id })).replay;
    expect(replay.gap).toBe(false);
    expect(replay.events.map((e: any) => e.content)).toEqual(["two", "three", "four"]);
    expect(replay.events.map((e: any) => e.id)).toEqual(sent.slice(1));
    expect(replay.latestId).toBe(sent[sent.length - 1]);
    expect(lastSeen).toBeLessThan(m1.id);

    // Nothing new: nothing replayed.
    const none = (await ackOk(back, "room:join", { roomName: "history", since: replay.latestId })).replay;
    expect(none).toMatchObject({ events: [], gap: false });
    sender.disconnect();
    back.disconnect();
  });

  it("reports a gap when more messages were missed than the replay limit", async () => {
    const sender = await connect(relay.url, token("gap-sender"));
    await ackOk(sender, "room:join", { roomName: "history" });
    const start = (await ackOk(sender, "message:send", { roomName: "history", content: "start" })).id;
    const ids: number[] = [];
    for (let i = 0; i < 8; i++) ids.push((await ackOk(sender, "message:send", { roomName: "history", content: `m${i}` })).id);

    const replay = (await ackOk(sender, "room:join", { roomName: "history", since: start })).replay;
    expect(replay.gap).toBe(true);
    // The newest five, oldest first, so the client can show them while it refetches the rest.
    expect(replay.events.map((e: any) => e.id)).toEqual(ids.slice(-5));
    sender.disconnect();
  });

  it("reports a gap when pruning removed messages after the offset", async () => {
    const sender = await connect(relay.url, token("prune-sender"));
    await ackOk(sender, "room:join", { roomName: "history" });
    const old = (await ackOk(sender, "message:send", { roomName: "history", content: "old" })).id;
    await ackOk(sender, "message:send", { roomName: "history", content: "pruned" });
    await relay.db.q("select realtime_prune_events(interval '0 seconds', now() + interval '1 second')");
    const after = (await ackOk(sender, "message:send", { roomName: "history", content: "kept" })).id;

    const replay = (await ackOk(sender, "room:join", { roomName: "history", since: old })).replay;
    expect(replay.gap).toBe(true);
    expect(replay.events.map((e: any) => e.id)).toEqual([after]);
    sender.disconnect();
  });

  it("refuses a bad offset and replay of a room the user may not read", async () => {
    const user = await connect(relay.url, token("replay-bad"));
    const bad = await user.emitWithAck("room:join", { roomName: "history", since: -1 });
    expect(bad).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    await createRoom(relay.db, "secret-history", "group", "private");
    const forbidden = await user.emitWithAck("room:join", { roomName: "secret-history", since: 0 });
    expect(forbidden).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    user.disconnect();
  });
});
