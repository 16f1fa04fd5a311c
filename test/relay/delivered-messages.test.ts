// The ids a relay remembers having delivered (relay/recovery.ts): duplicates refused, old ids
// forgotten after the retention, nothing forgotten while a gap holds them, and the same answers
// after the internal arrays were compacted.
import { describe, expect, it } from "vitest";
import { DeliveredMessages } from "../../relay/recovery.js";

describe("DeliveredMessages", () => {
  it("refuses an id delivered already and forgets it after the retention", () => {
    const d = new DeliveredMessages(1000);
    expect(d.add(1, 0)).toBe(true);
    expect(d.add(1, 10)).toBe(false);
    expect(d.has(1)).toBe(true);
    d.add(2, 1500); // 1 is now older than the retention
    expect(d.has(1)).toBe(false);
    expect(d.has(2)).toBe(true);
  });

  it("keeps everything delivered since a gap began until the gap is released", () => {
    const d = new DeliveredMessages(1000);
    d.add(1, 0);
    d.holdFrom(-1);
    d.add(2, 5000);
    expect(d.has(1)).toBe(true);
    d.holdFrom(undefined);
    d.add(3, 5001);
    expect(d.has(1)).toBe(false);
    expect(d.has(2)).toBe(true);
  });

  it("answers the same after many ids came and went (compaction)", () => {
    const d = new DeliveredMessages(100);
    for (let id = 1; id <= 20_000; id++) d.add(id, id); // one id per ms, 100 ms kept
    expect(d.size).toBe(101);
    expect(d.has(19_899)).toBe(false);
    for (let id = 19_900; id <= 20_000; id++) expect(d.has(id)).toBe(true);
    expect(d.add(20_000, 20_001)).toBe(false);
    expect(d.add(20_001, 20_001)).toBe(true);
  });
});
