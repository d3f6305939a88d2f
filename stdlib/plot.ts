/**
 * Plots for notebooks, drawn by plotly.js: line, bar, scatter, heatmap and
 * histogram over results tables, lists of records, lists of numbers and
 * matrices (e.g. the task-vector cosine matrix from `cosine_matrix`).
 *
 *   plot(results, x="k", y="acc", kind="line", color="method", title="TIES: density sweep")
 *
 * From TypeScript: `plot.line(rows, {x: "k", y: "acc", color: "method"}).show()`
 * or `plot({data, kind: "heatmap"})`. A figure is ONE mime bundle:
 * `application/vnd.plotly.v1+json` ({data, layout} as an object) that front
 * ends with a plotly renderer draw interactively (JupyterLab, VS Code), a
 * static `image/svg+xml` of the same figure (stdlib/plot-svg.ts), `text/html`
 * showing that image (no script), and `text/plain`. plotly.js itself is not in
 * the bundle; core/plotly.ts embeds it on request (MERGELAB_PLOTLY=inline, the
 * demo's offline report).
 */
import { MergelabError } from "../core/errors.js";
import { PLOTLY_MIME } from "../core/plotly.js";
import { autoBins, figureToSvg, staticFigureHtml } from "./plot-svg.js";
import { displayValue } from "../core/display.js";
import { valueToMimeBundle } from "../core/present.js";
import { type Args, type CallContext, type FunctionSpec } from "./spec.js";
import { Dict, Table, type MimeBundle, type Value } from "../core/values.js";

export const PLOT_KINDS = ["line", "bar", "scatter", "heatmap", "histogram"] as const;
export type PlotKind = (typeof PLOT_KINDS)[number];

/** What can be plotted: a table, a list of records, a list of numbers, a matrix. */
export type PlotData = Table | ReadonlyArray<Record<string, unknown> | Dict> | readonly number[] | readonly (readonly number[])[];

export interface PlotOptions {
  /** Column for the x axis (default: the first column). */
  x?: string;
  /** Column(s) for the y axis (default: the first numeric column that is not x or color). */
  y?: string | string[];
  /** Heatmap value column of a long table (one row per x, y pair). */
  z?: string;
  /** Column whose values split the rows into traces (one line, bar group or colour each). */
  color?: string;
  title?: string;
  xlabel?: string;
  ylabel?: string;
  /** Histogram bin count (plotly chooses when absent). */
  bins?: number;
  /** Heatmap axis labels for a plain matrix (rows and columns alike). */
  labels?: string[];
  /** Log-scale axes. */
  logx?: boolean;
  logy?: boolean;
  /**
   * Error bars: a column of ± sizes, or "std" | "sem" | "ci95" to aggregate
   * repeated rows (same x and colour, e.g. seeds) into their mean ± that spread.
   */
  err?: string;
  /** Draw the error as a shaded band around the line instead of bars. */
  band?: boolean;
  /** Horizontal reference lines: a value, values, or {label: value} (e.g. the base's and multitask scores). */
  ref?: number | number[] | Record<string, number>;
  /** Heatmap: let a square matrix's diagonal set the colour scale (default: off-diagonal values do; cos(a, a) = 1 would swamp it). */
  diagonal?: boolean;
}

export interface PlotSpec extends PlotOptions {
  data: PlotData;
  kind?: PlotKind;
}

type Trace = Record<string, unknown>;

/** A plotly figure. */
export class Figure {
  constructor(
    readonly data: Trace[],
    readonly layout: Record<string, unknown>,
    private readonly summary: string,
  ) {}

  toJSON(): { data: Trace[]; layout: Record<string, unknown> } {
    return { data: this.data, layout: this.layout };
  }

  /** The static SVG (stdlib/plot-svg.ts): what viewers without JavaScript show. */
  toSvg(): string {
    return figureToSvg(this.toJSON());
  }

