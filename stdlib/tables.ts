/**
 * Tables out and in: results saved for a paper's plotting script or a
 * spreadsheet, and read back (or read from someone else's CSV).
 *
 *   save_table(results, "results/sweep.csv")      # or .json
 *   old = load_table("results/sweep.csv")
 *
 * CSV is RFC 4180: a header row, fields quoted when they hold a comma, a
 * quote or a line break, "\n" line ends, numbers in JavaScript's shortest
 * round-trip form (so a number reads back to the same double), `none` and NaN
 * as empty fields. JSON is an array of records (pandas' `orient="records"`),
 * NaN and ±Inf as null. Reading a CSV, a column whose every non-empty field
 * is a number becomes numbers, "true"/"false" columns booleans, empty fields
 * `none`. Writes go to a temporary sibling and are renamed into place.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import { Dict, Table, UNKNOWN, type Value } from "../core/values.js";
import type { Args, CallContext, FunctionSpec } from "./spec.js";

export type TableFormat = "csv" | "json";

export function formatOf(file: string, given?: string): TableFormat {
  const f = (given ?? path.extname(file).slice(1)).toLowerCase();
  if (f === "csv" || f === "json") return f;
  throw new MergelabError(`cannot tell the table format of '${file}': name it .csv or .json, or pass format="csv" | "json"`, { param: given ? "format" : "path" });
}

// ---------------------------------------------------------------- CSV

function csvField(v: Value | undefined): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? "" : v > 0 ? "inf" : "-inf";
  const s = typeof v === "string" ? v : typeof v === "boolean" ? String(v) : JSON.stringify(v instanceof Dict ? Object.fromEntries(v.entries) : v);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

export function tableToCsv(t: Table): string {
  return [t.columns, ...t.rows].map((r) => (r as Value[]).map(csvField).join(",")).join("\n") + "\n";
}

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. */
export function parseCsv(text: string, file = "<csv>"): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let line = 1;
  let quoted = false;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  while (i < src.length) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        if (i < src.length && !",\r\n".includes(src[i])) throw new MergelabError(`${file}:${line}: a quoted field must end at a comma or a line end`);
        continue;
      }
      if (c === "\n") line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === "") {
      quoted = true;
      i++;
    } else if (c === ",") {
      row.push(field);
      field = "";
      i++;
    } else if (c === "\r" || c === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i += c === "\r" && src[i + 1] === "\n" ? 2 : 1;
      line++;
    } else {
      field += c;
      i++;
    }
  }
  if (quoted) throw new MergelabError(`${file}:${line}: a quoted field is not closed`);
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;

function toNumber(s: string): number {
  const l = s.toLowerCase().replace(/^\+/, "");
  if (l === "nan") return NaN;
  if (l === "inf" || l === "infinity") return Infinity;
  if (l === "-inf" || l === "-infinity") return -Infinity;
  return Number(s);
}

export function csvToTable(text: string, file = "<csv>"): Table {
  const rows = parseCsv(text, file);
  if (rows.length === 0) throw new MergelabError(`${file}: empty CSV (a header row is needed)`);
  const [header, ...body] = rows;
  body.forEach((r, k) => {
    if (r.length !== header.length) throw new MergelabError(`${file}:${k + 2}: ${r.length} fields, the header has ${header.length}`);
  });
  const kinds = header.map((_, j) => {
    const present = body.map((r) => r[j]).filter((v) => v !== "");
    if (present.length > 0 && present.every((v) => NUMBER.test(v.trim()))) return "number";
    if (present.length > 0 && present.every((v) => v === "true" || v === "false")) return "bool";
    return "string";
  });
  return new Table(
    header,
    body.map((r) =>
      r.map((v, j): Value => {
        if (v === "") return null;
        if (kinds[j] === "number") return toNumber(v.trim());
        if (kinds[j] === "bool") return v === "true";
        return v;
      }),
    ),
  );
}

// ---------------------------------------------------------------- JSON

function jsonValue(v: Value | undefined): unknown {
  if (v === undefined) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v instanceof Dict) return Object.fromEntries([...v.entries].map(([k, x]) => [k, jsonValue(x)]));
  if (v instanceof Table) return tableToRecords(v);
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  return String(v);
}

function tableToRecords(t: Table): Array<Record<string, unknown>> {
  return t.rows.map((r) => Object.fromEntries(t.columns.map((c, j) => [c, jsonValue(r[j])])));
}

export function tableToJson(t: Table): string {
  return JSON.stringify(tableToRecords(t), null, 1) + "\n";
}

