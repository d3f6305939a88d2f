// The static SVG of every plot kind, parsed back and compared with the data:
// marks per trace, where each mark sits on the axes the SVG itself labels
// (positions are read through the drawn tick labels, not through the
// renderer's internals), legend, titles and colours.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { figureToSvg, autoBins, scaleColor, COLORSCALES, PLOTLY_COLORWAY, type FigureJSON } from "../../stdlib/plot-svg.js";

// ---------------------------------------------------------------- a strict little XML reader

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

const ENTITY: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === "#") return String.fromCodePoint(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    if (!(e in ENTITY)) throw new Error(`unknown entity ${m}`);
    return ENTITY[e];
  });
}

/** Parses an XML document strictly enough for a test: balanced tags, quoted attributes, known entities. */
function parseXml(xml: string): El {
  const root: El = { name: "#root", attrs: {}, children: [], text: "" };
  const stack = [root];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+=(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) {
    if (m[6]) throw new Error(`stray '<' at ${m.index}: ${xml.slice(m.index, m.index + 40)}`);
    if (m[5] !== undefined) {
      if (/&(?!(#x[0-9a-f]+|#[0-9]+|[a-z]+);)/i.test(m[5])) throw new Error(`bare '&' in text: ${m[5]}`);
      stack[stack.length - 1].text += decode(m[5]);
      continue;
    }
    const [, close, name, attrText, selfClose] = m;
    if (close) {
      const top = stack.pop();
      if (!top || top.name !== name) throw new Error(`</${name}> closes <${top?.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(/([\w:-]+)=(?:"([^"]*)"|'([^']*)')/g)) {
      if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]}`);
      attrs[a[1]] = decode(a[2] ?? a[3]);
    }
    const el: El = { name, attrs, children: [], text: "" };
    stack[stack.length - 1].children.push(el);
    if (!selfClose) stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.children.length !== 1 || root.children[0].name !== "svg") throw new Error("not one <svg> element");
  return root.children[0];
}

function all(el: El, pred: (e: El) => boolean, out: El[] = []): El[] {
  if (pred(el)) out.push(el);
  for (const c of el.children) all(c, pred, out);
  return out;
}
const hasClass = (cls: string) => (e: El) => (e.attrs.class ?? "").split(/\s+/).includes(cls);
const byClass = (root: El, cls: string) => all(root, hasClass(cls));
const textOf = (e: El): string => e.text + e.children.map(textOf).join("");

/** Python's own XML parser agrees that the document is well-formed (when python3 is here). */
function pythonParses(svg: string): boolean | undefined {
  const r = spawnSync("python3", ["-c", "import sys, xml.etree.ElementTree as E; E.fromstring(sys.stdin.buffer.read()); print('ok')"], { input: svg, encoding: "utf8" });
  if (r.error) return undefined;
  return r.stdout.trim() === "ok";
}

/** Numbers as the SVG writes them: "−0.5" uses U+2212, SI suffixes for 10k, 100μ. */
function labelValue(s: string): number {
  const m = /^(−|-)?([\d.]+)([kMGTmμnp]?)$/.exec(s.trim());
  if (!m) return NaN;
  const mult: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3, "μ": 1e-6, n: 1e-9, p: 1e-12 };
  return (m[1] ? -1 : 1) * Number(m[2]) * mult[m[3]];
}

/** The data → pixel map of one axis, fitted through its drawn tick labels (value, position). */
function axisMap(svg: El, letter: "x" | "y", log = false): (v: number) => number {
  const ticks = byClass(svg, `${letter}tick`)
    .filter((t) => t.attrs["font-size"] === undefined)
    .map((t) => ({ v: labelValue(textOf(t)), p: Number(t.attrs[letter]) }))
    .filter((t) => Number.isFinite(t.v));
  expect(ticks.length, `${letter} ticks`).toBeGreaterThanOrEqual(2);
  const u = (v: number) => (log ? Math.log10(v) : v);
  const a = ticks[0];
  const b = ticks[ticks.length - 1];
  const scale = (b.p - a.p) / (u(b.v) - u(a.v));
  // every tick lies on the same line
  for (const t of ticks) expect(Math.abs(a.p + (u(t.v) - u(a.v)) * scale - t.p)).toBeLessThan(0.02);
  return (v: number) => a.p + (u(v) - u(a.v)) * scale;
}

function plotArea(svg: El): { l: number; t: number; r: number; b: number } {
  const [r] = byClass(svg, "plot-area");
  const l = Number(r.attrs.x);
  const t = Number(r.attrs.y);
  return { l, t, r: l + Number(r.attrs.width), b: t + Number(r.attrs.height) };
}

/** The coordinates of a path "M x,y V y H x …" or "M x,y L x,y": every absolute point it visits. */
function pathPoints(d: string): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  let x = 0;
  let y = 0;
  for (const [, cmd, args] of d.matchAll(/([MLHVZ])([^MLHVZ]*)/g)) {
    const n = args.split(/[ ,]+/).filter(Boolean).map(Number);
    if (cmd === "M" || cmd === "L") for (let i = 0; i < n.length; i += 2) pts.push([(x = n[i]), (y = n[i + 1])]);
    else if (cmd === "H") pts.push([(x = n[0]), y]);
    else if (cmd === "V") pts.push([x, (y = n[0])]);
  }
  return pts;
}

const OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];
const mergelabLayout = (extra: Record<string, unknown> = {}) => ({
  xaxis: { title: { text: "k" }, automargin: true },
  yaxis: { title: { text: "acc" }, automargin: true },
  height: 420,
  margin: { t: 60, r: 20, b: 50, l: 60 },
  template: { layout: { plot_bgcolor: "#f7f7f9", paper_bgcolor: "#ffffff", colorway: OKABE_ITO } },
  ...extra,
});