  toMimeBundle(): MimeBundle {
    const svg = this.toSvg();
    return { [PLOTLY_MIME]: this.toJSON(), "image/svg+xml": svg, "text/html": staticFigureHtml(svg, this.summary), "text/plain": this.summary };
  }

  /** Display now (in tslab notebooks; plain-text summary elsewhere). */
  show(): void {
    displayValue(this);
  }

  toString(): string {
    return this.summary;
  }
}

// ---------------------------------------------------------------- data shapes

function isNumberList(d: unknown): d is number[] {
  return Array.isArray(d) && d.every((v) => typeof v === "number");
}

function isMatrix(d: unknown): d is number[][] {
  return Array.isArray(d) && d.length > 0 && d.every(isNumberList);
}

/** A list of records (language dicts or TS objects) as a table; columns in first-seen order. */
export function recordsToTable(rows: ReadonlyArray<Record<string, unknown> | Dict>): Table {
  const maps = rows.map((r) => (r instanceof Dict ? r.entries : new Map(Object.entries(r))));
  const columns: string[] = [];
  for (const m of maps) for (const k of m.keys()) if (!columns.includes(k)) columns.push(k);
  return new Table(columns, maps.map((m) => columns.map((c) => (m.has(c) ? (m.get(c) as Value) : null))));
}

function asTable(data: PlotData): Table {
  if (data instanceof Table) return data;
  if (Array.isArray(data) && data.every((r) => r instanceof Dict || (typeof r === "object" && r !== null && !Array.isArray(r)))) {
    return recordsToTable(data as Array<Record<string, unknown> | Dict>);
  }
  throw new MergelabError("plot: data must be a table, a list of records, a list of numbers or a matrix (list of lists of numbers)", { param: "data" });
}

function column(table: Table, name: string, param: string): Value[] {
  const j = table.columns.indexOf(name);
  if (j < 0) {
    throw new MergelabError(`plot: the table has no column '${name}' (columns: ${table.columns.join(", ")})`, { param });
  }
  return table.rows.map((r) => r[j]);
}

function numericColumn(table: Table, name: string, param: string): number[] {
  return column(table, name, param).map((v, i) => {
    if (typeof v === "number") return v;
    if (v === null) return NaN;
    throw new MergelabError(`plot: column '${name}' must hold numbers (row ${i + 1} is ${JSON.stringify(v)})`, { param });
  });
}

function label(v: Value): string | number {
  return typeof v === "number" || typeof v === "string" ? v : String(v);
}

/** Rows split by the values of the `color` column, in first-seen order (one group when absent). */
function groups(table: Table, color: string | undefined): Array<{ name: string | undefined; rows: number[] }> {
  if (!color) return [{ name: undefined, rows: table.rows.map((_, i) => i) }];
  const keys = column(table, color, "color");
  const out = new Map<string, number[]>();
  keys.forEach((k, i) => {
    const name = String(label(k));
    out.set(name, [...(out.get(name) ?? []), i]);
  });
  return [...out].map(([name, rows]) => ({ name, rows }));
}

function defaultY(table: Table, exclude: Array<string | undefined>): string {
  const y = table.columns.find((c, j) => !exclude.includes(c) && table.rows.length > 0 && table.rows.every((r) => typeof r[j] === "number" || r[j] === null));
  if (!y) throw new MergelabError("plot: no numeric column to plot; name one with y=", { param: "y" });
  return y;
}

/** JSON has no NaN: missing values become null (a gap in plotly). */
const finite = (xs: Array<number | string>) => xs.map((v) => (typeof v === "number" && !Number.isFinite(v) ? null : v));

// ---------------------------------------------------------------- figures

