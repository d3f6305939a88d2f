/**
 * A static SVG of a plotly figure, made in-process without a browser: the
 * fallback every notebook viewer shows when it does not run JavaScript
 * (GitHub, nbviewer, an untrusted notebook, nbconvert's PDF/LaTeX/Markdown).
 *
 *   figureToSvg({data, layout}) → "<svg …>…</svg>"
 *
 * It reads the same `{data, layout}` JSON that plotly.js draws and follows
 * plotly's defaults, so the two pictures agree: the colorway (the layout's,
 * else plotly's), autorange with 5% padding (bars and histograms from zero),
 * "nice" ticks with dtick ∈ {1, 2, 5}·10ⁿ, log and category axes, the legend at
 * the right, heatmap colour scales (Viridis, RdBu…) with zmin/zmax/zmid, error
 * bars, fills, shapes (reference lines) and annotations. It covers what
 * stdlib/plot.ts emits — scatter (lines, markers), bar, histogram and heatmap
 * traces on one pair of axes — not all of plotly. Why a renderer of our own
 * and not a library: docs/notebooks.md ("Static figures").
 *
 * The output is a pure function of the figure: no random ids, no clock, fixed
 * precision, so re-executed notebooks are byte-identical. Text widths are
 * estimated from per-character advances of a sans-serif font (no font files).
 */

export interface FigureJSON {
  data: ReadonlyArray<Record<string, unknown>>;
  layout: Record<string, unknown>;
}

export interface SvgOptions {
  /** Width in px when the layout has none (plotly's default is 700). */
  width?: number;
  /** Height in px when the layout has none (plotly's default is 450). */
  height?: number;
}

/** plotly.js's default colorway (D3 category10), used when the layout sets none. */
export const PLOTLY_COLORWAY = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

type Scale = ReadonlyArray<readonly [number, string]>;

/** plotly.js's named colour scales that mergelab uses (values as in plotly.js's src/components/colorscale/scales.js). */
export const COLORSCALES: Record<string, Scale> = {
  Viridis: [
    [0, "#440154"], [0.06274509803921569, "#48186a"], [0.12549019607843137, "#472d7b"], [0.18823529411764706, "#424086"],
    [0.25098039215686274, "#3b528b"], [0.3137254901960784, "#33638d"], [0.3764705882352941, "#2c728e"], [0.4392156862745098, "#26828e"],
    [0.5019607843137255, "#21918c"], [0.5647058823529412, "#1fa088"], [0.6274509803921569, "#28ae80"], [0.6901960784313725, "#3fbc73"],
    [0.7529411764705882, "#5ec962"], [0.8156862745098039, "#84d44b"], [0.8784313725490196, "#addc30"], [0.9411764705882353, "#d8e219"],
    [1, "#fde725"],
  ],
  RdBu: [[0, "rgb(5,10,172)"], [0.35, "rgb(106,137,247)"], [0.5, "rgb(190,190,190)"], [0.6, "rgb(220,170,132)"], [0.7, "rgb(230,145,90)"], [1, "rgb(178,10,28)"]],
  Reds: [[0, "rgb(220,220,220)"], [0.2, "rgb(245,195,157)"], [0.4, "rgb(245,160,105)"], [1, "rgb(178,10,28)"]],
  Blues: [[0, "rgb(5,10,172)"], [0.35, "rgb(40,60,190)"], [0.5, "rgb(70,100,245)"], [0.6, "rgb(90,120,245)"], [0.7, "rgb(106,137,247)"], [1, "rgb(220,220,220)"]],
  Greys: [[0, "rgb(0,0,0)"], [1, "rgb(255,255,255)"]],
};

const FONT = `"Open Sans", verdana, arial, sans-serif`;
const TEXT = "#444";
const GRID = "#eee";
const ZEROLINE = "#444";

type Trace = Record<string, unknown>;
type AxisType = "linear" | "log" | "category";

// ---------------------------------------------------------------- small helpers

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Coordinates with two decimals: enough for a screen, short, deterministic. */
const f = (n: number) => String(Math.round(n * 100) / 100);

export function escapeXml(s: string): string {
  // non-ASCII as character references: right in any page, whatever encoding it declares
  return s
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
    .replace(/[^\x20-\x7e]/gu, (c) => `&#x${c.codePointAt(0)!.toString(16)};`);
}

/** A title is `{text}` or a bare string in plotly. */
function titleText(v: unknown): string {
  return typeof v === "string" ? v : str(obj(v).text) ?? "";
}

/** Approximate advance widths (em) of a sans-serif font: good to a few %, all a layout needs. */
export function textWidth(s: string, size = 12): number {
  let w = 0;
  for (const ch of s) {
    if ("il.,:;'|!`".includes(ch)) w += 0.26;
    else if ("fjrtI()[]{}/\\ -".includes(ch)) w += 0.34;
    else if ("mwMW@%".includes(ch)) w += 0.86;
    else if (/[A-Z]/.test(ch)) w += 0.67;
    else if (/[0-9]/.test(ch)) w += 0.556;
    else w += ch.charCodeAt(0) > 0x2000 ? 0.75 : 0.54;
  }
  return w * size;
}

/** A numeric value of a plotly data array entry: numbers and numeric strings (plotly's isNumeric). */
function numeric(v: unknown): number | undefined {
  if (isNum(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

// ---------------------------------------------------------------- colours

function parseColor(c: string): [number, number, number, number] {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
  if (hex) {
    const h = hex[1].length === 3 ? [...hex[1]].map((x) => x + x).join("") : hex[1];
    return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16), 1];
  }
  const rgb = /^rgba?\(([^)]+)\)$/.exec(c.replace(/\s/g, ""));
  if (rgb) {
    const p = rgb[1].split(",").map(Number);
    return [p[0], p[1], p[2], p[3] ?? 1];
  }
  return [68, 68, 68, 1];
}

const hex2 = (n: number) => Math.round(Math.max(0, Math.min(255, n))).toString(16).padStart(2, "0");
const toHex = ([r, g, b]: readonly number[]) => `#${hex2(r)}${hex2(g)}${hex2(b)}`;

/** The colour at t ∈ [0, 1] of a colour scale, interpolated in RGB as plotly does. */
export function scaleColor(scale: Scale, t: number): string {
  const x = Math.max(0, Math.min(1, t));
  for (let i = 1; i < scale.length; i++) {
    if (x <= scale[i][0]) {
      const [t0, c0] = scale[i - 1];
      const [t1, c1] = scale[i];
      const u = t1 === t0 ? 0 : (x - t0) / (t1 - t0);
      const a = parseColor(c0);
      const b = parseColor(c1);
      return toHex([0, 1, 2].map((k) => a[k] + (b[k] - a[k]) * u));
    }
  }
  return toHex(parseColor(scale[scale.length - 1][1]));
}

function colorscaleOf(trace: Trace): Scale {
  const cs = trace.colorscale;
  let scale: Scale = typeof cs === "string" ? COLORSCALES[cs] ?? COLORSCALES.RdBu : Array.isArray(cs) ? (cs as Array<[number, string]>) : COLORSCALES.RdBu;
  if (trace.reversescale === true) scale = [...scale].reverse().map(([t, c]) => [1 - t, c] as const);
  return scale;
}

