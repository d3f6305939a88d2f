import { describe, expect, it, beforeEach } from "vitest";
import { plot, Figure, specs, recordsToTable } from "../../stdlib/plot.js";
import { type CallContext } from "../../stdlib/spec.js";
import { Dict, Table, type MimeBundle } from "../../core/values.js";
import { MergelabError } from "../../core/errors.js";
import { PLOTLY_MIME, withPlotlyOnce, resetPlotlySession } from "../../core/plotly.js";

const sweep = new Table(
  ["method", "k", "acc"],
  [
    ["ties", 0.5, 0.81],
    ["ties", 0.1, 0.74],
    ["dare_ties", 0.1, 0.7],
    ["ties", 0.2, 0.79],
    ["dare_ties", 0.5, 0.83],
  ],
);

type Trace = { type: string; x: unknown[]; y: unknown[]; name?: string; z?: unknown[][]; mode?: string };

/** The {data, layout} a figure's HTML hands to Plotly.newPlot, parsed back out of the script. */
function embeddedFigure(html: string): { data: Trace[]; layout: Record<string, unknown> } {
  const m = /fig = (\{.*\});\n/.exec(html);
  if (!m) throw new Error("no figure JSON in the HTML");
  return JSON.parse(m[1]);
}

describe("plot: line, bar, scatter", () => {
  it("splits rows into one trace per colour and sorts a line by x", () => {
    const fig = plot.line(sweep, { x: "k", y: "acc", color: "method" });
    const data = fig.data as Trace[];
    expect(data.map((t) => t.name)).toEqual(["ties", "dare_ties"]);
    expect(data[0]).toMatchObject({ type: "scatter", mode: "lines+markers", x: [0.1, 0.2, 0.5], y: [0.74, 0.79, 0.81] });
    expect(data[1]).toMatchObject({ x: [0.1, 0.5], y: [0.7, 0.83] });
    expect(fig.layout).toMatchObject({ xaxis: { title: { text: "k" } }, yaxis: { title: { text: "acc" } } });
    expect(String(fig)).toBe("Figure: line plot of acc vs k by method (2 traces)");
  });

  it("groups bars and keeps the table order for bar and scatter", () => {
    const bar = plot.bar(sweep, { x: "k", y: "acc", color: "method" });
    expect(bar.layout.barmode).toBe("group");
    expect((bar.data as Trace[])[0]).toMatchObject({ type: "bar", x: [0.5, 0.1, 0.2], y: [0.81, 0.74, 0.79] });
    const sc = plot.scatter(sweep, { x: "k", y: "acc" });
    expect((sc.data as Trace[])[0]).toMatchObject({ mode: "markers", x: [0.5, 0.1, 0.1, 0.2, 0.5] });
  });

  it("takes a list of records (TS objects or language dicts) and defaults y to the first numeric column", () => {
    const rows = [{ k: 0.1, method: "ties", acc: 0.5 }, { k: 0.2, method: "ties", acc: 0.6 }];
    const fig = plot.line(rows, { x: "k" });
    expect((fig.data as Trace[])[0]).toMatchObject({ x: [0.1, 0.2], y: [0.5, 0.6] });
    const dicts = [new Dict(new Map<string, number | string>([["k", 1], ["acc", 2]])), new Dict(new Map<string, number>([["k", 3], ["extra", 9], ["acc", 4]]))];
    const t = recordsToTable(dicts);
    expect(t.columns).toEqual(["k", "acc", "extra"]);
    expect(t.rows).toEqual([[1, 2, null], [3, 4, 9]]);
  });

  it("plots several y columns and missing values as gaps", () => {
    const t = new Table(["k", "a", "b"], [[1, 0.5, null], [2, NaN, 0.25]]);
    const fig = plot.line(t, { x: "k", y: ["a", "b"] });
    expect((fig.data as Trace[]).map((d) => [d.name, d.y])).toEqual([["a", [0.5, null]], ["b", [null, 0.25]]]);
  });
});

describe("plot: heatmap and histogram", () => {
  it("draws a labelled matrix table (cosine matrix) with a diverging scale centred on 0", () => {
    const cos = new Table(["expert", "a", "b"], [["a", 1, -0.2], ["b", -0.2, 1]]);
    const fig = plot.heatmap(cos, { title: "cosine" });
    const t = fig.data[0] as Trace & Record<string, unknown>;
    expect(t).toMatchObject({ type: "heatmap", z: [[1, -0.2], [-0.2, 1]], x: ["a", "b"], y: ["a", "b"], colorscale: "RdBu", zmid: 0 });
    expect(String(fig)).toBe("Figure: heatmap 2×2 — cosine");
  });

  it("pivots a long table with z=, and takes a plain matrix with labels", () => {
    const long = new Table(["k", "p", "acc"], [[0.1, 0.9, 1], [0.2, 0.9, 2], [0.1, 0.5, 3]]);
    const t = plot.heatmap(long, { x: "k", y: "p", z: "acc" }).data[0] as Record<string, unknown>;
    expect(t).toMatchObject({ x: [0.1, 0.2], y: [0.9, 0.5], z: [[1, 2], [3, null]], colorscale: "Viridis" });
    const m = plot.heatmap([[1, 2], [3, 4]], { labels: ["u", "v"] }).data[0] as Record<string, unknown>;
    expect(m).toMatchObject({ z: [[1, 2], [3, 4]], x: ["u", "v"], y: ["u", "v"] });
  });

  it("bins a list of numbers, or a table column per colour", () => {
    const h = plot.histogram([1, 2, 2, 3], { bins: 3 });
    // explicit bins (integers: edges at half-integers), so plotly and the static SVG draw the same bars
    expect(h.data[0]).toMatchObject({ type: "histogram", x: [1, 2, 2, 3], xbins: { start: 0.5, end: 3.5, size: 1 } });
    const g = plot.histogram(sweep, { x: "acc", color: "method" });
    expect(g.data.map((t) => (t as Trace).x)).toEqual([[0.81, 0.74, 0.79], [0.7, 0.83]]);
    expect(g.layout.barmode).toBe("overlay");
  });
});

