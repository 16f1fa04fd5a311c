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