function render(fig: FigureJSON): El {
  const svg = figureToSvg(fig);
  return parseXml(svg);
}

// ---------------------------------------------------------------- line, scatter

describe("figureToSvg: line and scatter", () => {
  const fig: FigureJSON = {
    data: [
      { type: "scatter", mode: "lines+markers", x: [0.1, 0.2, 0.5], y: [0.74, 0.79, 0.81], name: "ties", showlegend: true },
      { type: "scatter", mode: "lines+markers", x: [0.1, 0.2, 0.5], y: [0.7, null, 0.83], name: "dare_ties", showlegend: true },
    ],
    layout: mergelabLayout({ title: { text: "TIES: density <sweep> & more" }, legend: { title: { text: "method" } } }),
  };

  it("is well-formed XML, also for Python's parser", () => {
    const svg = figureToSvg(fig);
    expect(() => parseXml(svg)).not.toThrow();
    const py = pythonParses(svg);
    if (py !== undefined) expect(py).toBe(true);
  });

  it("draws one marker per point at its data position, in the layout's colorway", () => {
    const svg = render(fig);
    const X = axisMap(svg, "x");
    const Y = axisMap(svg, "y");
    const traces = byClass(svg, "scatter");
    expect(traces).toHaveLength(2);
    fig.data.forEach((t, i) => {
      const pts = byClass(traces[i], "point");
      const data = (t.x as number[]).map((x, j) => [x, (t.y as Array<number | null>)[j]] as const).filter(([, y]) => y !== null);
      expect(pts).toHaveLength(data.length);
      pts.forEach((p, j) => {
        expect(Number(p.attrs.cx)).toBeCloseTo(X(data[j][0]), 1);
        expect(Number(p.attrs.cy)).toBeCloseTo(Y(data[j][1] as number), 1);
        expect(p.attrs.fill).toBe(OKABE_ITO[i]);
      });
    });
  });

  it("breaks a line at a missing value and joins the points in order", () => {
    const svg = render(fig);
    const [l0, l1] = byClass(svg, "js-line");
    expect(l0.attrs.stroke).toBe(OKABE_ITO[0]);
    expect(pathPoints(l0.attrs.d)).toHaveLength(3);
    // trace 2 has y = null in the middle: two one-point runs draw no line segment at all
    expect(l1).toBeUndefined();
    const gap = render({ data: [{ type: "scatter", mode: "lines", x: [1, 2, 3, 4, 5], y: [1, 2, null, 4, 5] }], layout: {} });
    const [line] = byClass(gap, "js-line");
    expect(line.attrs.d.match(/M/g)).toHaveLength(2);
  });

  it("pads the axis ranges as plotly does and labels ticks on 1-2-5 steps", () => {
    const svg = render(fig);
    const X = axisMap(svg, "x");
    const Y = axisMap(svg, "y");
    const area = plotArea(svg);
    // the data span fills about 90% of the plot (5% padding each side, plus the marker radius)
    const xFill = (X(0.5) - X(0.1)) / (area.r - area.l);
    const yFill = (Y(0.7) - Y(0.83)) / (area.b - area.t);
    expect(xFill).toBeGreaterThan(0.85);
    expect(xFill).toBeLessThan(0.92);
    expect(yFill).toBeGreaterThan(0.85);
    expect(yFill).toBeLessThan(0.92);
    expect(X(0.1)).toBeGreaterThan(area.l);
    expect(X(0.5)).toBeLessThan(area.r);
    const xticks = byClass(svg, "xtick").map((t) => labelValue(textOf(t)));
    const steps = xticks.slice(1).map((v, i) => Number((v - xticks[i]).toPrecision(6)));
    expect(new Set(steps).size).toBe(1);
    expect([0.01, 0.02, 0.05, 0.1, 0.2, 0.5]).toContain(steps[0]);
  });

  it("writes the title, axis titles and a legend with the trace names, escaped", () => {
    const svg = render(fig);
    expect(textOf(byClass(svg, "gtitle")[0])).toBe("TIES: density <sweep> & more");
    expect(textOf(byClass(svg, "xtitle")[0])).toBe("k");
    expect(textOf(byClass(svg, "ytitle")[0])).toBe("acc");
    expect(textOf(byClass(svg, "legendtitle")[0])).toBe("method");
    const items = byClass(svg, "legend-item");
    expect(items.map((i) => textOf(byClass(i, "legendtext")[0]))).toEqual(["ties", "dare_ties"]);
    expect(items.map((i) => all(i, (e) => e.name === "circle")[0].attrs.fill)).toEqual(OKABE_ITO.slice(0, 2));
    expect(byClass(svg, "plot-area")[0].attrs.fill).toBe("#f7f7f9");
  });

  it("uses plotly's default colorway when the layout has none, and shows no legend for one unnamed trace", () => {
    const svg = render({ data: [{ type: "scatter", mode: "markers", x: [1, 2, 3], y: [3, 1, 2] }], layout: {} });
    expect(new Set(byClass(svg, "point").map((p) => p.attrs.fill))).toEqual(new Set([PLOTLY_COLORWAY[0]]));
    expect(byClass(svg, "legend")).toHaveLength(0);
    const many = render({ data: Array.from({ length: 12 }, (_, i) => ({ type: "scatter", mode: "markers", x: [i], y: [i] })), layout: {} });
    expect(byClass(many, "point").map((p) => p.attrs.fill)).toEqual(Array.from({ length: 12 }, (_, i) => PLOTLY_COLORWAY[i % 10]));
    expect(byClass(many, "legend-item")).toHaveLength(12);
  });

  it("is deterministic, with ids that differ between figures", () => {
    expect(figureToSvg(fig)).toBe(figureToSvg(JSON.parse(JSON.stringify(fig))));
    const other = figureToSvg({ ...fig, layout: { ...fig.layout, title: { text: "other" } } });
    const id = (s: string) => /clipPath id="([^"]+)"/.exec(s)![1];
    expect(id(other)).not.toBe(id(figureToSvg(fig)));
  });

  it("escapes non-ASCII text as character references and category labels survive the round trip", () => {
    const svg = figureToSvg({ data: [{ type: "bar", x: ["w16 · 4k", "λ=1", "a<b"], y: [1, 2, 3] }], layout: { title: { text: "μ − σ" } } });
    expect(svg).toMatch(/^[\x09\x0a\x0d\x20-\x7e]*$/);
    const el = parseXml(svg);
    expect(byClass(el, "xtick").map(textOf)).toEqual(["w16 · 4k", "λ=1", "a<b"]);
    expect(textOf(byClass(el, "gtitle")[0])).toBe("μ − σ");
  });
});