function layoutOf(o: PlotOptions, xTitle: string | undefined, yTitle: string | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: o.title ? { text: o.title } : undefined,
    xaxis: { title: { text: o.xlabel ?? xTitle ?? "" }, automargin: true, ...(o.logx ? { type: "log" } : {}) },
    yaxis: { title: { text: o.ylabel ?? yTitle ?? "" }, automargin: true, ...(o.logy ? { type: "log" } : {}) },
    ...referenceLines(o.ref),
    legend: o.color ? { title: { text: o.color } } : undefined,
    height: 420,
    margin: { t: o.title ? 60 : 30, r: 20, b: 50, l: 60 },
    template: { layout: { plot_bgcolor: "#f7f7f9", paper_bgcolor: "#ffffff", colorway: COLORWAY } },
    ...extra,
  };
}

/** Horizontal dashed lines across the plot at given y values, labelled at the right end. */
function referenceLines(ref: PlotOptions["ref"]): Record<string, unknown> {
  if (ref === undefined) return {};
  const lines: Array<[string | undefined, number]> =
    typeof ref === "number" ? [[undefined, ref]] : Array.isArray(ref) ? ref.map((v) => [undefined, v]) : Object.entries(ref);
  for (const [name, v] of lines) {
    if (typeof v !== "number" || !Number.isFinite(v)) throw new MergelabError(`plot: reference line ${name ? `'${name}' ` : ""}must be a finite number, got ${JSON.stringify(v)}`, { param: "ref" });
  }
  return {
    shapes: lines.map(([, v]) => ({ type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: v, y1: v, line: { color: "#555555", width: 1.5, dash: "dash" } })),
    annotations: lines.filter(([name]) => name).map(([name, v]) => ({ xref: "paper", x: 1, yref: "y", y: v, text: name, showarrow: false, xanchor: "right", yanchor: "bottom", font: { color: "#555555" } })),
  };
}

// A colour-blind-safe qualitative palette (Okabe–Ito).
const COLORWAY = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];

function xyFigure(kind: "line" | "bar" | "scatter", data: PlotData, o: PlotOptions): Figure {
  if (isNumberList(data)) {
    const trace = xyTrace(kind, data.map((_, i) => i), data, undefined);
    return new Figure([trace], layoutOf(o, "index", "value"), `Figure: ${kind} plot of ${data.length} values`);
  }
  let table = asTable(data);
  const x = o.x ?? table.columns[0];
  const ys = o.y === undefined ? [defaultY(table, [x, o.color, o.err])] : Array.isArray(o.y) ? o.y : [o.y];
  let errColumn: string | undefined = o.err;
  if (o.err !== undefined && SPREADS.includes(o.err as Spread)) {
    if (ys.length > 1) throw new MergelabError(`plot: err="${o.err}" aggregates one y column; plot several separately`, { param: "err" });
    table = aggregate(table, x, ys[0], o.color, o.err as Spread);
    errColumn = `${ys[0]}_${o.err}`;
  }
  const xs = column(table, x, "x").map(label);
  const ev = errColumn === undefined ? undefined : numericColumn(table, errColumn, "err");
  const traces: Trace[] = [];
  for (const y of ys) {
    const yv = numericColumn(table, y, "y");
    for (const g of groups(table, o.color)) {
      let rows = g.rows;
      // A line joins points in x order (sweeps are not always collected in order).
      if (kind === "line" && rows.every((i) => typeof xs[i] === "number")) rows = [...rows].sort((a, b) => (xs[a] as number) - (xs[b] as number));
      const name = ys.length > 1 ? (g.name === undefined ? y : `${g.name} · ${y}`) : g.name;
      const color = COLORWAY[traces.filter((t) => !t._band).length % COLORWAY.length];
      const errs = ev ? rows.map((i) => ev[i]) : undefined;
      if (errs && o.band && kind !== "bar") {
        const lo = rows.map((i, k) => yv[i] - errs[k]);
        const hi = rows.map((i, k) => yv[i] + errs[k]);
        const px = finite(rows.map((i) => xs[i]));
        traces.push({ type: "scatter", mode: "lines", x: px, y: finite(lo), line: { width: 0, color }, showlegend: false, hoverinfo: "skip", _band: true });
        traces.push({ type: "scatter", mode: "lines", x: px, y: finite(hi), line: { width: 0, color }, fill: "tonexty", fillcolor: translucent(color), showlegend: false, hoverinfo: "skip", _band: true });
      }
      const trace = xyTrace(kind, rows.map((i) => xs[i]), rows.map((i) => yv[i]), name);
      if (errs && !(o.band && kind !== "bar")) trace.error_y = { type: "data", array: finite(errs), visible: true };
      if (o.err !== undefined) (trace as Record<string, unknown>)[kind === "bar" ? "marker" : "line"] = { color };
      if (o.err !== undefined && kind !== "bar") trace.marker = { color };
      traces.push(trace);
    }
  }
  for (const t of traces) delete t._band;
  const layout = layoutOf(o, x, ys.length === 1 ? ys[0] : undefined, kind === "bar" ? { barmode: "group" } : {});
  if (o.err !== undefined && SPREADS.includes(o.err as Spread)) {
    (layout.yaxis as Record<string, unknown>).title = { text: o.ylabel ?? `${ys[0]} (mean ± ${o.err})` };
  }
  const by = o.color ? ` by ${o.color}` : "";
  return new Figure(traces, layout, `Figure: ${kind} plot of ${ys.join(", ")} vs ${x}${by} (${traces.length} trace${traces.length === 1 ? "" : "s"})`);
}

