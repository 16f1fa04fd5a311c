// Latency samples, percentiles and the markdown tables every scenario prints.

/** A growable list of numbers (milliseconds) with percentiles. */
export class Samples {
  private data = new Float64Array(4096);
  private sorted: Float64Array | undefined;
  n = 0;

  add(v: number): void {
    if (this.n === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = v;
    this.sorted = undefined;
  }

  private view(): Float64Array {
    if (!this.sorted) this.sorted = this.data.slice(0, this.n).sort();
    return this.sorted;
  }

  /** p in [0, 100]; NaN when empty. */
  p(p: number): number {
    const s = this.view();
    if (s.length === 0) return NaN;
    const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
    return s[i];
  }

  get max(): number {
    return this.n === 0 ? NaN : this.view()[this.n - 1];
  }

  get mean(): number {
    let sum = 0;
    for (let i = 0; i < this.n; i++) sum += this.data[i];
    return this.n === 0 ? NaN : sum / this.n;
  }

  summary(): LatencySummary {
    return { count: this.n, p50: round(this.p(50)), p90: round(this.p(90)), p99: round(this.p(99)), max: round(this.max), mean: round(this.mean) };
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** 12345.6 -> "12,346"; small numbers keep digits. */
export function fmt(v: number | undefined, digits?: number): string {
  if (v === undefined || Number.isNaN(v)) return "n/a";
  if (!Number.isFinite(v)) return String(v);
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
}

export const ms = (v: number) => `${fmt(v, v >= 100 ? 0 : 1)} ms`;
export const bytes = (v: number) => (Math.abs(v) >= 10_240 ? `${fmt(v / 1024, 1)} KB` : `${fmt(v, 0)} B`);
export const ratio = (a: number, b: number) => (b === 0 || !Number.isFinite(a / b) ? NaN : a / b);

export type Status = "met" | "missed" | "info" | "capped";

export interface TargetRow {
  metric: string;
  target: string;
  measured: string;
  status: Status;
  note?: string;
}

export function status(ok: boolean): Status {
  return ok ? "met" : "missed";
}

/** A markdown table; the first header is left-aligned, the rest too (readable in a terminal). */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = headers.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => "| " + r.map((c, i) => (c ?? "").padEnd(widths[i])).join(" | ") + " |";
  return [line(cells[0]), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...cells.slice(1).map(line)].join("\n");
}

export function targetTable(rows: TargetRow[]): string {
  return table(
    ["metric", "target", "measured", "result"],
    rows.map((r) => [r.metric, r.target, r.measured + (r.note ? ` (${r.note})` : ""), r.status === "info" ? "-" : r.status === "capped" ? "not reached (capped)" : r.status]),
  );
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const now = () => performance.now();
/** Milliseconds since the epoch with sub-millisecond precision (same clock within one process). */
export const epochMs = () => performance.timeOrigin + performance.now();

/** A value in a headline's unit. */
export function unitFmt(v: number | undefined, unit: string): string {
  if (v === undefined || Number.isNaN(v)) return "n/a";
  switch (unit) {
    case "ms":
      return ms(v);
    case "B":
      return bytes(v);
    case "/s":
      return `${fmt(v)}/s`;
    case "x":
      return `${fmt(v, 2)}x`;
    case "%":
      return `${fmt(v, 1)}%`;
    case "s":
      return `${fmt(v, 1)} s`;
    default:
      return fmt(v, Number.isInteger(v) ? 0 : undefined);
  }
}

export function median(values: number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export interface AggregatedHeadline {
  metric: string;
  target: string;
  unit: string;
  relay: { median: number; min: number; max: number; runs: number[] };
  bare?: { median: number; min: number; max: number; runs: number[] };
  ratio?: number;
  status: Status;
  note?: string;
}

/** Per metric: medians (min, max) over the runs; met/missed decided on the medians. */
export function aggregateHeadlines(runs: import("./context.js").Headline[][]): AggregatedHeadline[] {
  const order: string[] = [];
  const byMetric = new Map<string, import("./context.js").Headline[]>();
  for (const run of runs) {
    for (const h of run) {
      if (!byMetric.has(h.metric)) {
        byMetric.set(h.metric, []);
        order.push(h.metric);
      }
      byMetric.get(h.metric)!.push(h);
    }
  }
  return order.map((metric) => {
    const hs = byMetric.get(metric)!;
    const first = hs[0];
    const agg = (vals: number[]) => ({ median: median(vals), min: Math.min(...vals), max: Math.max(...vals), runs: vals });
    const relay = agg(hs.map((h) => h.relay));
    const bareVals = hs.map((h) => h.bare).filter((v): v is number => v !== undefined);
    const bare = bareVals.length > 0 ? agg(bareVals) : undefined;
    const r = bare ? ratio(relay.median, bare.median) : undefined;
    let st: Status = "info";
    if (first.check) {
      const ok = first.check(relay.median, bare?.median);
      st = ok ? (hs.some((h) => h.capped) ? "capped" : "met") : "missed";
    }
    // A note may carry a run's own figures: the last run's is shown.
    const note = hs[hs.length - 1].note;
    return { metric, target: first.target, unit: first.unit, relay, bare, ratio: r, status: st, note };
  });
}

/** target | relay | bare | ratio | result, medians with (min–max) when there were several runs. */
export function headlineTable(rows: AggregatedHeadline[]): string {
  const cell = (a: AggregatedHeadline["relay"] | undefined, unit: string) => {
    if (!a) return "-";
    const m = unitFmt(a.median, unit);
    return a.runs.length > 1 ? `${m} (${unitFmt(a.min, unit)}–${unitFmt(a.max, unit)})` : m;
  };
  return table(
    ["metric", "target", "relay", "bare", "ratio", "result"],
    rows.map((r) => [
      r.metric + (r.note ? ` (${r.note})` : ""),
      r.target,
      cell(r.relay, r.unit),
      cell(r.bare, r.unit),
      r.ratio === undefined || Number.isNaN(r.ratio) ? "-" : `${fmt(r.ratio, 2)}x`,
      r.status === "info" ? "-" : r.status === "capped" ? "not reached (capped)" : r.status,
    ]),
  );
}