// ---------------------------------------------------------------- bars

describe("figureToSvg: bar", () => {
  const fig: FigureJSON = {
    data: [
      { type: "bar", x: ["small", "medium", "large"], y: [0.5, 0.7, 0.8], name: "ties", showlegend: true },
      { type: "bar", x: ["small", "medium", "large"], y: [0.55, -0.1, 0.85], name: "average", showlegend: true },
    ],
    layout: mergelabLayout({ barmode: "group" }),
  };

  it("draws one bar per value from zero to the value, grouped side by side", () => {
    const svg = render(fig);
    const Y = axisMap(svg, "y");
    const traces = byClass(svg, "bars");
    expect(traces).toHaveLength(2);
    const boxes = traces.map((t) =>
      byClass(t, "bar").map((b) => {
        const pts = pathPoints(b.attrs.d);
        const xs = pts.map((p) => p[0]);
        const ys = pts.map((p) => p[1]);
        return { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys), fill: b.attrs.fill };
      }),
    );
    fig.data.forEach((t, i) => {
      expect(boxes[i]).toHaveLength(3);
      (t.y as number[]).forEach((v, j) => {
        const b = boxes[i][j];
        expect(b.fill).toBe(OKABE_ITO[i]);
        // one end at zero, the other at the value
        expect(b.y0).toBeCloseTo(Math.min(Y(v), Y(0)), 1);
        expect(b.y1).toBeCloseTo(Math.max(Y(v), Y(0)), 1);
      });
    });
    for (let j = 0; j < 3; j++) {
      // the group's two bars touch (bargroupgap 0), the first on the left
      expect(boxes[0][j].x1).toBeCloseTo(boxes[1][j].x0, 1);
      expect(boxes[0][j].x1 - boxes[0][j].x0).toBeCloseTo(boxes[1][j].x1 - boxes[1][j].x0, 1);
    }
    // category ticks sit at the centre of each group; groups fill 80% of a slot (bargap 0.2)
    const ticks = byClass(svg, "xtick");
    expect(ticks.map(textOf)).toEqual(["small", "medium", "large"]);
    ticks.forEach((t, j) => expect(Number(t.attrs.x)).toBeCloseTo((boxes[0][j].x0 + boxes[1][j].x1) / 2, 1));
    const slot = Number(ticks[1].attrs.x) - Number(ticks[0].attrs.x);
    expect((boxes[1][0].x1 - boxes[0][0].x0) / slot).toBeCloseTo(0.8, 2);
  });

  it("starts the value axis at zero for positive bars and draws error bars of the given size", () => {
    const svg = render({
      data: [{ type: "bar", x: ["a", "b"], y: [2, 3], error_y: { type: "data", array: [0.5, 0.25], visible: true } }],
      layout: {},
    });
    const Y = axisMap(svg, "y");
    const area = plotArea(svg);
    expect(Y(0)).toBeCloseTo(area.b, 1);
    const errs = byClass(svg, "errorbar").map((e) => pathPoints(e.attrs.d).map((p) => p[1]));
    expect(errs).toHaveLength(2);
    expect(Math.min(...errs[0])).toBeCloseTo(Y(2.5), 1);
    expect(Math.max(...errs[0])).toBeCloseTo(Y(1.5), 1);
    expect(Math.min(...errs[1])).toBeCloseTo(Y(3.25), 1);
    expect(Math.max(...errs[1])).toBeCloseTo(Y(2.75), 1);
  });
});