const SPREADS = ["std", "sem", "ci95"] as const;
type Spread = (typeof SPREADS)[number];

/**
 * Repeated measurements (rows with the same x and colour, e.g. seeds) as one
 * row each: the mean of y and its spread — the sample standard deviation
 * (n − 1), the standard error std/√n, or the half-width of a 95% confidence
 * interval t(0.975, n − 1)·std/√n. A single measurement has spread 0.
 */
export function aggregate(table: Table, x: string, y: string, color: string | undefined, spread: Spread): Table {
  const xv = column(table, x, "x");
  const yv = numericColumn(table, y, "y");
  const cv = color ? column(table, color, "color") : undefined;
  const cells = new Map<string, { x: Value; c: Value; ys: number[] }>();
  xv.forEach((xx, i) => {
    const key = JSON.stringify([xx, cv?.[i] ?? null]);
    const cell = cells.get(key) ?? { x: xx, c: cv?.[i] ?? null, ys: [] };
    if (Number.isFinite(yv[i])) cell.ys.push(yv[i]);
    cells.set(key, cell);
  });
  const rows = [...cells.values()].map(({ x: xx, c, ys }) => {
    const n = ys.length;
    const mean = n ? ys.reduce((a, b) => a + b, 0) / n : NaN;
    const sd = n > 1 ? Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
    const e = spread === "std" ? sd : spread === "sem" ? sd / Math.sqrt(Math.max(n, 1)) : (tQuantile975(n - 1) * sd) / Math.sqrt(Math.max(n, 1));
    return color ? [xx, c, mean, e, n] : [xx, mean, e, n];
  });
  return new Table(color ? [x, color, y, `${y}_${spread}`, "n"] : [x, y, `${y}_${spread}`, "n"], rows as Value[][]);
}

/** Student's t 0.975 quantile for df degrees of freedom (table to 30, then the normal 1.96 with a 1/df correction). */
function tQuantile975(df: number): number {
  const T = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];
  if (df < 1) return 0;
  return df <= 30 ? T[df] : 1.96 + 2.4 / df;
}

