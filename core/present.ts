/**
 * How every value is shown — the one presenter. `formatValue` is the
 * language's own spelling (print(), the CLI, a cell's text/plain);
 * `valueToMimeBundle` is what a notebook shows: `text/plain` always and
 * `text/html` where it helps. Displayable values (models, plans, figures)
 * render themselves; tables render here. Also the small formatters every
 * layer shares: numbers, byte counts, HTML escaping.
 */
import path from "node:path";
import { Dict, Table, isDisplayable, type MimeBundle, type Value } from "./values.js";

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
  if (typeof v === "number") return formatCellNumber(v);
  if (typeof v === "string") return v;
  return formatValue(v, true);
}

/** A number in a table or summary: 4 significant digits. */
export function formatCellNumber(x: number): string {
  if (!Number.isFinite(x) || Number.isInteger(x)) return formatNumber(x);
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e6) return String(Number(x.toPrecision(4)));
  return x.toExponential(3);
}

/** A number as the language writes it: full precision, `nan`, `inf`, `-inf`. */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return String(x);
}

/**
 * The language's spelling of a value: `[1, 2.5, "a"]`, `{k: 0.2}`, `true`, `none`. Strings are quoted
 * inside containers (`nested`), bare at the top level (print("a") prints a).
 */
export function formatValue(v: unknown, nested = false): string {
  if (v === null || v === undefined) return "none";
  if (typeof v === "string") return nested ? JSON.stringify(v) : v;
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (Array.isArray(v)) return `[${v.map((x) => formatValue(x, true)).join(", ")}]`;
  if (v instanceof Dict) {
    return `{${[...v.entries].map(([k, x]) => `${/^[A-Za-z_]\w*$/.test(k) ? k : JSON.stringify(k)}: ${formatValue(x, true)}`).join(", ")}}`;
  }
  if (v instanceof Table) return tableToText(v);
  const s = String(v);
  if (s !== "[object Object]") return s;
  if (isDisplayable(v)) {
    const t = v.toMimeBundle()["text/plain"];
    if (typeof t === "string") return t;
  }
  return `<${(v as object).constructor?.name ?? "value"}>`;
}

/** The quoted spelling (strings in quotes): a notebook cell's text/plain. */
export const repr = (v: unknown): string => formatValue(v, true);

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Bytes in SI units: `999 B`, `1.5 kB`, `25.0 MB`, `310 MB`; `decimals` fixes the digits after the point. */
export function formatBytes(n: number, decimals?: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  if (i === 0) return `${Math.round(n)} B`;
  const digits = decimals ?? (Math.abs(n) >= 100 ? 0 : 1);
  return `${n.toFixed(digits)} ${units[i]}`;
}

/**
 * A path as summaries, model cards and checkpoint metadata show it: relative to
 * the working directory (notebooks run in their own folder; nothing shown or
 * shared names this machine's folders). Labels that are not paths stay as they are.
 */
export function shownPath(p: string, cwd = process.cwd()): string {
  if (!path.isAbsolute(p)) return p;
  // outside cwd too: `../models/x` says where it is without naming this machine's folders
  return path.relative(cwd, p) || ".";
}

/**
 * A bundle whose text (text/plain, text/html) names paths under the working
 * directory relative to it: model summaries and plans name checkpoints by
 * absolute path, a notebook shows them from its own folder. Unchanged (the
 * same object) when nothing matches or the working directory is the root.
 */
export function withoutWorkingDir(bundle: MimeBundle, cwd = process.cwd()): MimeBundle {
  if (cwd === path.parse(cwd).root) return bundle;
  const prefix = cwd.endsWith(path.sep) ? cwd : cwd + path.sep;
  let out: MimeBundle | undefined;
  for (const mime of ["text/plain", "text/html"]) {
    const v = bundle[mime];
    if (typeof v === "string" && v.includes(prefix)) (out ??= { ...bundle })[mime] = v.split(prefix).join("");
  }
  return out ?? bundle;
}