// ---------------------------------------------------------------- heatmaps

describe("figureToSvg: heatmap", () => {
  const z = [
    [1, -0.2, 0.1],
    [-0.2, 1, 0.3],
    [0.1, 0.3, 1],
  ];
  const fig: FigureJSON = {
    data: [{ type: "heatmap", z, x: ["a", "b", "c"], y: ["a", "b", "c"], colorscale: "RdBu", zmid: 0, reversescale: true, texttemplate: "%{z:.3g}" }],
    layout: mergelabLayout({ title: { text: "cosine" }, yaxis: { title: { text: "" }, autorange: "reversed" } }),
  };

  it("draws one cell per value, row 0 at the top (reversed y), coloured on the scale centred on zmid", () => {
    const svg = render(fig);
    const cells = byClass(svg, "cell");
    expect(cells).toHaveLength(9);
    const reversed = [...COLORSCALES.RdBu].reverse().map(([t, c]) => [1 - t, c] as const);
    // zmid 0 with values in [-0.2, 1]: the scale spans [-1, 1]
    for (const c of cells) {
      const v = Number(c.attrs["data-z"]);
      expect(c.attrs.fill).toBe(scaleColor(reversed, (v + 1) / 2));
    }
    const rowsY = [...new Set(cells.map((c) => Number(c.attrs.y)))].sort((a, b) => a - b);
    const colsX = [...new Set(cells.map((c) => Number(c.attrs.x)))].sort((a, b) => a - b);
    expect(rowsY).toHaveLength(3);
    expect(colsX).toHaveLength(3);
    cells.forEach((c, k) => {
      const [i, j] = [Math.floor(k / 3), k % 3];
      expect(Number(c.attrs["data-z"])).toBe(z[i][j]);
      expect(Number(c.attrs.y)).toBe(rowsY[i]);
      expect(Number(c.attrs.x)).toBe(colsX[j]);
    });
    expect(byClass(svg, "ytick").map(textOf)).toEqual(["a", "b", "c"]);
    expect(byClass(svg, "ytick").map((t) => Number(t.attrs.y))).toEqual([...byClass(svg, "ytick").map((t) => Number(t.attrs.y))].sort((a, b) => a - b));
    expect(byClass(svg, "cell-text").map(textOf)).toEqual(z.flat().map((v) => v.toPrecision(3)));
  });

  it("honours zmin/zmax (values beyond them clamp) and labels the colour bar", () => {
    const svg = render({ data: [{ type: "heatmap", z: [[0, 5], [10, 20]], colorscale: "Viridis", zmin: 0, zmax: 10 }], layout: {} });
    const fills = byClass(svg, "cell").map((c) => c.attrs.fill);
    expect(fills).toEqual([COLORSCALES.Viridis[0][1], scaleColor(COLORSCALES.Viridis, 0.5), COLORSCALES.Viridis[16][1], COLORSCALES.Viridis[16][1]]);
    const cb = byClass(svg, "cbtick").map((t) => labelValue(textOf(t)));
    expect(cb[0]).toBe(0);
    expect(cb[cb.length - 1]).toBe(10);
  });
});