function translucent(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},0.2)`;
}

function xyTrace(kind: "line" | "bar" | "scatter", x: Array<number | string>, y: number[], name: string | undefined): Trace {
  const base = { x: finite(x), y: finite(y), name, showlegend: name !== undefined };
  if (kind === "bar") return { type: "bar", ...base };
  return { type: "scatter", mode: kind === "line" ? "lines+markers" : "markers", ...base };
}

function histogramFigure(data: PlotData, o: PlotOptions): Figure {
  // Explicit bins, one set for every trace of the figure: groups compare bar for bar,
  // and plotly and the static SVG draw the same bars.
  const binsOf = (values: number[]) => ({ xbins: autoBins(values, o.bins), autobinx: false });
  if (isNumberList(data)) {
    const fig = [{ type: "histogram", x: finite(data), ...binsOf(data) }];
    return new Figure(fig, layoutOf(o, "value", "count"), `Figure: histogram of ${data.length} values`);
  }
  const table = asTable(data);
  const x = o.x ?? (typeof o.y === "string" ? o.y : defaultY(table, [o.color]));
  const xv = numericColumn(table, x, "x");
  const bins = binsOf(xv);
  const traces = groups(table, o.color).map((g) => ({
    type: "histogram",
    x: finite(g.rows.map((i) => xv[i])),
    name: g.name,
    showlegend: g.name !== undefined,
    opacity: o.color ? 0.6 : 1,
    ...bins,
  }));
  return new Figure(traces, layoutOf(o, x, "count", o.color ? { barmode: "overlay" } : {}), `Figure: histogram of ${x} (${table.rows.length} values)`);
}

function heatmapFigure(data: PlotData, o: PlotOptions): Figure {
  const m = heatmapMatrix(data, o);
  const n = m.z.length * (m.z[0]?.length ?? 0);
  // A square matrix with the same labels on both axes (cosines, sign conflicts) has a trivial diagonal
  // (cos(a, a) = 1): unless diagonal=true, the off-diagonal values set the colour scale and the diagonal
  // saturates it, so small differences between pairs stay visible.
  const square = m.z.length > 1 && m.x.length === m.y.length && m.x.every((v, i) => String(v) === String(m.y[i]));
  const offDiagonal = square && o.diagonal !== true;
  const flat = m.z.flatMap((r, i) => r.filter((v, j) => Number.isFinite(v) && !(offDiagonal && i === j)));
  // Signed data (cosines, sign agreement) gets a diverging scale centred on 0.
  const signed = flat.some((v) => v < 0);
  const top = flat.length ? Math.max(...flat.map(Math.abs)) : 1;
  const range = !offDiagonal || flat.length === 0 ? {} : signed ? { zmin: -top, zmax: top } : { zmin: Math.min(...flat), zmax: Math.max(...flat) };
  const trace: Trace = {
    type: "heatmap",
    z: m.z.map((r) => finite(r)),
    x: m.x,
    y: m.y,
    colorscale: signed ? "RdBu" : "Viridis",
    ...(signed ? { zmid: 0, reversescale: true } : {}),
    ...range,
    ...(n <= 144 ? { texttemplate: "%{z:.3g}", hoverongaps: false } : {}),
  };
  const layout = layoutOf(o, m.xTitle, m.yTitle, { yaxis: { title: { text: o.ylabel ?? m.yTitle ?? "" }, autorange: "reversed", automargin: true } });
  return new Figure([trace], layout, `Figure: heatmap ${m.z.length}×${m.z[0]?.length ?? 0}${o.title ? ` — ${o.title}` : ""}`);
}

interface Matrix {
  z: number[][];
  x: Array<string | number>;
  y: Array<string | number>;
  xTitle?: string;
  yTitle?: string;
}

function heatmapMatrix(data: PlotData, o: PlotOptions): Matrix {
  if (isMatrix(data)) {
    const cols = data[0].length;
    if (data.some((r) => r.length !== cols)) throw new MergelabError("plot: heatmap rows must all have the same length", { param: "data" });
    const labels = o.labels ?? data[0].map((_, j) => String(j));
    return { z: data.map((r) => [...r]), x: labels.slice(0, cols), y: (o.labels ?? data.map((_, i) => String(i))).slice(0, data.length) };
  }
  const table = asTable(data);
  if (o.z !== undefined) return pivot(table, o.x ?? table.columns[0], typeof o.y === "string" ? o.y : table.columns[1], o.z);
  // A matrix table: an optional first column of row labels, then one numeric column per matrix column.
  const labelled = table.rows.some((r) => typeof r[0] === "string");
  const valueColumns = labelled ? table.columns.slice(1) : table.columns;
  const z = table.rows.map((r) => (labelled ? r.slice(1) : r).map((v, j) => {
    if (typeof v === "number") return v;
    if (v === null) return NaN;
    throw new MergelabError(`plot: heatmap column '${valueColumns[j]}' must hold numbers`, { param: "data" });
  }));
  return { z, x: valueColumns, y: labelled ? table.rows.map((r) => String(r[0])) : valueColumns.slice(0, z.length), xTitle: labelled ? table.columns[0] : undefined, yTitle: labelled ? table.columns[0] : undefined };
}

/** A long table (x, y, z per row) as a matrix: rows are y values, columns x values, in first-seen order. */
function pivot(table: Table, x: string, y: string, z: string): Matrix {
  const xv = column(table, x, "x").map(label);
  const yv = column(table, y, "y").map(label);
  const zv = numericColumn(table, z, "z");
  const xs = [...new Set(xv)];
  const ys = [...new Set(yv)];
  const m = ys.map(() => xs.map(() => NaN));
  zv.forEach((v, i) => (m[ys.indexOf(yv[i])][xs.indexOf(xv[i])] = v));
  return { z: m, x: xs, y: ys, xTitle: x, yTitle: y };
}

/** One figure from a spec (the language's `plot(...)` and the TypeScript `plot(spec)`). */
function makeFigure(spec: PlotSpec): Figure {
  const kind = spec.kind ?? "line";
  switch (kind) {
    case "line":
    case "bar":
    case "scatter":
      return xyFigure(kind, spec.data, spec);
    case "histogram":
      return histogramFigure(spec.data, spec);
    case "heatmap":
      return heatmapFigure(spec.data, spec);
    default:
      throw new MergelabError(`plot: unknown kind '${String(kind)}' (expected ${PLOT_KINDS.join(", ")})`, { param: "kind" });
  }
}

/** The TypeScript API: `plot(spec)`, or `plot.line(data, options)` and friends. */
export const plot = Object.assign(makeFigure, {
  line: (data: PlotData, o: PlotOptions = {}) => makeFigure({ ...o, data, kind: "line" }),
  bar: (data: PlotData, o: PlotOptions = {}) => makeFigure({ ...o, data, kind: "bar" }),
  scatter: (data: PlotData, o: PlotOptions = {}) => makeFigure({ ...o, data, kind: "scatter" }),
  heatmap: (data: PlotData, o: PlotOptions = {}) => makeFigure({ ...o, data, kind: "heatmap" }),
  histogram: (data: PlotData, o: PlotOptions = {}) => makeFigure({ ...o, data, kind: "histogram" }),
});

// ---------------------------------------------------------------- language specs

const str = (v: Value | undefined) => (typeof v === "string" ? v : undefined);

/** ref= as numbers; in a check a reference computed from data (a NaN placeholder) is unknown, not wrong. */
function refArg(ref: Value | undefined, dryRun: boolean): PlotOptions["ref"] {
  if (ref === undefined || ref === null) return undefined;
  const known = (v: Value | undefined) => (dryRun && typeof v === "number" && !Number.isFinite(v) ? 0 : v);
  if (ref instanceof Dict) return Object.fromEntries([...ref.entries].map(([k, v]) => [k, known(v)])) as Record<string, number>;
  return (Array.isArray(ref) ? ref.map(known) : known(ref)) as number | number[];
}

function isUnknownData(d: Value | undefined): boolean {
  if (d instanceof Table) return d.rows.length === 0;
  return Array.isArray(d) && d.length === 0;
}

const plotSpec: FunctionSpec = {
  name: "plot",
  category: "plot",
  doc:
    "Draw a figure (plotly.js) from a results table, a list of records, a list of numbers (histogram) or a matrix " +
    "(heatmap, e.g. cosine_matrix(...)). Rows split into one trace per value of `color`. A figure is the cell's " +
    "result when it is the last expression; display(fig) shows one mid-cell.",
  example: 'plot(results, x="k", y="acc", kind="line", color="method", title="density sweep")',
  params: [
    { name: "data", type: ["table", "list"], required: true, data: true, doc: "a table, a list of records, a list of numbers, or a list of lists of numbers" },
    { name: "x", type: "string", doc: "column for the x axis (default: the first column)" },
    { name: "y", type: ["string", "list"], doc: "column(s) for the y axis (default: the first numeric column)" },
    { name: "kind", type: "string", default: "line", choices: [...PLOT_KINDS], doc: "line, bar, scatter, heatmap or histogram" },
    { name: "color", type: "string", doc: "column whose values split rows into traces" },
    { name: "z", type: "string", doc: "heatmap value column of a long table (x, y, z per row)" },
    { name: "title", type: "string", doc: "figure title" },
    { name: "xlabel", type: "string", doc: "x axis title (default: the x column)" },
    { name: "ylabel", type: "string", doc: "y axis title (default: the y column)" },
    { name: "bins", type: "int", range: { min: 1 }, doc: "histogram bin count (about: bins snap to 1-2-5 widths, shared by every group)" },
    { name: "logx", type: "bool", default: false, doc: "log-scale x axis" },
    { name: "logy", type: "bool", default: false, doc: "log-scale y axis" },
    { name: "err", type: "string", doc: 'error bars: a column of ± sizes, or "std" | "sem" | "ci95" to average repeated rows (same x and color, e.g. seeds)' },
    { name: "band", type: "bool", default: false, doc: "draw err as a shaded band around the line" },
    { name: "ref", type: ["number", "list", "dict"], doc: 'horizontal reference lines: a value, values, or {"base": 0.61, "multitask": 0.83}' },
    { name: "diagonal", type: "bool", default: false, doc: "heatmap: let a square matrix's diagonal set the colour scale" },
  ],
  returns: "any",
  call(args: Args, ctx: CallContext): Figure {
    const y = args.y;
    // A check (dry run) cannot know the rows or columns of data read from checkpoints or results:
    // an empty table or list there is unknown, not wrong, so no column is looked up.
    if (ctx.dryRun && isUnknownData(args.data)) return new Figure([], {}, "Figure (checked without data)");
    const ref = args.ref;
    return makeFigure({
      data: args.data as PlotData,
      kind: (str(args.kind) ?? "line") as PlotKind,
      x: str(args.x),
      y: Array.isArray(y) ? y.map(String) : str(y),
      z: str(args.z),
      color: str(args.color),
      title: str(args.title),
      xlabel: str(args.xlabel),
      ylabel: str(args.ylabel),
      bins: typeof args.bins === "number" ? args.bins : undefined,
      logx: args.logx === true,
      logy: args.logy === true,
      err: str(args.err),
      band: args.band === true,
      ref: refArg(ref, ctx.dryRun),
      diagonal: args.diagonal === true,
    });
  },
};

const displaySpec: FunctionSpec = {
  name: "display",
  category: "plot",
  doc: "Show a value now — a figure, a table, a model summary, a plan — rather than only a cell's last expression.",
  example: 'display(plot(results, x="k", y="acc"))',
  params: [{ name: "value", type: "any", required: true, doc: "the value to show" }],
  returns: "any",
  call(args: Args, ctx: CallContext): null {
    ctx.display(valueToMimeBundle(args.value));
    return null;
  },
};

export const specs: FunctionSpec[] = [plotSpec, displaySpec];