/** Black or white text, whichever reads better on a cell of colour c (relative luminance). */
function contrastText(c: string): string {
  const [r, g, b] = parseColor(c).map((v, i) => (i < 3 ? v / 255 : v));
  const lin = (v: number) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b) > 0.4 ? "#000000" : "#ffffff";
}

// ---------------------------------------------------------------- number formats

const SI = [[-12, "p"], [-9, "n"], [-6, "μ"], [-3, "m"], [0, ""], [3, "k"], [6, "M"], [9, "G"], [12, "T"]] as const;

/**
 * Tick labels as plotly writes them (exponentformat "B"): as many decimals as
 * the tick step needs, trailing zeros dropped; SI prefixes once the axis'
 * largest tick reaches 10⁴ or falls below 10⁻³.
 */
export function tickLabel(v: number, dtick: number, axisMax: number): string {
  const exp = axisMax === 0 ? 0 : Math.floor(Math.log10(axisMax) + 1e-9);
  if (exp >= 4 || exp <= -4) {
    const e3 = Math.max(-12, Math.min(12, Math.floor(exp / 3) * 3));
    const suffix = SI.find(([e]) => e === e3)?.[1] ?? "";
    const digits = Math.max(0, e3 - Math.floor(Math.log10(dtick) + 1e-9));
    return trimZeros((v / 10 ** e3).toFixed(Math.min(digits, 12))) + suffix;
  }
  const digits = Math.max(0, -Math.floor(Math.log10(dtick) + 1e-9));
  return trimZeros(v.toFixed(Math.min(digits, 12)));
}

function trimZeros(s: string): string {
  const t = s.includes(".") ? s.replace(/\.?0+$/, "") : s;
  return t === "-0" ? "0" : t.replace(/^-/, "−");
}

/** d3-format's ".3g" / ".2f" / ".1%" — what texttemplate "%{z:.3g}" asks for. */
function d3format(v: number, spec: string): string {
  const m = /^\.?(\d+)?([gfe%])?$/.exec(spec);
  if (!m) return String(v);
  const p = m[1] === undefined ? 6 : Number(m[1]);
  switch (m[2]) {
    case "f": return v.toFixed(p);
    case "e": return v.toExponential(p);
    case "%": return (v * 100).toFixed(p) + "%";
    default: return v.toPrecision(Math.max(1, p));
  }
}

function textTemplate(tpl: string, z: number): string {
  return tpl.replace(/%\{z(?::([^}]*))?\}/g, (_, spec: string | undefined) => (spec ? d3format(z, spec) : String(Number(z.toPrecision(6)))));
}

// ---------------------------------------------------------------- ticks

/** plotly's roundDTick: the step rounded up to 2, 5 or 10 times a power of ten. */
function niceStep(rough: number): number {
  if (!(rough > 0) || !Number.isFinite(rough)) return 1;
  const base = 10 ** Math.floor(Math.log10(rough));
  const r = rough / base;
  return base * (r <= 2 ? 2 : r <= 5 ? 5 : 10);
}

/** Linear ticks over [lo, hi]: plotly's nt = clamp(len / minPx, 4, 9) + 1 (minPx 80 on x, 40 on y). */
function linearTicks(lo: number, hi: number, lengthPx: number, minPx: number): { values: number[]; dtick: number } {
  const nt = Math.min(9, Math.max(4, lengthPx / minPx)) + 1;
  const dtick = niceStep(Math.abs(hi - lo) / nt);
  const values: number[] = [];
  const a = Math.min(lo, hi);
  const b = Math.max(lo, hi);
  for (let k = Math.ceil(a / dtick - 1e-9); k * dtick <= b + dtick * 1e-9; k++) values.push(Number((k * dtick).toPrecision(12)));
  return { values, dtick };
}

// ---------------------------------------------------------------- axes

interface Tick {
  /** position in axis units (log10 for log axes, index for categories) */
  at: number;
  label: string;
  /** a log axis' 2 or 5 between powers of ten: drawn smaller */
  minor?: boolean;
}

/** 10^k as plotly writes it on a log axis: 0.01, 0.1, 1, 10, 100, 1000, 10k, 100k, 1M … 100μ. */
function logLabel(k: number): string {
  return tickLabel(10 ** k, 10 ** k, 10 ** k);
}

interface Axis {
  letter: "x" | "y";
  type: AxisType;
  categories: string[];
  range: [number, number];
  reversed: boolean;
  title: string;
  ticks: Tick[];
  /** pixel span: [position of range[0], position of range[1]] */
  px: [number, number];
}

/** A data value in axis units, or undefined (gap). */
function toAxis(ax: { type: AxisType; categories: string[] }, v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  if (ax.type === "category") {
    const i = ax.categories.indexOf(String(v));
    return i < 0 ? undefined : i;
  }
  const n = numeric(v);
  if (n === undefined) return undefined;
  if (ax.type === "log") return n > 0 ? Math.log10(n) : undefined;
  return n;
}

function pixel(ax: Axis, u: number): number {
  const [r0, r1] = ax.range;
  const t = r1 === r0 ? 0.5 : (u - r0) / (r1 - r0);
  return ax.px[0] + t * (ax.px[1] - ax.px[0]);
}

/** Extremes an axis must show: values (axis units), with plotly's padding rules. */
interface Extremes {
  values: number[];
  /** 5% padding (plotly's `padded`) plus this many px (marker radius) */
  padded: boolean;
  ppad: number;
  /** a bar/histogram base: the range starts at zero on that side, unpadded */
  tozero: boolean;
}

