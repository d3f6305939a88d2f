/**
 * The analysis toolbox in the language: per-layer / per-module geometry
 * (hand-computed cases), numbers and lists, plot options (error bars from
 * repeated rows, bands, reference lines, log axes, shared histogram bins,
 * heatmap diagonal), and a check that never reports what a run would not.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { check, Session } from "../../dsl/index.js";
import { invoke } from "../../stdlib/methods/define.js";
import { specs as analysisSpecs } from "../../stdlib/analysis.js";
import { plot, aggregate, Figure } from "../../stdlib/plot.js";
import { Table, UNKNOWN, type Value } from "../../core/values.js";
import { PLOTLY_MIME, resetPlotlySession, withPlotlyOnce } from "../../core/plotly.js";
import { tiny } from "./methods/harness.js";
import { makeWorkspace } from "../dsl/workspace.js";

const call = async (name: string, args: Record<string, Value>, dryRun = false) =>
  (await invoke(analysisSpecs.find((s) => s.name === name)!, args, { dryRun })) as Table;

describe("per-layer and per-module geometry (hand-computed)", () => {
  const base = tiny({ "model.layers.0.w": [0, 0, 0], "model.layers.1.w": [1, 1], "lm_head.weight": [0] }, "base");
  const x = tiny({ "model.layers.0.w": [1, 0, -2], "model.layers.1.w": [3, 1], "lm_head.weight": [Infinity] }, "x");
  const y = tiny({ "model.layers.0.w": [2, 5, 1], "model.layers.1.w": [-1, 1], "lm_head.weight": [4] }, "y");
  // dx = [1, 0, −2 | 2, 0 | Inf], dy = [2, 5, 1 | −2, 0 | 4]

  it("cosine_matrix by layer and by module", async () => {
    const t = await call("cosine_matrix", { xs: [x, y], base, by: "layer" });
    expect(t.columns).toEqual(["pair", "a", "b", "layer", "cosine"]);
    // layer 0: dx·dy = 2 − 2 = 0; layer 1: (2·−2) / (2·2) = −1
    expect(t.rows).toEqual([["x·y", "x", "y", 0, 0], ["x·y", "x", "y", 1, -1]]);
    const m = await call("cosine_matrix", { xs: [x, y], base, by: "module" });
    expect(m.columns).toEqual(["pair", "a", "b", "module", "cosine"]);
    const w = m.rows.find((r) => r[3] === "w")!;
    // module w = both layers: dot −4, ‖dx‖² = 9, ‖dy‖² = 34; lm_head: dx is Inf (skipped) → 0
    expect(w[4]).toBeCloseTo(-4 / Math.sqrt(9 * 34), 12);
    expect(m.rows.find((r) => r[3] === "lm_head")![4]).toBe(0);
  });

  it("sign_conflicts by layer, layer_norms by module", async () => {
    const t = await call("sign_conflicts", { xs: [x, y], base, by: "layer" });
    // layer 0: both nonzero at 0 (same sign) and 2 (opposite) → 1/2; layer 1: element 0 opposite → 1
    expect(t.rows).toEqual([["x·y", "x", "y", 0, 0.5], ["x·y", "x", "y", 1, 1]]);
    const n = await call("layer_norms", { xs: [x, y], base, by: "module" });
    expect(n.columns).toEqual(["model", "module", "norm"]);
    const get = (model: string, mod: string) => n.rows.find((r) => r[0] === model && r[1] === mod)![2];
    expect(get("x", "w")).toBe(3);
    expect(get("y", "w")).toBeCloseTo(Math.sqrt(34), 12);
    expect(get("y", "lm_head")).toBe(4);
  });

  it("cosine(a, b) of two models is one number (task vectors with base=); tensor_cosine stays per tensor", async () => {
    const c = (await invoke(analysisSpecs.find((s) => s.name === "cosine")!, { a: x, b: y, base }, {})) as unknown as number;
    // over all finite products: dx·dy = −4, ‖dx‖² = 9 (the Inf skipped), ‖dy‖² = 50
    expect(c).toBeCloseTo(-4 / Math.sqrt(9 * 50), 12);
    const m = await call("cosine_matrix", { xs: [x, y], base });
    expect(c).toBe(m.rows[0][2]);
    expect(await invoke(analysisSpecs.find((s) => s.name === "cosine")!, { a: x, b: y, base }, { dryRun: true })).toBe(UNKNOWN);
  });

  it("a dry run reads nothing: the rows are unknown", async () => {
    expect(await call("layer_norms", { xs: [x, y], base }, true)).toBe(UNKNOWN);
    expect(await call("cosine_matrix", { xs: [x, y], base, by: "layer" }, true)).toBe(UNKNOWN);
  });
});

describe("numbers and lists in the language", () => {
  const ws = makeWorkspace();
  afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));
  const value = async (code: string) => (await new Session({ cwd: ws, stdout: () => {}, options: { workers: 0 } }).execute(code)).value;

  it("sqrt, log, exp, std, min, max, round on numbers", async () => {
    expect(await value("sqrt(2)")).toBe(Math.SQRT2);
    expect(await value("log(exp(1.5))")).toBe(Math.log(Math.exp(1.5)));
    expect(await value("round(std([2, 4, 4, 4, 5, 5, 7, 9]), 6)")).toBe(2.13809); // sample std, numpy ddof=1
    expect(await value("std([2, 4, 4, 4, 5, 5, 7, 9], ddof=0)")).toBe(2);
    expect(await value("[min([3, 1, 2]), max(3, 1, 2)]")).toEqual([1, 3]);
  });

  it("concat and append join lists; + between lists stays element-wise", async () => {
    expect(await value("concat([1, 2], [3], [])")).toEqual([1, 2, 3]);
    expect(await value("append([1, 2], [3])")).toEqual([1, 2, [3]]);
    expect(await value("[1, 2] + [10, 20]")).toEqual([11, 22]);
    expect(await value("xs = [1]\nys = append(xs, 2)\n[xs, ys]")).toEqual([[1], [1, 2]]);
  });

  it("save_table and load_table from the language, relative to the working folder", async () => {
    const out = await value('t = table([{k: 0.1, acc: 0.5}, {k: 0.2, acc: 0.75}])\nsave_table(t, "res/t.csv")\nload_table("res/t.csv")');
    expect(fs.readFileSync(path.join(ws, "res/t.csv"), "utf8")).toBe("k,acc\n0.1,0.5\n0.2,0.75\n");
    expect((out as Table).rows).toEqual([[0.1, 0.5], [0.2, 0.75]]);
  });

  it("NaN in data is a value, not an error (a failed run's score, a dry run's placeholder)", async () => {
    fs.writeFileSync(path.join(ws, "n.csv"), "x\n1\nnan\n");
    const script = 't = load_table("n.csv")\nxs = [r.x for r in records(t)]\n[len(xs), mean(xs), max(xs), round(sum(xs), 2), std(xs), concat(xs, [2])[2]]';
    expect(await check(script, { file: "n.merge", cwd: ws })).toEqual([]);
    expect(await value(script)).toEqual([2, NaN, NaN, NaN, NaN, 2]);
  });

  it("a check never reports an error the run would not: analysis rows are unknown until read", async () => {
    const script = `base = load("models/base")
experts = load_all("models/experts/*")
norms = layer_norms(experts, base)
rows = table([{layer: r.layer, model: r.model, log_norm: log(r.norm)} for r in records(norms)])
plot(rows, x="layer", y="log_norm", color="model")
print(max([r.norm for r in records(norms)]))
save_table(rows, "out/rows.csv")
again = load_table("out/rows.csv")
plot(again, x="layer", y="log_norm")
plot(cosine_matrix(experts, base, by="layer"), x="layer", y="cosine", color="pair")
`;
    expect(await check(script, { file: "a.merge", cwd: ws })).toEqual([]);
    // a real mistake is still reported
    const bad = await check(`${script}plot(table([{a: 1}]), x="nope")\n`, { file: "a.merge", cwd: ws });
    expect(bad.map((d) => d.message)).toEqual([expect.stringContaining("no column 'nope'")]);
  });
});

describe("plot options", () => {
  const seeds = new Table(
    ["density", "seed", "score"],
    [[0.1, 1, 0.5], [0.1, 2, 0.7], [0.1, 3, 0.6], [0.5, 1, 0.8], [0.5, 2, 0.8], [0.5, 3, 0.8]],
  );

  it("err='std' | 'sem' | 'ci95' averages repeated rows into mean ± spread", () => {
    const std = aggregate(seeds, "density", "score", undefined, "std");
    expect(std.columns).toEqual(["density", "score", "score_std", "n"]);
    expect(std.rows[0][1]).toBeCloseTo(0.6, 12);
    expect(std.rows[0][2]).toBeCloseTo(0.1, 12); // sample std of 0.5, 0.7, 0.6
    expect(std.rows[1][2]).toBeCloseTo(0, 12);
    expect(aggregate(seeds, "density", "score", undefined, "sem").rows[0][2]).toBeCloseTo(0.1 / Math.sqrt(3), 12);
    expect(aggregate(seeds, "density", "score", undefined, "ci95").rows[0][2]).toBeCloseTo((4.303 * 0.1) / Math.sqrt(3), 10);
    const fig = plot.line(seeds, { x: "density", y: "score", err: "std" });
    const t = fig.data[0] as { x: number[]; y: number[]; error_y: { array: number[] } };
    expect(t.x).toEqual([0.1, 0.5]);
    expect(t.y[0]).toBeCloseTo(0.6, 12);
    expect(t.error_y.array[0]).toBeCloseTo(0.1, 12);
    expect((fig.layout.yaxis as { title: { text: string } }).title.text).toBe("score (mean ± std)");
    // the static image draws one error bar per point
    expect(fig.toSvg().match(/class="errorbar"/g)).toHaveLength(2);
  });

  it("band=true draws the spread as a filled band under the line; err='col' takes sizes from a column", () => {
    const fig = plot.line(seeds, { x: "density", y: "score", err: "ci95", band: true });
    expect(fig.data.map((t) => (t as { fill?: string }).fill ?? "")).toEqual(["", "tonexty", ""]);
    expect(fig.toSvg()).toMatch(/class="fill"/);
    const col = plot.bar(new Table(["m", "acc", "e"], [["a", 0.5, 0.1], ["b", 0.6, 0.05]]), { x: "m", y: "acc", err: "e" });
    expect((col.data[0] as { error_y: { array: number[] } }).error_y.array).toEqual([0.1, 0.05]);
  });

  it("reference lines, log axes", () => {
    const fig = plot.line(seeds, { x: "density", y: "score", ref: { base: 0.4, multitask: 0.9 }, logx: true });
    const shapes = fig.layout.shapes as Array<{ y0: number; y1: number; xref: string }>;
    expect(shapes.map((s) => [s.y0, s.y1, s.xref])).toEqual([[0.4, 0.4, "paper"], [0.9, 0.9, "paper"]]);
    expect((fig.layout.annotations as Array<{ text: string }>).map((a) => a.text)).toEqual(["base", "multitask"]);
    expect((fig.layout.xaxis as { type: string }).type).toBe("log");
    const svg = fig.toSvg();
    expect(svg.match(/class="shape"/g)).toHaveLength(2);
    expect(svg).toMatch(/>multitask</);
  });

  it("histograms of several groups share one set of bins", () => {
    const t = new Table(["v", "g"], Array.from({ length: 60 }, (_, i) => [i % 2 ? i / 7 : 3 + i / 13, i % 2 ? "a" : "b"]));
    const fig = plot.histogram(t, { x: "v", color: "g", bins: 10 });
    const bins = fig.data.map((d) => JSON.stringify((d as { xbins: unknown }).xbins));
    expect(new Set(bins).size).toBe(1);
    const b = JSON.parse(bins[0]) as { start: number; end: number; size: number };
    expect(b.start).toBeLessThanOrEqual(Math.min(...t.rows.map((r) => r[0] as number)));
    expect(b.end).toBeGreaterThan(Math.max(...t.rows.map((r) => r[0] as number)));
    expect([0.5, 1, 2]).toContain(b.size);
  });

  it("a square heatmap's colour scale comes from the off-diagonal values unless diagonal=true", () => {
    const cos = new Table(["model", "a", "b", "c"], [["a", 1, 0.1, -0.05], ["b", 0.1, 1, 0.02], ["c", -0.05, 0.02, 1]]);
    const off = plot.heatmap(cos).data[0] as { zmin?: number; zmax?: number; zmid?: number };
    expect([off.zmin, off.zmax, off.zmid]).toEqual([-0.1, 0.1, 0]);
    const all = plot.heatmap(cos, { diagonal: true }).data[0] as { zmin?: number; zmax?: number };
    expect(all.zmin).toBeUndefined();
    expect(plot.heatmap(cos).layout).toMatchObject({ xaxis: { title: { text: "model" } }, yaxis: { title: { text: "model" } } });
  });

  it("bundles leaving the process name paths under the working directory relative to it", () => {
    const cwd = process.cwd();
    const b = { "text/plain": `model ${cwd}/.cache/x: 6 tensors`, "text/html": `<td>${cwd}/.cache/x</td>` };
    expect(withPlotlyOnce(b)).toEqual({ "text/plain": "model .cache/x: 6 tensors", "text/html": "<td>.cache/x</td>" });
    const elsewhere = { "text/plain": "/elsewhere/x" };
    expect(withPlotlyOnce(elsewhere)).toBe(elsewhere);
  });

  it("a figure's bundle: plotly JSON, a static SVG, an <img> of it as HTML (no script), text; plotly.js only on request", () => {
    resetPlotlySession();
    const fig = plot.bar(seeds, { x: "density", y: "score", color: "seed" });
    expect(fig).toBeInstanceOf(Figure);
    const b = fig.toMimeBundle();
    expect(Object.keys(b).sort()).toEqual([PLOTLY_MIME, "image/svg+xml", "text/html", "text/plain"].sort());
    expect(b["image/svg+xml"]).toBe(fig.toSvg());
    expect(b["text/html"]).toMatch(/^<img class="mergelab-static-figure" src="data:image\/svg\+xml;base64,/);
    expect(b["text/html"]).not.toMatch(/<script/);
    const src = /base64,([^"]+)"/.exec(b["text/html"] as string)![1];
    expect(Buffer.from(src, "base64").toString("utf8")).toBe(b["image/svg+xml"]);
    expect(withPlotlyOnce(b)).toBe(b);
    const saved = process.env.MERGELAB_PLOTLY;
    process.env.MERGELAB_PLOTLY = "inline";
    try {
      const first = withPlotlyOnce(b)["text/html"] as string;
      const second = withPlotlyOnce(b)["text/html"] as string;
      expect(first).toContain("plotly.js, inlined by mergelab");
      expect(second).not.toContain("plotly.js, inlined by mergelab");
      // interactive where Plotly exists, the static image inside the div otherwise
      expect(second).toMatch(/<div id="mergelab-fig-2" class="mergelab-figure"[^>]*><img class="mergelab-static-figure"/);
      expect(second).toContain("window.Plotly.newPlot(el, fig.data, fig.layout");
    } finally {
      if (saved === undefined) delete process.env.MERGELAB_PLOTLY;
      else process.env.MERGELAB_PLOTLY = saved;
      resetPlotlySession();
    }
  });
});
