// Aligned plain-text tables for read commands (--json prints the data instead).

export interface Column<T> {
  header: string;
  get: (row: T) => unknown;
  align?: "left" | "right";
  /** Truncate longer cells to this many characters. */
  max?: number;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** Local time as YYYY-MM-DD HH:MM:SS. */
export function formatTime(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) return "-";
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return (
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

export function formatCell(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  if (value instanceof Date) return formatTime(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value).replace(/[\r\n\t]+/g, " ");
}

export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) =>
    columns.map((c) => {
      const text = formatCell(c.get(row));
      return c.max && text.length > c.max ? text.slice(0, c.max - 1) + "…" : text;
    }),
  );
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i].align === "right" ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n");
}