describe("plot: errors name the argument", () => {
  it("rejects an unknown column, a non-numeric column and an unplottable value", () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as MergelabError;
      }
      throw new Error("no error");
    };
    const e1 = err(() => plot.line(sweep, { x: "k", y: "accuracy" }));
    expect(e1).toBeInstanceOf(MergelabError);
    expect(e1.message).toBe("plot: the table has no column 'accuracy' (columns: method, k, acc)");
    expect(e1.details.param).toBe("y");
    expect(err(() => plot.line(sweep, { x: "k", y: "method" })).message).toBe("plot: column 'method' must hold numbers (row 1 is \"ties\")");
    expect(err(() => plot({ data: "nope" as never, kind: "bar" })).details.param).toBe("data");
    expect(err(() => plot({ data: [1], kind: "pie" as never })).message).toMatch(/unknown kind 'pie'/);
  });
});

describe("figure mime bundle", () => {
  beforeEach(() => resetPlotlySession());
  const inline = <T>(f: () => T): T => {
    const saved = process.env.MERGELAB_PLOTLY;
    process.env.MERGELAB_PLOTLY = "inline";
    try {
      return f();
    } finally {
      if (saved === undefined) delete process.env.MERGELAB_PLOTLY;
      else process.env.MERGELAB_PLOTLY = saved;
    }
  };

  it("is one bundle: plotly JSON object, the static SVG, HTML showing it without a script, text", () => {
    const fig = plot.bar(sweep, { x: "k", y: "acc", color: "method", title: "sweep" });
    const b = fig.toMimeBundle();
    expect(Object.keys(b).sort()).toEqual([PLOTLY_MIME, "image/svg+xml", "text/html", "text/plain"].sort());
    const json = b[PLOTLY_MIME] as { data: unknown[]; layout: { title: { text: string } } };
    expect(typeof json).toBe("object");
    expect(json.data).toHaveLength(2);
    expect(json.layout.title.text).toBe("sweep");
    expect(b["image/svg+xml"]).toMatch(/^<svg [^>]*class="mergelab-static-figure"/);
    expect(b["text/html"]).not.toMatch(/<script|plotly\.js v/);
  });

  it("inline mode: the HTML draws the same figure with plotly.js, escaping '<' so a label cannot close the script", () => {
    const fig = plot.bar([{ name: "</script><b>x", v: 1 }], { x: "name", y: "v" });
    const html = inline(() => withPlotlyOnce(fig.toMimeBundle()))["text/html"] as string;
    const own = html.slice(html.indexOf('<div id="mergelab-fig-'));
    expect(own.match(/<\/script>/g)).toHaveLength(1);
    expect(embeddedFigure(own)).toEqual(JSON.parse(JSON.stringify(fig.toJSON())));
    expect(embeddedFigure(own).data[0].x).toEqual(["</script><b>x"]);
  });

  it("inlines plotly.js into the first figure that leaves the session only, and only when asked (MERGELAB_PLOTLY=inline)", () => {
    const plain = plot.line([1, 2]).toMimeBundle();
    expect(withPlotlyOnce(plain)).toBe(plain);
    const [first, second] = inline(() => [withPlotlyOnce(plot.line([1, 2]).toMimeBundle()), withPlotlyOnce(plot.line([3, 4]).toMimeBundle())]);
    const table: MimeBundle = { "text/html": "<table></table>", "text/plain": "t" };
    expect(inline(() => withPlotlyOnce(table))).toBe(table);
    expect(first["text/html"]).toContain("plotly.js v3");
    expect((first["text/html"] as string).length).toBeGreaterThan(1_000_000);
    expect(second["text/html"]).not.toContain("plotly.js v3");
    // the loader comes before the figure's own script
    const html = first["text/html"] as string;
    expect(html.indexOf("window.Plotly = Plotly")).toBeLessThan(html.indexOf("mergelab-fig-"));
  });
});

describe("language specs", () => {
  const ctx = (shown: MimeBundle[]): CallContext => ({
    cwd: ".",
    dryRun: false,
    options: {},
    stdout: () => {},
    display: (b) => shown.push(b),
  });

  it("plot(...) binds language arguments to a figure", async () => {
    const spec = specs.find((s) => s.name === "plot")!;
    const fig = (await spec.call({ data: sweep, x: "k", y: "acc", kind: "scatter", color: "method" }, ctx([]))) as Figure;
    expect(fig).toBeInstanceOf(Figure);
    expect(fig.data.map((t) => (t as Trace).name)).toEqual(["ties", "dare_ties"]);
    expect(spec.params.find((p) => p.name === "kind")!.choices).toEqual(["line", "bar", "scatter", "heatmap", "histogram"]);
  });

  it("display(...) sends a value's bundle now", async () => {
    const shown: MimeBundle[] = [];
    const spec = specs.find((s) => s.name === "display")!;
    await spec.call({ value: sweep }, ctx(shown));
    await spec.call({ value: [1, "a", true, null] }, ctx(shown));
    expect(shown[0]["text/html"]).toContain("<th>method</th>");
    expect(shown[0]["text/plain"]).toBe("method       k   acc\n─────────  ───  ────\nties       0.5  0.81\nties       0.1  0.74\ndare_ties  0.1   0.7\nties       0.2  0.79\ndare_ties  0.5  0.83");
    expect(shown[1]).toEqual({ "text/plain": '[1, "a", true, none]' });
  });
});