// ---------------------------------------------------------------- histograms

describe("figureToSvg: histogram", () => {
  const values = Array.from({ length: 200 }, (_, i) => Math.round(Math.sin(i * 12.9898) * 1000) / 100);

  it("counts values into [a, b) bins of the given size: bar heights and widths match a count done here", () => {
    const bins = { start: -10, end: 12, size: 2 };
    const svg = render({ data: [{ type: "histogram", x: values, xbins: bins }], layout: {} });
    const X = axisMap(svg, "x");
    const Y = axisMap(svg, "y");
    const bars = byClass(svg, "bar").map((b) => {
      const pts = pathPoints(b.attrs.d);
      return { x0: Math.min(...pts.map((p) => p[0])), x1: Math.max(...pts.map((p) => p[0])), top: Math.min(...pts.map((p) => p[1])), count: Number(b.attrs["data-value"]) };
    });
    let drawn = 0;
    for (let a = bins.start; a < bins.end; a += bins.size) {
      const count = values.filter((v) => v >= a && v < a + bins.size).length;
      if (count === 0) continue;
      const bar = bars.find((b) => Math.abs(b.x0 - X(a)) < 0.05);
      expect(bar, `bin [${a}, ${a + bins.size})`).toBeDefined();
      expect(bar!.count).toBe(count);
      expect(bar!.x1).toBeCloseTo(X(a + bins.size), 1);
      expect(bar!.top).toBeCloseTo(Y(count), 1);
      drawn++;
    }
    expect(bars).toHaveLength(drawn);
    expect(bars.reduce((s, b) => s + b.count, 0)).toBe(values.length);
  });

  it("picks nice bins when none are given (as plotly: a 1-2-5 step, the data inside)", () => {
    const b = autoBins(values, 10);
    expect([0.5, 1, 2, 5]).toContain(b.size);
    expect(b.start).toBeLessThanOrEqual(Math.min(...values));
    expect(b.end).toBeGreaterThan(Math.max(...values));
    const ints = autoBins([1, 2, 2, 3, 3, 3, 7]);
    expect(Math.abs(ints.start % 1)).toBe(0.5); // half-integer edges for integer data
    const svg = render({ data: [{ type: "histogram", x: values, nbinsx: 10 }], layout: {} });
    expect(byClass(svg, "bar").reduce((s, e) => s + Number(e.attrs["data-value"]), 0)).toBe(values.length);
  });

  it("overlays translucent histograms of several groups on shared bins, each in its colour", () => {
    const bins = { start: -10, end: 10, size: 5 };
    const svg = render({
      data: [
        { type: "histogram", x: values.slice(0, 100), name: "a", showlegend: true, opacity: 0.6, xbins: bins },
        { type: "histogram", x: values.slice(100), name: "b", showlegend: true, opacity: 0.6, xbins: bins },
      ],
      layout: mergelabLayout({ barmode: "overlay" }),
    });
    const traces = byClass(svg, "bars");
    expect(traces.map((t) => t.attrs.opacity)).toEqual(["0.6", "0.6"]);
    traces.forEach((t, i) => {
      expect(new Set(byClass(t, "bar").map((b) => b.attrs.fill))).toEqual(new Set([OKABE_ITO[i]]));
      expect(byClass(t, "bar").reduce((s, b) => s + Number(b.attrs["data-value"]), 0)).toBe(100);
    });
    expect(byClass(svg, "legendtext").map(textOf)).toEqual(["a", "b"]);
  });
});