function autorange(ex: Extremes[], lengthPx: number, type: AxisType): [number, number] {
  const all = ex.flatMap((e) => e.values).filter(Number.isFinite);
  if (all.length === 0) return type === "log" ? [0, 1] : [-1, 6];
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  const tozero = ex.some((e) => e.tozero) && type === "linear";
  if (tozero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (lo === hi) return tozero && lo === 0 ? [0, 1] : [lo - 1, hi + 1];
  const padded = ex.some((e) => e.padded);
  const ppad = Math.max(0, ...ex.map((e) => e.ppad));
  const frac = (padded ? 0.05 : 0) + ppad / Math.max(lengthPx, 1);
  const span = hi - lo;
  const padLo = tozero && lo === 0 ? 0 : 1;
  const padHi = tozero && hi === 0 ? 0 : 1;
  const ext = (span * frac) / Math.max(1 - (padLo + padHi) * frac, 0.2);
  return [lo - padLo * ext, hi + padHi * ext];
}

function axisTicks(ax: Axis, lengthPx: number): Tick[] {
  const [r0, r1] = ax.range;
  const lo = Math.min(r0, r1);
  const hi = Math.max(r0, r1);
  if (ax.type === "category") {
    const inRange = ax.categories.map((c, i) => ({ at: i, label: c })).filter((t) => t.at >= lo - 1e-9 && t.at <= hi + 1e-9);
    const step = Math.max(1, Math.ceil(inRange.length / Math.max(2, lengthPx / 12)));
    return inRange.filter((_, i) => i % step === 0);
  }
  const minPx = ax.letter === "y" ? 40 : 80;
  if (ax.type === "log") {
    // plotly's log ticks: whole decades when roughly > 0.7 of one per tick, linear steps inside
    // less than a decade, else 1-2-5 (or 1…9) × 10ⁿ with the digits between powers of ten small
    const decades = hi - lo;
    const nt = Math.min(9, Math.max(4, lengthPx / minPx)) + 1;
    const rough = decades / nt;
    if (rough > 0.7) {
      const d = Math.ceil(rough);
      const out: Tick[] = [];
      for (let k = Math.ceil(lo - 1e-9); k <= hi + 1e-9; k++) if (k % d === 0) out.push({ at: k, label: logLabel(k) });
      return out;
    }
    if (decades < 1) {
      const { values: lin, dtick } = linearTicks(10 ** lo, 10 ** hi, lengthPx, minPx);
      const top = Math.max(...lin.map(Math.abs));
      return lin.filter((v) => v > 0).map((v) => ({ at: Math.log10(v), label: tickLabel(v, dtick, top) }));
    }
    const cands: number[] = [];
    for (let k = Math.floor(lo) - 1; k <= Math.ceil(hi); k++) for (const m of rough > 0.3 ? [1, 2, 5] : [1, 2, 3, 4, 5, 6, 7, 8, 9]) cands.push(m * 10 ** k);
    return cands
      .filter((v) => Math.log10(v) >= lo - 1e-9 && Math.log10(v) <= hi + 1e-9)
      .map((v) => {
        const k = Math.floor(Math.log10(v) + 1e-9);
        const digit = Math.round(v / 10 ** k);
        return { at: Math.log10(v), label: digit === 1 ? logLabel(k) : String(digit), minor: digit !== 1 };
      });
  }
  const { values, dtick } = linearTicks(lo, hi, lengthPx, minPx);
  const top = Math.max(...values.map(Math.abs));
  return values.map((v) => ({ at: v, label: tickLabel(v, dtick, top) }));
}

// ---------------------------------------------------------------- histograms

export interface Bins {
  start: number;
  end: number;
  size: number;
}

/**
 * Histogram bins as plotly picks them when none are given: a step near
 * (max − min) / nbins (or 2σ / n^0.4 without nbins) rounded up to a nice
 * 1-2-5 value, the first edge on a multiple of it; all-integer data gets edges
 * at half-integers. stdlib/plot.ts always passes explicit `xbins` (shared by
 * every trace of a figure), so plotly and this renderer draw the same bars.
 */
export function autoBins(values: readonly number[], nbins?: number): Bins {
  const xs = values.filter(Number.isFinite);
  if (xs.length === 0) return { start: 0, end: 1, size: 1 };
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  let size0: number;
  if (nbins && nbins > 0) size0 = (hi - lo) / nbins;
  else {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    size0 = (2 * sd) / xs.length ** 0.4;
  }
  if (!(size0 > 0)) size0 = 1;
  let size = niceStep(size0 / 1.0000001);
  const integral = xs.every((v) => Number.isInteger(v));
  if (integral) size = Math.max(1, Math.round(size));
  let start = Math.floor(lo / size) * size;
  if (integral) start = Math.floor(lo) - 0.5 - (Math.floor(lo) - Math.floor(lo / size) * size);
  const count = Math.max(1, Math.floor((hi - start) / size) + 1);
  return { start: Number(start.toPrecision(12)), end: Number((start + count * size).toPrecision(12)), size };
}

function histogramCounts(xs: readonly number[], bins: Bins, norm: string | undefined): { edges: number[]; counts: number[] } {
  const n = Math.max(1, Math.round((bins.end - bins.start) / bins.size));
  const counts = new Array<number>(n).fill(0);
  let total = 0;
  for (const v of xs) {
    if (!Number.isFinite(v)) continue;
    // plotly's bins are [a, b): closed on the left, the last one also on the right
    let i = Math.floor((v - bins.start) / bins.size + 1e-9);
    if (i === n && Math.abs(v - bins.end) < bins.size * 1e-9) i = n - 1;
    if (i < 0 || i >= n) continue;
    counts[i]++;
    total++;
  }
  const scale = norm === "percent" ? 100 / total : norm === "probability" ? 1 / total : norm === "density" ? 1 / bins.size : norm === "probability density" ? 1 / (total * bins.size) : 1;
  return { edges: counts.map((_, i) => bins.start + i * bins.size).concat(bins.start + n * bins.size), counts: counts.map((c) => c * scale) };
}

// ---------------------------------------------------------------- marks (traces in data units)

interface ErrorBars {
  plus: Array<number | undefined>;
  minus: Array<number | undefined>;
  color?: string;
  thickness: number;
  width: number;
}

interface XYMark {
  kind: "scatter";
  index: number;
  name?: string;
  color: string;
  x: unknown[];
  y: unknown[];
  lines: boolean;
  markers: boolean;
  markerSize: number;
  lineWidth: number;
  dash?: string;
  fill?: string;
  fillcolor?: string;
  opacity: number;
  err?: ErrorBars;
}

interface BarMark {
  kind: "bar";
  index: number;
  name?: string;
  color: string;
  opacity: number;
  /** bar centres (data values) or explicit [x0, x1) edges for histograms */
  x: unknown[];
  edges?: number[];
  y: Array<number | undefined>;
  err?: ErrorBars;
  histogram: boolean;
}

interface HeatMark {
  kind: "heatmap";
  index: number;
  z: Array<Array<number | undefined>>;
  x: unknown[];
  y: unknown[];
  scale: Scale;
  zmin: number;
  zmax: number;
  text?: string;
  showscale: boolean;
  colorbarTitle: string;
}

type Mark = XYMark | BarMark | HeatMark;

function errorBars(trace: Trace, n: number): ErrorBars | undefined {
  const e = obj(trace.error_y);
  if (Object.keys(e).length === 0 || e.visible === false) return undefined;
  const plus = arr(e.array).map((v) => (isNum(v) ? v : undefined));
  const minus = e.symmetric === false ? arr(e.arrayminus).map((v) => (isNum(v) ? v : undefined)) : plus;
  if (plus.length === 0 && isNum(e.value)) {
    const v = e.value as number;
    return { plus: new Array(n).fill(v), minus: new Array(n).fill(v), color: str(e.color), thickness: isNum(e.thickness) ? e.thickness : 2, width: isNum(e.width) ? e.width : 4 };
  }
  return { plus, minus, color: str(e.color), thickness: isNum(e.thickness) ? e.thickness : 2, width: isNum(e.width) ? e.width : 4 };
}

function toMarks(data: ReadonlyArray<Trace>, colorway: readonly string[]): Mark[] {
  return data.flatMap((t, index): Mark[] => {
    if (t.visible === false) return [];
    const marker = obj(t.marker);
    const line = obj(t.line);
    const color = str(marker.color) ?? str(line.color) ?? colorway[index % colorway.length];
    const name = str(t.name) ?? (t.name !== undefined ? String(t.name) : undefined);
    const opacity = isNum(t.opacity) ? t.opacity : 1;
    switch (t.type ?? "scatter") {
      case "scatter": {
        const y = arr(t.y);
        const x = t.x === undefined ? y.map((_, i) => i) : arr(t.x);
        const mode = str(t.mode) ?? (y.length <= 20 ? "lines+markers" : "lines");
        return [{
          kind: "scatter", index, name, color: str(line.color) ?? color, x, y, opacity,
          lines: mode.includes("lines"), markers: mode.includes("markers"),
          markerSize: isNum(marker.size) ? marker.size : 6, lineWidth: isNum(line.width) ? line.width : 2, dash: str(line.dash),
          fill: str(t.fill), fillcolor: str(t.fillcolor), err: errorBars(t, y.length),
        }];
      }
      case "bar": {
        const y = arr(t.y);
        const x = t.x === undefined ? y.map((_, i) => i) : arr(t.x);
        return [{ kind: "bar", index, name, color, opacity, x, y: y.map((v) => numeric(v)), err: errorBars(t, y.length), histogram: false }];
      }
      case "histogram": {
        const xs = arr(t.x).map((v) => numeric(v) ?? NaN);
        const given = obj(t.xbins);
        const bins = isNum(given.size) && isNum(given.start) && isNum(given.end)
          ? { start: given.start, end: given.end, size: given.size }
          : autoBins(xs, isNum(t.nbinsx) ? t.nbinsx : undefined);
        const { edges, counts } = histogramCounts(xs, bins, str(t.histnorm));
        return [{ kind: "bar", index, name, color, opacity, x: [], edges, y: counts, histogram: true }];
      }
      case "heatmap": {
        const z = arr(t.z).map((r) => arr(r).map((v) => (isNum(v) ? v : undefined)));
        const rows = z.length;
        const cols = Math.max(0, ...z.map((r) => r.length));
        const flat = z.flat().filter(isNum);
        let zmin = isNum(t.zmin) ? t.zmin : flat.length ? Math.min(...flat) : 0;
        let zmax = isNum(t.zmax) ? t.zmax : flat.length ? Math.max(...flat) : 1;
        if (isNum(t.zmid) && !(isNum(t.zmin) && isNum(t.zmax))) {
          const d = Math.max(Math.abs(zmax - t.zmid), Math.abs(t.zmid - zmin));
          zmin = t.zmid - d;
          zmax = t.zmid + d;
        }
        if (zmin === zmax) {
          zmin -= 0.5;
          zmax += 0.5;
        }
        return [{
          kind: "heatmap", index, z,
          x: t.x === undefined ? Array.from({ length: cols }, (_, j) => j) : arr(t.x),
          y: t.y === undefined ? Array.from({ length: rows }, (_, i) => i) : arr(t.y),
          scale: colorscaleOf(t), zmin, zmax, text: str(t.texttemplate), showscale: t.showscale !== false,
          colorbarTitle: titleText(obj(t.colorbar).title),
        }];
      }
      default:
        return [];
    }
  });
}

// ---------------------------------------------------------------- layout

interface Box {
  l: number;
  t: number;
  w: number;
  h: number;
}

interface Shape {
  type: string;
  xref: string;
  yref: string;
  x0: unknown;
  x1: unknown;
  y0: unknown;
  y1: unknown;
  color: string;
  width: number;
  dash?: string;
  fill?: string;
}

function shapesOf(layout: Record<string, unknown>): Shape[] {
  return arr(layout.shapes).map((s) => {
    const o = obj(s);
    const line = obj(o.line);
    return {
      type: str(o.type) ?? "line", xref: str(o.xref) ?? "x", yref: str(o.yref) ?? "y",
      x0: o.x0, x1: o.x1, y0: o.y0, y1: o.y1,
      color: str(line.color) ?? TEXT, width: isNum(line.width) ? line.width : 2, dash: str(line.dash), fill: str(o.fillcolor),
    };
  });
}

function axisType(layoutAxis: Record<string, unknown>, values: unknown[]): AxisType {
  const t = str(layoutAxis.type);
  if (t === "log" || t === "category" || t === "linear") return t;
  const present = values.filter((v) => v !== null && v !== undefined);
  return present.some((v) => numeric(v) === undefined) ? "category" : "linear";
}

function categoriesOf(values: unknown[]): string[] {
  const out: string[] = [];
  for (const v of values) if (v !== null && v !== undefined && !out.includes(String(v))) out.push(String(v));
  return out;
}

/** Heatmap cell edges along one axis (axis units): midpoints between centres, half a step beyond the ends. */
function cellEdges(centres: number[]): number[] {
  if (centres.length === 1) return [centres[0] - 0.5, centres[0] + 0.5];
  const mids = centres.slice(1).map((c, i) => (c + centres[i]) / 2);
  return [centres[0] - (mids[0] - centres[0]), ...mids, centres[centres.length - 1] + (centres[centres.length - 1] - mids[mids.length - 1])];
}

/** Bar geometry: centres' slot width (plotly: the smallest gap between distinct positions) and group offsets. */
function barSlots(marks: BarMark[], xa: { type: AxisType; categories: string[] }, barmode: string, bargap: number) {
  const positions = [...new Set(marks.filter((m) => !m.histogram).flatMap((m) => m.x.map((v) => toAxis(xa, v)).filter(isNum)))].sort((a, b) => a - b);
  let gap = 1;
  for (let i = 1; i < positions.length; i++) gap = i === 1 ? positions[1] - positions[0] : Math.min(gap, positions[i] - positions[i - 1]);
  const plain = marks.filter((m) => !m.histogram);
  const group = barmode === "group" ? Math.max(1, plain.length) : 1;
  const slot = gap * (1 - bargap);
  return (m: BarMark, u: number): [number, number] => {
    const k = barmode === "group" ? plain.indexOf(m) : 0;
    const w = slot / group;
    const left = u - slot / 2 + k * w;
    return [left, left + w];
  };
}

// ---------------------------------------------------------------- the renderer

/** The static SVG of a plotly figure ({data, layout}). */
export function figureToSvg(fig: FigureJSON, opts: SvgOptions = {}): string {
  const layout = obj(fig.layout);
  const template = obj(obj(layout.template).layout);
  const get = (k: string) => (layout[k] !== undefined ? layout[k] : template[k]);
  const W = isNum(layout.width) ? layout.width : opts.width ?? 700;
  const H = isNum(layout.height) ? layout.height : opts.height ?? 450;
  const colorway = arr(get("colorway")).filter((c): c is string => typeof c === "string");
  const palette = colorway.length > 0 ? colorway : PLOTLY_COLORWAY;
  const paper = str(get("paper_bgcolor")) ?? "#ffffff";
  const plotBg = str(get("plot_bgcolor")) ?? "#ffffff";
  const barmode = str(get("barmode")) ?? "group";
  const traces = arr(fig.data).map(obj);
  const marks = toMarks(traces, palette);
  const xLayout = obj(layout.xaxis);
  const yLayout = obj(layout.yaxis);
  const shapes = shapesOf(layout);
  const annotations = arr(layout.annotations).map(obj);
  const bars = marks.filter((m): m is BarMark => m.kind === "bar");
  const heat = marks.find((m): m is HeatMark => m.kind === "heatmap");
  const allHist = bars.length > 0 && bars.every((b) => b.histogram);
  const bargap = isNum(get("bargap")) ? (get("bargap") as number) : allHist ? 0 : 0.2;

  // axis types from every x (y) value the figure places
  const xVals: unknown[] = [];
  const yVals: unknown[] = [];
  for (const m of marks) {
    if (m.kind === "heatmap") {
      xVals.push(...m.x);
      yVals.push(...m.y);
    } else if (m.kind === "bar" && m.histogram) xVals.push(...(m.edges ?? []));
    else {
      xVals.push(...m.x);
      yVals.push(...m.y);
    }
  }
  for (const s of shapes) {
    if (s.xref === "x") xVals.push(s.x0, s.x1);
    if (s.yref === "y") yVals.push(s.y0, s.y1);
  }
  const xa = { type: axisType(xLayout, xVals), categories: [] as string[] };
  const ya = { type: axisType(yLayout, yVals), categories: [] as string[] };
  if (xa.type === "category") xa.categories = categoriesOf(xVals);
  if (ya.type === "category") ya.categories = categoriesOf(yVals);

  // legend and colour bar (their widths set the right margin)
  const legendItems = legendEntries(marks, traces, get("showlegend"));
  const legendTitle = titleText(obj(get("legend")).title);
  const legendW = legendItems.length === 0 ? 0 : Math.max(textWidth(legendTitle), ...legendItems.map((m) => textWidth(m.name ?? ""))) + 50;

  // margins: the layout's, grown to fit tick labels and titles (automargin)
  const margin = obj(layout.margin);
  const title = titleText(layout.title);
  const xTitle = titleText(xLayout.title);
  const yTitle = titleText(yLayout.title);
  let mt = isNum(margin.t) ? margin.t : 100;
  const mb0 = isNum(margin.b) ? margin.b : 80;
  const ml0 = isNum(margin.l) ? margin.l : 80;
  let mr = isNum(margin.r) ? margin.r : 80;
  if (title) mt = Math.max(mt, 40);

  // A first pass places the axes on a provisional box to get tick labels, then the margins fit them.
  const ex = extremesOf(marks, shapes, xa, ya, barmode, bargap);
  const provisional = { l: ml0, t: mt, w: Math.max(40, W - ml0 - mr - legendW), h: Math.max(40, H - mt - mb0) };
  const xr = rangeOf(xLayout, ex.x, provisional.w, xa.type);
  const yr = rangeOf(yLayout, ex.y, provisional.h, ya.type);
  const yTickProbe = axisTicks({ letter: "y", ...ya, range: yr.range, reversed: yr.reversed, title: yTitle, ticks: [], px: [0, provisional.h] }, provisional.h);
  const yTickW = Math.max(0, ...yTickProbe.map((t) => textWidth(t.label)));
  const ml = Math.max(ml0, yTickW + 10 + (yTitle ? 26 : 0));
  const cbW = heat && heat.showscale ? 30 + 10 + Math.max(textWidth(heat.colorbarTitle), 40) + 10 : 0;
  mr = Math.max(mr, legendW + cbW + 10);
  let box: Box = { l: ml, t: mt, w: Math.max(40, W - ml - mr), h: 0 };
  const xTickProbe = axisTicks({ letter: "x", ...xa, range: xr.range, reversed: xr.reversed, title: xTitle, ticks: [], px: [0, box.w] }, box.w);
  const xLabelW = Math.max(0, ...xTickProbe.map((t) => textWidth(t.label)));
  const spacing = xTickProbe.length > 1 ? box.w / (xTickProbe.length + (xa.type === "category" ? 0 : -1)) : box.w;
  const rotate = xLabelW + 6 > spacing;
  const xLabelH = rotate ? Math.min(xLabelW * 0.5 + 14, 120) : 16;
  const mb = Math.max(mb0, xLabelH + 8 + (xTitle ? 24 : 0));
  box = { ...box, h: Math.max(40, H - mt - mb) };

  const x: Axis = { letter: "x", ...xa, range: xr.range, reversed: xr.reversed, title: xTitle, ticks: [], px: xr.reversed ? [box.l + box.w, box.l] : [box.l, box.l + box.w] };
  const y: Axis = { letter: "y", ...ya, range: yr.range, reversed: yr.reversed, title: yTitle, ticks: [], px: yr.reversed ? [box.t, box.t + box.h] : [box.t + box.h, box.t] };
  x.ticks = axisTicks(x, box.w);
  y.ticks = axisTicks(y, box.h);

  const id = `mlfig-${hash(JSON.stringify(fig)).toString(16).padStart(8, "0")}`;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="mergelab-static-figure" width="${f(W)}" height="${f(H)}" viewBox="0 0 ${f(W)} ${f(H)}" font-family='${FONT}' font-size="12">`,
    `<title>${escapeXml(title || "figure")}</title>`,
    `<defs><clipPath id="${id}-clip"><rect x="${f(box.l)}" y="${f(box.t)}" width="${f(box.w)}" height="${f(box.h)}"/></clipPath></defs>`,
    `<rect class="paper" x="0" y="0" width="${f(W)}" height="${f(H)}" fill="${paper}"/>`,
    `<rect class="plot-area" x="${f(box.l)}" y="${f(box.t)}" width="${f(box.w)}" height="${f(box.h)}" fill="${plotBg}"/>`,
  );
  out.push(gridLines(x, y, box, heat !== undefined));
  out.push(`<g class="data" clip-path="url(#${id}-clip)">`);
  if (heat) out.push(drawHeatmap(heat, x, y));
  const slot = barSlots(bars, xa, barmode, bargap);
  const stackBase = new Map<number, number>();
  for (const m of marks) {
    if (m.kind === "bar") out.push(drawBars(m, x, y, slot, barmode === "stack" ? stackBase : undefined));
  }
  const drawnScatter: XYMark[] = [];
  for (const m of marks) {
    if (m.kind === "scatter") {
      out.push(drawScatter(m, x, y, drawnScatter[drawnScatter.length - 1]));
      drawnScatter.push(m);
    }
  }
  out.push(shapes.map((s) => drawShape(s, x, y, box)).join(""));
  out.push(`</g>`);
  out.push(axisLabels(x, y, box, rotate));
  out.push(annotations.map((a) => drawAnnotation(a, x, y, box)).join(""));
  if (title) out.push(`<text class="gtitle" x="${f(W / 2)}" y="${f(Math.max(mt / 2, 18))}" text-anchor="middle" dominant-baseline="middle" font-size="17" fill="${TEXT}">${escapeXml(title)}</text>`);
  if (heat && heat.showscale) out.push(drawColorbar(heat, box.l + box.w + 10 + (legendW > 0 ? legendW : 0), box));
  if (legendItems.length > 0) out.push(drawLegend(legendItems, legendTitle, box.l + box.w + 10, box.t));
  out.push(`</svg>`);
  return out.filter((s) => s !== "").join("\n");
}

/** FNV-1a: a stable id from the figure, so two figures inlined in one page never share a clip path id. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function legendEntries(marks: Mark[], traces: Trace[], layoutShow: unknown): Array<XYMark | BarMark> {
  const candidates = marks.filter((m): m is XYMark | BarMark => m.kind !== "heatmap" && traces[m.index].showlegend !== false);
  if (layoutShow === false) return [];
  const explicit = candidates.some((m) => traces[m.index].showlegend === true);
  if (layoutShow === true || explicit || candidates.length > 1) return candidates;
  return [];
}

function rangeOf(layoutAxis: Record<string, unknown>, ex: Extremes[], lengthPx: number, type: AxisType): { range: [number, number]; reversed: boolean } {
  const given = arr(layoutAxis.range);
  const reversed = layoutAxis.autorange === "reversed";
  if (given.length === 2 && isNum(given[0]) && isNum(given[1])) {
    const r: [number, number] = [given[0], given[1]];
    return r[0] > r[1] ? { range: [r[1], r[0]], reversed: !reversed } : { range: r, reversed };
  }
  const r = autorange(ex, lengthPx, type);
  return { range: r, reversed };
}

function extremesOf(marks: Mark[], shapes: Shape[], xa: { type: AxisType; categories: string[] }, ya: { type: AxisType; categories: string[] }, barmode: string, bargap: number): { x: Extremes[]; y: Extremes[] } {
  const xs: Extremes[] = [];
  const ys: Extremes[] = [];
  const bars = marks.filter((m): m is BarMark => m.kind === "bar");
  const slot = barSlots(bars, xa, barmode, bargap);
  const stack = new Map<number, [number, number]>();
  for (const m of marks) {
    if (m.kind === "scatter") {
      const pts = m.x.map((v, i) => [toAxis(xa, v), toAxis(ya, m.y[i]), i] as const).filter((p) => p[0] !== undefined && p[1] !== undefined);
      const r = m.markers ? m.markerSize / 2 : 0;
      xs.push({ values: pts.map((p) => p[0] as number), padded: true, ppad: r, tozero: false });
      const yv = pts.map((p) => p[1] as number);
      if (m.err) {
        pts.forEach((p) => {
          const raw = numeric(m.y[p[2]]);
          if (raw === undefined) return;
          const up = m.err!.plus[p[2]];
          const dn = m.err!.minus[p[2]];
          if (up !== undefined) yv.push(toAxis(ya, raw + up) ?? NaN);
          if (dn !== undefined) yv.push(toAxis(ya, raw - dn) ?? NaN);
        });
      }
      ys.push({ values: yv, padded: !m.fill || !m.fill.startsWith("tozero"), ppad: r, tozero: m.fill === "tozeroy" });
    } else if (m.kind === "bar") {
      if (m.histogram && m.edges) {
        // plotly drops the empty bins at both ends of a histogram from its extent
        const used = m.y.map((c, i) => ((c ?? 0) > 0 ? i : -1)).filter((i) => i >= 0);
        const edges = used.length ? [m.edges[used[0]], m.edges[used[used.length - 1] + 1]] : m.edges;
        xs.push({ values: edges.map((e) => toAxis(xa, e)).filter(isNum), padded: false, ppad: 0, tozero: false });
        ys.push({ values: m.y.filter(isNum), padded: true, ppad: 0, tozero: true });
        continue;
      }
      const yv: number[] = [];
      m.x.forEach((v, i) => {
        const u = toAxis(xa, v);
        const val = m.y[i];
        if (u === undefined || val === undefined) return;
        xs.push({ values: slot(m, u), padded: false, ppad: 0, tozero: false });
        if (barmode === "stack") {
          const [pos, neg] = stack.get(u) ?? [0, 0];
          const next: [number, number] = val >= 0 ? [pos + val, neg] : [pos, neg + val];
          stack.set(u, next);
          yv.push(next[0], next[1]);
        } else yv.push(val);
        const up = m.err?.plus[i];
        const dn = m.err?.minus[i];
        if (up !== undefined) yv.push(val + up);
        if (dn !== undefined) yv.push(val - dn);
      });
      ys.push({ values: yv.map((v) => (ya.type === "log" ? (v > 0 ? Math.log10(v) : NaN) : v)), padded: true, ppad: 0, tozero: ya.type === "linear" });
    } else {
      const xe = m.x.map((v) => toAxis(xa, v)).filter(isNum);
      const ye = m.y.map((v) => toAxis(ya, v)).filter(isNum);
      if (xe.length) xs.push({ values: cellEdges(xe), padded: false, ppad: 0, tozero: false });
      if (ye.length) ys.push({ values: cellEdges(ye), padded: false, ppad: 0, tozero: false });
    }
  }
  for (const s of shapes) {
    if (s.xref === "x") xs.push({ values: [toAxis(xa, s.x0), toAxis(xa, s.x1)].filter(isNum), padded: false, ppad: 0, tozero: false });
    if (s.yref === "y") ys.push({ values: [toAxis(ya, s.y0), toAxis(ya, s.y1)].filter(isNum), padded: false, ppad: 0, tozero: false });
  }
  return { x: xs, y: ys };
}

// ---------------------------------------------------------------- drawing

function gridLines(x: Axis, y: Axis, box: Box, heatmap: boolean): string {
  const out: string[] = [`<g class="grid">`];
  if (!heatmap) {
    for (const t of x.ticks) if (x.type !== "category") out.push(`<path class="xgrid" d="M${f(pixel(x, t.at))},${f(box.t)}V${f(box.t + box.h)}" stroke="${GRID}" stroke-width="1"/>`);
    for (const t of y.ticks) if (y.type !== "category") out.push(`<path class="ygrid" d="M${f(box.l)},${f(pixel(y, t.at))}H${f(box.l + box.w)}" stroke="${GRID}" stroke-width="1"/>`);
    // zero lines: plotly draws them on linear axes whose range contains 0 (under the traces)
    const inside = (a: Axis) => a.type === "linear" && Math.min(...a.range) <= 0 && Math.max(...a.range) >= 0;
    if (inside(x)) out.push(`<path class="xzero" d="M${f(pixel(x, 0))},${f(box.t)}V${f(box.t + box.h)}" stroke="${ZEROLINE}" stroke-width="1"/>`);
    if (inside(y)) out.push(`<path class="yzero" d="M${f(box.l)},${f(pixel(y, 0))}H${f(box.l + box.w)}" stroke="${ZEROLINE}" stroke-width="1"/>`);
  }
  out.push(`</g>`);
  return out.join("\n");
}

function axisLabels(x: Axis, y: Axis, box: Box, rotate: boolean): string {
  const out: string[] = [`<g class="xaxis">`];
  const ty = box.t + box.h + 6;
  for (const t of x.ticks) {
    const px = f(pixel(x, t.at));
    out.push(rotate
      ? `<text class="xtick" x="${px}" y="${f(ty + 4)}" text-anchor="end" dominant-baseline="hanging" transform="rotate(-30 ${px} ${f(ty + 4)})" fill="${TEXT}">${escapeXml(t.label)}</text>`
      : `<text class="xtick" x="${px}" y="${f(ty)}" text-anchor="middle" dominant-baseline="hanging"${t.minor ? ` font-size="9"` : ""} fill="${TEXT}">${escapeXml(t.label)}</text>`);
  }
  if (x.title) {
    const below = Math.max(...x.ticks.map((t) => (rotate ? textWidth(t.label) * 0.5 + 8 : 14)), 14);
    out.push(`<text class="xtitle" x="${f(box.l + box.w / 2)}" y="${f(ty + below + 12)}" text-anchor="middle" dominant-baseline="hanging" font-size="14" fill="${TEXT}">${escapeXml(x.title)}</text>`);
  }
  out.push(`</g>`, `<g class="yaxis">`);
  for (const t of y.ticks) out.push(`<text class="ytick" x="${f(box.l - 6)}" y="${f(pixel(y, t.at))}" text-anchor="end" dominant-baseline="central"${t.minor ? ` font-size="9"` : ""} fill="${TEXT}">${escapeXml(t.label)}</text>`);
  if (y.title) {
    const tw = Math.max(0, ...y.ticks.map((t) => textWidth(t.label)));
    const cx = box.l - 6 - tw - 14;
    const cy = box.t + box.h / 2;
    out.push(`<text class="ytitle" x="${f(cx)}" y="${f(cy)}" text-anchor="middle" dominant-baseline="central" transform="rotate(-90 ${f(cx)} ${f(cy)})" font-size="14" fill="${TEXT}">${escapeXml(y.title)}</text>`);
  }
  out.push(`</g>`);
  return out.join("\n");
}

const DASHES: Record<string, string> = { dash: "9,9", dot: "3,3", dashdot: "9,3,3,3", longdash: "15,6", longdashdot: "15,6,3,6" };

function drawScatter(m: XYMark, x: Axis, y: Axis, previous: XYMark | undefined): string {
  const pts = m.x.map((v, i) => {
    const u = toAxis(x, v);
    const w = toAxis(y, m.y[i]);
    return u === undefined || w === undefined ? undefined : ([pixel(x, u), pixel(y, w), i] as const);
  });
  const out: string[] = [`<g class="trace scatter" data-trace="${m.index}"${m.opacity < 1 ? ` opacity="${m.opacity}"` : ""}>`];
  const fillColor = m.fillcolor ?? rgba(m.color, 0.5);
  const valid = pts.filter((p): p is readonly [number, number, number] => p !== undefined);
  if (m.fill === "toself" && valid.length > 2) {
    out.push(`<path class="fill" d="M${valid.map((p) => `${f(p[0])},${f(p[1])}`).join("L")}Z" fill="${fillColor}" stroke="none"/>`);
  } else if ((m.fill === "tozeroy" || m.fill === "tonexty") && valid.length > 1) {
    const other = m.fill === "tonexty" && previous
      ? previous.x.map((v, i) => [toAxis(x, v), toAxis(y, previous.y[i])] as const).filter((p) => p[0] !== undefined && p[1] !== undefined).map((p) => [pixel(x, p[0]!), pixel(y, p[1]!)] as const).reverse()
      : [[valid[valid.length - 1][0], pixel(y, 0)], [valid[0][0], pixel(y, 0)]] as const;
    out.push(`<path class="fill" d="M${[...valid, ...other].map((p) => `${f(p[0])},${f(p[1])}`).join("L")}Z" fill="${fillColor}" stroke="none"/>`);
  }
  if (m.lines) {
    // a line breaks at gaps (plotly's connectgaps=false)
    const runs: string[] = [];
    let run: string[] = [];
    for (const p of pts) {
      if (p === undefined) {
        if (run.length > 1) runs.push("M" + run.join("L"));
        run = [];
      } else run.push(`${f(p[0])},${f(p[1])}`);
    }
    if (run.length > 1) runs.push("M" + run.join("L"));
    if (runs.length) out.push(`<path class="js-line" d="${runs.join("")}" fill="none" stroke="${m.color}" stroke-width="${m.lineWidth}"${m.dash && DASHES[m.dash] ? ` stroke-dasharray="${DASHES[m.dash]}"` : ""} stroke-linejoin="round"/>`);
  }
  if (m.err) out.push(drawErrors(m.err, valid.map((p) => [p[0], numeric(m.y[p[2]]) as number, p[2]] as const), y, m.color));
  if (m.markers) for (const p of valid) out.push(`<circle class="point" cx="${f(p[0])}" cy="${f(p[1])}" r="${f(m.markerSize / 2)}" fill="${m.color}"/>`);
  out.push(`</g>`);
  return out.join("\n");
}

function rgba(c: string, a: number): string {
  const [r, g, b] = parseColor(c);
  return `rgba(${r},${g},${b},${a})`;
}

/** Vertical error bars at pixel x, data value v, for point i. */
function drawErrors(e: ErrorBars, pts: ReadonlyArray<readonly [number, number, number]>, y: Axis, color: string): string {
  const out: string[] = [];
  for (const [px, v, i] of pts) {
    const up = e.plus[i];
    const dn = e.minus[i];
    if (up === undefined && dn === undefined) continue;
    const top = toAxis(y, v + (up ?? 0));
    const bot = toAxis(y, v - (dn ?? 0));
    if (top === undefined || bot === undefined) continue;
    const y0 = pixel(y, top);
    const y1 = pixel(y, bot);
    const w = e.width;
    out.push(`<path class="errorbar" d="M${f(px)},${f(y0)}V${f(y1)}M${f(px - w)},${f(y0)}H${f(px + w)}M${f(px - w)},${f(y1)}H${f(px + w)}" stroke="${e.color ?? color}" stroke-width="${e.thickness}" fill="none"/>`);
  }
  return out.join("\n");
}

function drawBars(m: BarMark, x: Axis, y: Axis, slot: (m: BarMark, u: number) => [number, number], stack: Map<number, number> | undefined): string {
  const out: string[] = [`<g class="trace bars" data-trace="${m.index}"${m.opacity < 1 ? ` opacity="${m.opacity}"` : ""}>`];
  const base = y.type === "log" ? Math.min(...y.range) : 0;
  const centres: Array<readonly [number, number, number]> = [];
  const n = m.histogram ? (m.edges?.length ?? 1) - 1 : m.x.length;
  for (let i = 0; i < n; i++) {
    const v = m.y[i];
    if (v === undefined) continue;
    let x0: number;
    let x1: number;
    if (m.histogram) {
      const a = toAxis(x, m.edges![i]);
      const b = toAxis(x, m.edges![i + 1]);
      if (a === undefined || b === undefined) continue;
      [x0, x1] = [a, b];
    } else {
      const u = toAxis(x, m.x[i]);
      if (u === undefined) continue;
      [x0, x1] = slot(m, u);
    }
    let lo = 0;
    if (stack) {
      const key = Math.round(((x0 + x1) / 2) * 1e9);
      lo = stack.get(key) ?? 0;
      stack.set(key, lo + v);
    }
    const top = y.type === "log" ? (v + lo > 0 ? Math.log10(v + lo) : base) : v + lo;
    const bottom = y.type === "log" ? (lo > 0 ? Math.log10(lo) : base) : lo;
    const px0 = pixel(x, x0);
    const px1 = pixel(x, x1);
    const py0 = pixel(y, top);
    const py1 = pixel(y, bottom);
    if (m.histogram && v === 0) continue;
    out.push(`<path class="point bar" data-value="${v}" d="M${f(Math.min(px0, px1))},${f(py1)}V${f(py0)}H${f(Math.max(px0, px1))}V${f(py1)}Z" fill="${m.color}"/>`);
    centres.push([(px0 + px1) / 2, v + lo, i]);
  }
  if (m.err) out.push(drawErrors(m.err, centres, y, TEXT));
  out.push(`</g>`);
  return out.join("\n");
}

function drawHeatmap(m: HeatMark, x: Axis, y: Axis): string {
  const xc = m.x.map((v) => toAxis(x, v));
  const yc = m.y.map((v) => toAxis(y, v));
  const xe = cellEdges(xc.map((v, j) => v ?? j));
  const ye = cellEdges(yc.map((v, i) => v ?? i));
  const out: string[] = [`<g class="trace heatmap" data-trace="${m.index}">`];
  m.z.forEach((row, i) =>
    row.forEach((v, j) => {
      if (v === undefined || j >= xe.length - 1 || i >= ye.length - 1) return;
      const c = scaleColor(m.scale, (v - m.zmin) / (m.zmax - m.zmin));
      const [a, b] = [pixel(x, xe[j]), pixel(x, xe[j + 1])];
      const [p, q] = [pixel(y, ye[i]), pixel(y, ye[i + 1])];
      const [cx0, cy0, cw, ch] = [Math.min(a, b), Math.min(p, q), Math.abs(b - a), Math.abs(q - p)];
      out.push(`<rect class="cell" data-z="${v}" x="${f(cx0)}" y="${f(cy0)}" width="${f(cw)}" height="${f(ch)}" fill="${c}"/>`);
      if (m.text) {
        const label = textTemplate(m.text, v);
        const size = Math.min(12, ch * 0.6, (cw * 0.9) / Math.max(1, textWidth(label, 1)));
        if (size >= 6) out.push(`<text class="cell-text" x="${f(cx0 + cw / 2)}" y="${f(cy0 + ch / 2)}" text-anchor="middle" dominant-baseline="central" font-size="${f(size)}" fill="${contrastText(c)}">${escapeXml(label)}</text>`);
      }
    }),
  );
  out.push(`</g>`);
  return out.join("\n");
}

function drawColorbar(m: HeatMark, left: number, box: Box): string {
  const steps = 64;
  const h = box.h;
  const out: string[] = [`<g class="colorbar">`];
  for (let k = 0; k < steps; k++) {
    const c = scaleColor(m.scale, (k + 0.5) / steps);
    const y0 = box.t + h - ((k + 1) * h) / steps;
    out.push(`<rect x="${f(left)}" y="${f(y0)}" width="30" height="${f(h / steps + 0.5)}" fill="${c}"/>`);
  }
  const { values, dtick } = linearTicks(m.zmin, m.zmax, h, 40);
  const top = Math.max(...values.map(Math.abs));
  for (const v of values) {
    const py = box.t + h - ((v - m.zmin) / (m.zmax - m.zmin)) * h;
    out.push(`<text class="cbtick" x="${f(left + 34)}" y="${f(py)}" dominant-baseline="central" fill="${TEXT}">${escapeXml(tickLabel(v, dtick, top))}</text>`);
  }
  if (m.colorbarTitle) out.push(`<text class="cbtitle" x="${f(left)}" y="${f(box.t - 8)}" fill="${TEXT}">${escapeXml(m.colorbarTitle)}</text>`);
  out.push(`</g>`);
  return out.join("\n");
}

function drawLegend(items: Array<XYMark | BarMark>, title: string, left: number, top: number): string {
  const out: string[] = [`<g class="legend">`];
  let yy = top + 10;
  if (title) {
    out.push(`<text class="legendtitle" x="${f(left)}" y="${f(yy)}" dominant-baseline="central" fill="${TEXT}">${escapeXml(title)}</text>`);
    yy += 20;
  }
  for (const m of items) {
    out.push(`<g class="legend-item" data-trace="${m.index}">`);
    if (m.kind === "bar") out.push(`<rect x="${f(left + 12)}" y="${f(yy - 6)}" width="12" height="12" fill="${m.color}"${m.opacity < 1 ? ` opacity="${m.opacity}"` : ""}/>`);
    else {
      if (m.lines) out.push(`<path d="M${f(left + 3)},${f(yy)}H${f(left + 33)}" stroke="${m.color}" stroke-width="${m.lineWidth}"${m.dash && DASHES[m.dash] ? ` stroke-dasharray="${DASHES[m.dash]}"` : ""}/>`);
      if (m.markers) out.push(`<circle cx="${f(left + 18)}" cy="${f(yy)}" r="${f(m.markerSize / 2)}" fill="${m.color}"/>`);
      if (!m.lines && !m.markers) out.push(`<rect x="${f(left + 12)}" y="${f(yy - 6)}" width="12" height="12" fill="${m.fillcolor ?? rgba(m.color, 0.5)}"/>`);
    }
    out.push(`<text class="legendtext" x="${f(left + 40)}" y="${f(yy)}" dominant-baseline="central" fill="${TEXT}">${escapeXml(m.name ?? `trace ${m.index}`)}</text>`, `</g>`);
    yy += 19;
  }
  out.push(`</g>`);
  return out.join("\n");
}

/** A position along one axis: data ("x"/"y") or paper (0 = left/bottom, 1 = right/top of the plot area). */
function refPixel(ref: string, v: unknown, axis: Axis, box: Box): number | undefined {
  if (ref === "paper") {
    const n = numeric(v);
    if (n === undefined) return undefined;
    return axis.letter === "x" ? box.l + n * box.w : box.t + (1 - n) * box.h;
  }
  const u = toAxis(axis, v);
  return u === undefined ? undefined : pixel(axis, u);
}

function drawShape(s: Shape, x: Axis, y: Axis, box: Box): string {
  const x0 = refPixel(s.xref, s.x0, x, box);
  const x1 = refPixel(s.xref, s.x1, x, box);
  const y0 = refPixel(s.yref, s.y0, y, box);
  const y1 = refPixel(s.yref, s.y1, y, box);
  if (x0 === undefined || x1 === undefined || y0 === undefined || y1 === undefined) return "";
  const dash = s.dash && DASHES[s.dash] ? ` stroke-dasharray="${DASHES[s.dash]}"` : "";
  if (s.type === "rect") return `<path class="shape" d="M${f(x0)},${f(y0)}H${f(x1)}V${f(y1)}H${f(x0)}Z" fill="${s.fill ?? "none"}" stroke="${s.color}" stroke-width="${s.width}"${dash}/>`;
  return `<path class="shape" d="M${f(x0)},${f(y0)}L${f(x1)},${f(y1)}" stroke="${s.color}" stroke-width="${s.width}" fill="none"${dash}/>`;
}

function drawAnnotation(a: Record<string, unknown>, x: Axis, y: Axis, box: Box): string {
  const text = str(a.text);
  if (!text) return "";
  const px = refPixel(str(a.xref) ?? "x", a.x, x, box);
  const py = refPixel(str(a.yref) ?? "y", a.y, y, box);
  if (px === undefined || py === undefined) return "";
  const xanchor = str(a.xanchor) ?? "center";
  const yanchor = str(a.yanchor) ?? "middle";
  const font = obj(a.font);
  const anchor = xanchor === "left" ? "start" : xanchor === "right" ? "end" : "middle";
  const baseline = yanchor === "bottom" ? "text-after-edge" : yanchor === "top" ? "hanging" : "central";
  const color = str(font.color) ?? TEXT;
  const size = isNum(font.size) ? font.size : 12;
  return `<text class="annotation" x="${f(px)}" y="${f(py)}" text-anchor="${anchor}" dominant-baseline="${baseline}" font-size="${size}" fill="${color}">${escapeXml(text.replace(/<[^>]*>/g, ""))}</text>`;
}

/**
 * The figure as HTML that needs no script: an `<img>` of the SVG as a data
 * URI. A figure's `text/html` is this, because HTML is what most viewers and
 * nbconvert's HTML export prefer, and an exporter may sanitize an inline
 * `<svg>` (Debian's nbconvert 6.5 strips its children) but keeps an image.
 */
export function staticFigureHtml(svg: string, alt: string): string {
  const size = /<svg [^>]*width="([\d.]+)" height="([\d.]+)"/.exec(svg);
  const dims = size ? ` width="${size[1]}" height="${size[2]}"` : "";
  return `<img class="mergelab-static-figure" src="data:image/svg+xml;base64,${Buffer.from(svg, "utf8").toString("base64")}"${dims} style="max-width:100%;height:auto" alt="${escapeXml(alt)}">`;
}
