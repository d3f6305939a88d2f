/**
 * How values of the merge language look in a notebook: a mime bundle with
 * `text/plain` always and `text/html` where it helps. Displayable values
 * (models, plans, figures) render themselves; tables render here; everything
 * else gets a plain-text repr in the language's own spelling.
 */
import { Dict, Table, isDisplayable, type MimeBundle, type Value } from "../../stdlib/spec.js";

/**
 * The notebook rendering of any value (execute_result, display()). `text` is
 * the plain-text repr for values that do not render themselves (the kernel
 * passes the language's own formatter).
 */
export function valueToMimeBundle(value: unknown, text: (v: unknown) => string = repr): MimeBundle {
  if (value instanceof Table) return tableToMimeBundle(value);
  if (isDisplayable(value)) return value.toMimeBundle();
  return { "text/plain": text(value) };
}

/** A results table as an HTML table plus an aligned text table. */
export function tableToMimeBundle(table: Table): MimeBundle {
  return { "text/plain": tableToText(table), "text/html": tableToHtml(table) };
}

export function tableToText(table: Table): string {
  const cells = [table.columns, ...table.rows.map((r) => r.map(cellText))];
  const widths = table.columns.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? "").length)));
  const numeric = table.columns.map((_, j) => table.rows.length > 0 && table.rows.every((r) => typeof r[j] === "number"));
  const line = (r: string[]) =>
    r.map((c, j) => (numeric[j] ? (c ?? "").padStart(widths[j]) : (c ?? "").padEnd(widths[j]))).join("  ").trimEnd();
  const rule = widths.map((w) => "─".repeat(w)).join("  ");
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join("\n");
}

export function tableToHtml(table: Table): string {
  const th = table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = table.rows
    .map((r) => `<tr>${table.columns.map((_, j) => `<td${typeof r[j] === "number" ? ' style="text-align:right"' : ""}>${escapeHtml(cellText(r[j]))}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table class="mergelab-table">\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/** A table cell: numbers to 4 significant digits (results are accuracies, norms, cosines). */
function cellText(v: Value | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "string") return v;
  return repr(v);
}

export function formatNumber(x: number): string {
  if (!Number.isFinite(x) || Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e6) return String(Number(x.toPrecision(4)));
  return x.toExponential(3);
}

/** The language's spelling of a value: `[1, 2.5, "a"]`, `{"k": 0.2}`, `true`, `none`. */
export function repr(v: unknown): string {
  if (v === null || v === undefined) return "none";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(repr).join(", ")}]`;
  if (v instanceof Dict) return `{${[...v.entries].map(([k, x]) => `${JSON.stringify(k)}: ${repr(x)}`).join(", ")}}`;
  if (v instanceof Table) return tableToText(v);
  if (isDisplayable(v)) {
    const t = v.toMimeBundle()["text/plain"];
    if (typeof t === "string") return t;
  }
  const s = String(v);
  return s === "[object Object]" ? `<${(v as object).constructor?.name ?? "value"}>` : s;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
