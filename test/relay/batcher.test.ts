// The relay's batcher: natural batches, several lanes in flight, arrival order kept per key.
import { describe, expect, it } from "vitest";
import { Batcher, laneOf } from "../../relay/batcher.js";
import type { ItemResult } from "../../lib/sql/client.js";

interface Item {
  room: string;
  n: number;
}

function recorder(delayMs: number) {
  const calls: Item[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const call = async (items: Item[]): Promise<ItemResult<number>[]> => {
    calls.push(items);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await new Promise((r) => setTimeout(r, delayMs));
    inFlight--;
    return items.map((i) => (i.n < 0 ? { ok: false, error: { code: "RT400", message: "negative" } } : { ok: true, value: i.n * 10 }));
  };
  return { calls, call, maxInFlight: () => maxInFlight };
}

describe("Batcher", () => {
  it("with one lane: the first item goes alone, the rest wait and go together, each answered", async () => {
    const r = recorder(20);
    const b = new Batcher(r.call, { maxBatch: 100 });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, n) => b.submit({ room: `r${n}`, n })));
    expect(answers).toEqual(Array.from({ length: 10 }, (_, n) => n * 10));
    expect(r.calls.map((c) => c.length)).toEqual([1, 9]);
    expect(r.maxInFlight()).toBe(1);
  });

  it("with lanes: calls of different keys run at once; items of one key keep arrival order and never run concurrently", async () => {
    const r = recorder(15);
    const lanes = 4;
    const b = new Batcher(r.call, { maxBatch: 5, lanes, key: (i: Item) => i.room });
    const rooms = Array.from({ length: 16 }, (_, k) => `room-${k}`);
    const items: Item[] = [];
    for (let n = 0; n < 200; n++) items.push({ room: rooms[n % rooms.length]!, n });
    const answers = await Promise.all(items.map((i) => b.submit(i)));
    expect(answers).toEqual(items.map((i) => i.n * 10));
    expect(r.maxInFlight()).toBeGreaterThan(1);
    expect(r.maxInFlight()).toBeLessThanOrEqual(lanes);
    expect(Math.max(...r.calls.map((c) => c.length))).toBeLessThanOrEqual(5);
    // Per room, the calls carried its items in the order they were submitted.
    for (const room of rooms) {
      const seen = r.calls.flat().filter((i) => i.room === room).map((i) => i.n);
      expect(seen).toEqual([...seen].sort((a, z) => a - z));
    }
    // Each call holds one lane's items only.
    for (const c of r.calls) expect(new Set(c.map((i) => laneOf(i.room, lanes))).size).toBe(1);
    expect(b.pending).toBe(0);
  });

  it("a refused item fails alone; the others of its batch are answered", async () => {
    const r = recorder(5);
    const b = new Batcher(r.call, { lanes: 2, key: (i: Item) => i.room });
    const results = await Promise.allSettled([1, -1, 2].map((n) => b.submit({ room: "x", n })));
    expect(results.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: "BAD_REQUEST" });
  });

  it("laneOf spreads keys and is stable", () => {
    const counts = [0, 0, 0, 0];
    for (let k = 0; k < 4000; k++) counts[laneOf(`room-${k}`, 4)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(laneOf("general", 4)).toBe(laneOf("general", 4));
  });
});