function fromJson(v: unknown): Value {
  if (v === null || typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map(fromJson);
  return new Dict(new Map(Object.entries(v as object).map(([k, x]) => [k, fromJson(x)])));
}

/** An array of records, or {columns, rows} (also pandas' orient="split" with `data`). */
export function jsonToTable(text: string, file = "<json>"): Table {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new MergelabError(`${file}: not JSON (${(e as Error).message})`);
  }
  if (Array.isArray(data) && data.every((r) => r !== null && typeof r === "object" && !Array.isArray(r))) {
    const columns: string[] = [];
    for (const r of data) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
    return new Table(columns, data.map((r) => columns.map((c) => (c in r ? fromJson((r as Record<string, unknown>)[c]) : null))));
  }
  const o = data as { columns?: unknown; rows?: unknown; data?: unknown };
  const rows = o && typeof o === "object" ? o.rows ?? o.data : undefined;
  if (o && Array.isArray(o.columns) && Array.isArray(rows) && rows.every((r) => Array.isArray(r) && r.length === (o.columns as unknown[]).length)) {
    return new Table(o.columns.map(String), (rows as unknown[][]).map((r) => r.map(fromJson)));
  }
  throw new MergelabError(`${file}: expected an array of records ([{"k": 0.1, "acc": 0.8}, …]) or {"columns": [...], "rows": [[...], …]}`);
}

// ---------------------------------------------------------------- files

/** Write atomically: a temporary sibling, then a rename (no half-written results file). */
export function saveTable(t: Table, file: string, format: TableFormat = formatOf(file)): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, format === "csv" ? tableToCsv(t) : tableToJson(t));
  fs.renameSync(tmp, file);
}

export function loadTable(file: string, format: TableFormat = formatOf(file)): Table {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new MergelabError(`cannot read table '${file}': ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`, { param: "path" });
  }
  return format === "csv" ? csvToTable(text, file) : jsonToTable(text, file);
}

// ---------------------------------------------------------------- language specs

function asTable(v: Value | undefined): Table {
  if (v instanceof Table) return v;
  if (Array.isArray(v) && v.every((r) => r instanceof Dict)) {
    const maps = (v as Dict[]).map((d) => d.entries);
    const columns: string[] = [];
    for (const m of maps) for (const k of m.keys()) if (!columns.includes(k)) columns.push(k);
    return new Table(columns, maps.map((m) => columns.map((c) => (m.has(c) ? (m.get(c) as Value) : null))));
  }
  throw new MergelabError("save_table: expected a table or a list of records", { param: "table" });
}

const saveTableSpec: FunctionSpec = {
  name: "save_table",
  category: "io",
  doc:
    "Write a table (or a list of records) to a .csv (RFC 4180, numbers that read back exactly) or .json file " +
    "(an array of records). Relative paths resolve against the script's or notebook's folder; the file appears " +
    "whole or not at all. Returns the path. Writes nothing in a check (dry run).",
  example: 'save_table(results, "results/sweep.csv")',
  params: [
    { name: "table", type: ["table", "list"], required: true, data: true, doc: "a table, or a list of records" },
    { name: "path", type: "string", required: true, doc: "where: ends in .csv or .json (or give format=)" },
    { name: "format", type: "string", choices: ["csv", "json"], doc: "csv or json (default: from the file name)" },
  ],
  returns: "string",
  call(args: Args, ctx: CallContext): string {
    const file = String(args.path);
    const format = formatOf(file, args.format as string | undefined);
    const t = asTable(args.table);
    if (!ctx.dryRun) saveTable(t, path.resolve(ctx.cwd, file), format);
    return file;
  },
};

const loadTableSpec: FunctionSpec = {
  name: "load_table",
  category: "io",
  doc:
    "Read a table from a .csv (header row; numeric columns become numbers, true/false booleans, empty fields none) " +
    "or .json file (an array of records, or {columns, rows}).",
  example: 'old = load_table("results/sweep.csv")',
  params: [
    { name: "path", type: "string", required: true, doc: "a .csv or .json file" },
    { name: "format", type: "string", choices: ["csv", "json"], doc: "csv or json (default: from the file name)" },
  ],
  returns: "table",
  call(args: Args, ctx: CallContext): Value {
    const file = String(args.path);
    const format = formatOf(file, args.format as string | undefined);
    const resolved = path.resolve(ctx.cwd, file);
    // a check writes nothing, so a table the script saves earlier is not there yet: unknown, not an error
    if (ctx.dryRun && !fs.existsSync(resolved)) return UNKNOWN;
    return loadTable(resolved, format);
  },
};

export const specs: FunctionSpec[] = [saveTableSpec, loadTableSpec];
