/**
 * Runtime values owned by the language: user functions (Closure), references
 * to registered functions (FunctionRef), and the error value (POISON) a
 * failed expression evaluates to in check mode so that one mistake is
 * reported once, not again at every use.
 */
import type { FunctionSpec, MimeBundle, Value } from "../stdlib/spec.js";
import { Dict, Table } from "../stdlib/spec.js";
import { isModel } from "../kernel/engine/model.js";
import { isSchedule } from "../kernel/engine/schedule.js";
import type { Param, Stmt } from "./ast.js";

/** The value of an expression that already produced a diagnostic. Operations on it yield it silently. */
class ErrorValue {
  toString(): string {
    return "<error>";
  }
}
export const POISON: Value = Object.freeze(new ErrorValue());
export const isPoison = (v: unknown): boolean => v === POISON;

/** Calls a closure (set by the interpreter that created it). */
export type Invoker = (fn: Closure, positional: Value[], keywords: Record<string, Value>) => Promise<Value>;

/** A user-defined function: `def name(params) = body`. Captures the scope it was defined in. */
export class Closure {
  constructor(
    readonly name: string,
    readonly params: readonly Param[],
    readonly body: readonly Stmt[],
    readonly scope: unknown,
    readonly source: string,
    private readonly invoker: Invoker,
  ) {}
  /** Call from TypeScript (e.g. a spec taking a `function` argument). */
  call(positional: Value[], keywords: Record<string, Value> = {}): Promise<Value> {
    return this.invoker(this, positional, keywords);
  }
  signature(): string {
    return `${this.name}(${this.params.map((p) => p.name + (p.default ? "=…" : "")).join(", ")})`;
  }
  toString(): string {
    return `<function ${this.signature()}>`;
  }
  toMimeBundle(): MimeBundle {
    return { "text/plain": this.toString() };
  }
}

/** A registered function used as a value (`f = ties`). */
export class FunctionRef {
  constructor(readonly spec: FunctionSpec) {}
  toString(): string {
    return `<function ${this.spec.name}>`;
  }
  toMimeBundle(): MimeBundle {
    return { "text/plain": this.toString() };
  }
}

export const isFunction = (v: unknown): v is Closure | FunctionRef => v instanceof Closure || v instanceof FunctionRef;

/** The user-facing type name of a value, for messages. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return "none";
  if (typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "list";
  if (v instanceof Dict) return "dict";
  if (v instanceof Table) return "table";
  if (isModel(v)) return "model";
  if (isSchedule(v)) return "schedule";
  if (isFunction(v)) return "function";
  const ctor = (v as object).constructor?.name;
  return ctor ? ctor.toLowerCase() : "object";
}

/** `a number`, `an int`, `a list of 3`... */
export function describeValue(v: unknown): string {
  const t = typeName(v);
  if (typeof v === "string") return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)})`;
  if (typeof v === "number") return `a number (${v})`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

/** Text shown by print() and as a notebook cell's text/plain. */
export function formatValue(v: unknown, nested = false): string {
  if (v === null || v === undefined) return "none";
  if (typeof v === "string") return nested ? JSON.stringify(v) : v;
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (Array.isArray(v)) return `[${v.map((x) => formatValue(x, true)).join(", ")}]`;
  if (v instanceof Dict) {
    return `{${[...v.entries].map(([k, x]) => `${/^[A-Za-z_]\w*$/.test(k) ? k : JSON.stringify(k)}: ${formatValue(x, true)}`).join(", ")}}`;
  }
  if (v instanceof Table) return formatTable(v);
  if (v === POISON) return "<error>";
  return String(v);
}

export function formatNumber(x: number): string {
  if (Number.isInteger(x) || !Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x === Infinity ? "inf" : x === -Infinity ? "-inf" : String(x);
  return String(x);
}

export function formatTable(t: Table): string {
  const cells = [t.columns, ...t.rows.map((r) => r.map((c) => formatValue(c, false)))];
  const widths = t.columns.map((_, j) => Math.max(...cells.map((r) => String(r[j] ?? "").length)));
  const line = (r: unknown[]) => r.map((c, j) => String(c ?? "").padEnd(widths[j]!)).join("  ").trimEnd();
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/**
 * What a notebook shows for a value: its own bundle when it has one (models,
 * plans, figures, schedules), an HTML table for tables, else the text form.
 */
export function displayValue(v: unknown): MimeBundle {
  if (v instanceof Table) {
    const head = `<tr>${v.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr>`;
    const rows = v.rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(formatValue(c))}</td>`).join("")}</tr>`).join("");
    return { "text/plain": formatTable(v), "text/html": `<table class="mergelab-table">${head}${rows}</table>` };
  }
  if (typeof v === "object" && v !== null && typeof (v as { toMimeBundle?: unknown }).toMimeBundle === "function") {
    return (v as { toMimeBundle(): MimeBundle }).toMimeBundle();
  }
  return { "text/plain": formatValue(v) };
}