// ---------------------------------------------------------------- log axes, reference lines, bands

describe("figureToSvg: log axes, error bars, reference lines, bands", () => {
  it("places points on a log axis through its power-of-ten ticks", () => {
    const xs = [1, 10, 100, 1000, 10000];
    const svg = render({ data: [{ type: "scatter", mode: "markers", x: xs, y: [1, 2, 3, 4, 5] }], layout: { xaxis: { type: "log" } } });
    const major = byClass(svg, "xtick").filter((t) => t.attrs["font-size"] === undefined).map(textOf);
    expect(major).toEqual(expect.arrayContaining(["1", "10", "100", "1000", "10k"]));
    const X = axisMap(svg, "x", true);
    byClass(svg, "point").forEach((p, i) => expect(Number(p.attrs.cx)).toBeCloseTo(X(xs[i]), 1));
    // small values: SI prefixes as plotly writes them
    const small = render({ data: [{ type: "scatter", mode: "markers", x: [1, 2, 3], y: [1e-4, 1e-2, 1] }], layout: { yaxis: { type: "log" } } });
    expect(byClass(small, "ytick").map(textOf)).toEqual(expect.arrayContaining(["100μ", "0.001", "0.01", "0.1", "1"]));
  });

  it("draws error bars on points and a reference line across the plot at its value, with its label", () => {
    const svg = render({
      data: [{ type: "scatter", mode: "lines+markers", x: [0.1, 0.5, 0.9], y: [0.6, 0.7, 0.65], error_y: { type: "data", array: [0.05, 0.02, 0.01], visible: true } }],
      layout: {
        shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: 0.4, y1: 0.4, line: { dash: "dash", color: "#888888", width: 1.5 } }],
        annotations: [{ xref: "paper", x: 1, yref: "y", y: 0.4, text: "base", showarrow: false, xanchor: "right", yanchor: "bottom" }],
      },
    });
    const Y = axisMap(svg, "y");
    const area = plotArea(svg);
    const errs = byClass(svg, "errorbar").map((e) => pathPoints(e.attrs.d).map((p) => p[1]));
    expect(errs).toHaveLength(3);
    [[0.6, 0.05], [0.7, 0.02], [0.65, 0.01]].forEach(([v, e], i) => {
      expect(Math.min(...errs[i])).toBeCloseTo(Y(v + e), 1);
      expect(Math.max(...errs[i])).toBeCloseTo(Y(v - e), 1);
    });
    // the reference line (below the data) widens the y range to include it
    const [line] = byClass(svg, "shape");
    const pts = pathPoints(line.attrs.d);
    expect(pts.map((p) => p[0])).toEqual([area.l, area.r].map((v) => Math.round(v * 100) / 100));
    pts.forEach((p) => expect(p[1]).toBeCloseTo(Y(0.4), 1));
    expect(pts[0][1]).toBeLessThanOrEqual(area.b);
    expect(line.attrs["stroke-dasharray"]).toBeDefined();
    expect(textOf(byClass(svg, "annotation")[0])).toBe("base");
  });

  it("fills a confidence band between two traces (fill: tonexty)", () => {
    const svg = render({
      data: [
        { type: "scatter", mode: "lines", x: [1, 2, 3], y: [0.4, 0.5, 0.6], line: { width: 0 }, showlegend: false },
        { type: "scatter", mode: "lines", x: [1, 2, 3], y: [0.6, 0.7, 0.8], fill: "tonexty", fillcolor: "rgba(0,114,178,0.2)", line: { width: 0 }, showlegend: false },
      ],
      layout: {},
    });
    const [fill] = byClass(svg, "fill");
    expect(fill.attrs.fill).toBe("rgba(0,114,178,0.2)");
    const Y = axisMap(svg, "y");
    const ys = pathPoints(fill.attrs.d).map((p) => p[1]);
    expect(Math.min(...ys)).toBeCloseTo(Y(0.8), 1);
    expect(Math.max(...ys)).toBeCloseTo(Y(0.4), 1);
  });
});
