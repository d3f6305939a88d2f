/**
 * Analysis functions for notebooks: statistics of task vectors, streamed over
 * the checkpoints like a merge (evaluateScalars: per-tensor scalar sums, added
 * up here over tensors). Each returns a Table a plot can draw:
 *
 *   cosine_matrix(xs, base)        model × model cosine of whole task vectors   (heatmap)
 *   sign_conflicts(xs, base)       model × model rate of opposite signs         (heatmap)
 *     … by="layer" | "module"      one row per pair and layer (or module)       (line, heatmap)
 *   layer_norms(xs, base)          ‖d‖₂ per layer, module or tensor per model   (line)
 *   magnitude_histogram(xs, base)  counts of |d| in equal bins per model        (bar)
 *
 * Sums run over finite elements (an Inf in a layernorm would otherwise
 * swallow the statistic). With no base, the models' own weights are used.
 * In a check (dry run) nothing is read, so the rows are UNKNOWN: the checker
 * carries that through records(), comprehensions and plot() without errors.
 */
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import type { Graph, Node } from "../engine/ir.js";
import type { ModelValue } from "../engine/model.js";
import type { TensorContext } from "../engine/param-schedule.js";
import { type Args, type CallContext, type FunctionSpec, type ParamSpec } from "./spec.js";
import { Table, UNKNOWN, type Value } from "../core/values.js";
import { asModels } from "./methods/define.js";
import { checkRange } from "./check.js";
import * as step from "./methods/steps.js";

/** Short unique labels for table rows/columns (file or folder names). */
export function shortLabels(models: readonly ModelValue[]): string[] {
  const raw = models.map((m) => path.basename(m.label.replace(/\.safetensors$/, "")) || m.label);
  return raw.map((l, i) => (raw.indexOf(l) !== i || raw.lastIndexOf(l) !== i ? `${l}#${i}` : l));
}

/**
 * The module a tensor belongs to, the same in every layer: the name after the
 * layer index without .weight/.bias ("model.layers.3.self_attn.q_proj.weight" →
 * "self_attn.q_proj"); outside the layer stack the name without "model." and
 * the suffix ("embed_tokens", "norm", "lm_head").
 */
export function moduleOf(tensor: string): string {
  const m = /(?:^|\.)(?:layers|h|blocks)\.\d+\.(.+)$/.exec(tensor);
  return (m ? m[1] : tensor.replace(/^model\./, "")).replace(/\.(weight|bias)$/, "");
}

type By = "layer" | "module";

/** The group key of a tensor: its layer (tensors outside the stack are left out) or its module. */
function groupOf(by: By, r: { tensor: string; t: TensorContext }): number | string | undefined {
  return by === "layer" ? r.t.layer : moduleOf(r.tensor);
}

/** Group keys in order: layers ascending, modules in first-seen (checkpoint) order. */
function groupKeys(by: By, stats: Array<{ tensor: string; t: TensorContext }>): Array<number | string> {
  const keys = [...new Set(stats.map((r) => groupOf(by, r)).filter((k): k is number | string => k !== undefined))];
  return by === "layer" ? (keys as number[]).sort((a, b) => a - b) : keys;
}

/** Sum a statistic over the tensors of one group. */
function groupSum(by: By, stats: Array<{ tensor: string; t: TensorContext; values: Record<string, number> }>, key: number | string, stat: string): number {
  return stats.reduce((s, r) => (groupOf(by, r) === key ? s + (r.values[stat] ?? 0) : s), 0);
}

/** Pairs i < j of models, labelled "a·b". */
function pairs(labels: string[]): Array<{ i: number; j: number; name: string }> {
  const out: Array<{ i: number; j: number; name: string }> = [];
  for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) out.push({ i, j, name: `${labels[i]}·${labels[j]}` });
  return out;
}

const byOf = (a: Args): By | undefined => (a.by === undefined || a.by === null ? undefined : (a.by as By));

interface Inputs {
  models: ModelValue[];
  base: ModelValue | undefined;
  labels: string[];
}

function inputsOf(a: Args): Inputs {
  const models = asModels(a.xs, "xs");
  const base = a.base === undefined || a.base === null ? undefined : asModels([a.base as Value], "base")[0];
  return { models, base, labels: shortLabels(models) };
}

/**
 * Stream per-tensor statistics of the task vectors (or the weights, with no
 * base) and return, per tensor, the named sums.
 */
async function streamStats(
  inp: Inputs, ctx: CallContext,
  fn: (g: Graph, ds: Node[], t: TensorContext) => Record<string, Node>,
): Promise<Array<{ tensor: string; t: TensorContext; values: Record<string, number> }>> {
  const all = inp.base ? [inp.base, ...inp.models] : inp.models;
  const contexts = new Map<string, TensorContext>();
  const { evaluateScalars } = await import("../engine/exec/index.js"); // the executor loads on the first run
  const results = await evaluateScalars(
    all,
    (g, nodes, t) => {
      contexts.set(t.name, t);
      const ds = inp.base ? nodes.slice(1).map((x) => step.taskVector(g, x, nodes[0])) : nodes;
      return fn(g, ds, t);
    },
    { workers: ctx.options.workers, chunkSize: ctx.options.chunkSize, signal: ctx.signal },
  );
  return results.map((r) => ({ tensor: r.tensor, t: contexts.get(r.tensor) ?? all[0].context(r.tensor), values: r.values }));
}

const finite = (g: Graph, x: Node): Node => g.where(g.unary("isfinite", x), x, 0);
const count = (g: Graph, cond: Node): Node => g.sum(g.where(cond, 1, 0));

const xsParam: ParamSpec = { name: "xs", type: "models", required: true, doc: "the fine-tuned models" };
const baseParam: ParamSpec = { name: "base", type: "model", doc: "their base; statistics are of the task vectors x − base (without: of the weights)" };

/** A model × model matrix table: first column the row label, then one column per model. */
function matrixTable(labels: string[], cell: (i: number, j: number) => number): Table {
  return new Table(["model", ...labels], labels.map((l, i) => [l, ...labels.map((_, j) => cell(i, j))]));
}

async function cosineMatrix(a: Args, ctx: CallContext): Promise<Value> {
  const inp = inputsOf(a);
  const n = inp.models.length;
  const by = byOf(a);
  if (ctx.dryRun) return by ? UNKNOWN : matrixTable(inp.labels, () => NaN);
  const stats = await streamStats(inp, ctx, (g, ds) => {
    const out: Record<string, Node> = {};
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) out[`${i},${j}`] = step.finiteDot(g, ds[i], ds[j]);
    return out;
  });
  if (by) {
    const rows: Value[][] = [];
    for (const key of groupKeys(by, stats)) {
      for (const p of pairs(inp.labels)) {
        const dij = groupSum(by, stats, key, `${p.i},${p.j}`);
        const ni = Math.sqrt(groupSum(by, stats, key, `${p.i},${p.i}`));
        const nj = Math.sqrt(groupSum(by, stats, key, `${p.j},${p.j}`));
        rows.push([p.name, inp.labels[p.i], inp.labels[p.j], key, ni > 0 && nj > 0 ? Math.min(1, Math.max(-1, dij / (ni * nj))) : 0]);
      }
    }
    return new Table(["pair", "a", "b", by, "cosine"], rows);
  }
  const dot = (i: number, j: number) => stats.reduce((s, r) => s + r.values[i <= j ? `${i},${j}` : `${j},${i}`], 0);
  const norms = Array.from({ length: n }, (_, i) => Math.sqrt(dot(i, i)));
  // clamped: float64 rounding can put cos(d, d) a hair above 1
  return matrixTable(inp.labels, (i, j) => (norms[i] > 0 && norms[j] > 0 ? Math.min(1, Math.max(-1, dot(i, j) / (norms[i] * norms[j]))) : 0));
}

/** cos(a, b) over whole models (or their task vectors): one number, streamed like cosine_matrix. */
async function cosineOfTwo(a: Args, ctx: CallContext): Promise<Value> {
  const models = [...asModels([a.a as Value], "a"), ...asModels([a.b as Value], "b")];
  const base = a.base === undefined || a.base === null ? undefined : asModels([a.base as Value], "base")[0];
  if (ctx.dryRun) return UNKNOWN;
  const stats = await streamStats({ models, base, labels: ["a", "b"] }, ctx, (g, ds) => ({
    ab: step.finiteDot(g, ds[0], ds[1]),
    aa: step.finiteDot(g, ds[0], ds[0]),
    bb: step.finiteDot(g, ds[1], ds[1]),
  }));
  const sum = (k: string) => stats.reduce((s, r) => s + r.values[k], 0);
  const na = Math.sqrt(sum("aa"));
  const nb = Math.sqrt(sum("bb"));
  return na > 0 && nb > 0 ? Math.min(1, Math.max(-1, sum("ab") / (na * nb))) : 0;
}

async function signConflicts(a: Args, ctx: CallContext): Promise<Value> {
  const inp = inputsOf(a);
  const n = inp.models.length;
  const by = byOf(a);
  if (ctx.dryRun) return by ? UNKNOWN : matrixTable(inp.labels, () => NaN);
  const stats = await streamStats(inp, ctx, (g, ds) => {
    const signs = ds.map((d) => g.sign(d));
    const out: Record<string, Node> = {};
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const product = g.mul(signs[i], signs[j]);
        out[`conflict ${i},${j}`] = count(g, g.binary("lt", product, 0));
        out[`both ${i},${j}`] = count(g, g.binary("ne", product, 0));
      }
    }
    return out;
  });
  if (by) {
    const rows: Value[][] = [];
    for (const key of groupKeys(by, stats)) {
      for (const p of pairs(inp.labels)) {
        const both = groupSum(by, stats, key, `both ${p.i},${p.j}`);
        rows.push([p.name, inp.labels[p.i], inp.labels[p.j], key, both > 0 ? groupSum(by, stats, key, `conflict ${p.i},${p.j}`) / both : 0]);
      }
    }
    return new Table(["pair", "a", "b", by, "conflict"], rows);
  }
  const total = (key: string) => stats.reduce((s, r) => s + (r.values[key] ?? 0), 0);
  return matrixTable(inp.labels, (i, j) => {
    if (i === j) return 0;
    const [p, q] = i < j ? [i, j] : [j, i];
    const both = total(`both ${p},${q}`);
    return both > 0 ? total(`conflict ${p},${q}`) / both : 0;
  });
}

async function layerNorms(a: Args, ctx: CallContext): Promise<Value> {
  const inp = inputsOf(a);
  const by = (a.by as string | undefined) ?? "layer";
  const columns = by === "tensor" ? ["model", "tensor", "layer", "norm"] : ["model", by, "norm"];
  if (ctx.dryRun) return UNKNOWN;
  const stats = await streamStats(inp, ctx, (g, ds) => Object.fromEntries(ds.map((d, i) => [String(i), step.finiteDot(g, d, d)])));
  const rows: Value[][] = [];
  inp.labels.forEach((label, i) => {
    if (by === "tensor") {
      for (const r of stats) rows.push([label, r.tensor, r.t.layer ?? null, Math.sqrt(r.values[String(i)])]);
      return;
    }
    for (const key of groupKeys(by as By, stats)) rows.push([label, key, Math.sqrt(groupSum(by as By, stats, key, String(i)))]);
  });
  return new Table(columns, rows);
}

async function magnitudeHistogram(a: Args, ctx: CallContext): Promise<Value> {
  const inp = inputsOf(a);
  const bins = (a.bins as number | undefined) ?? 50;
  checkRange("bins", bins, { min: 1, max: 1000 });
  if (!Number.isInteger(bins)) throw new MergelabError(`bins must be an integer, got ${bins}`, { param: "bins" });
  const columns = ["model", "bin_start", "bin_end", "count"];
  if (ctx.dryRun) return UNKNOWN;
  const mag = (g: Graph, d: Node) => finite(g, g.abs(d));
  // pass 1: the largest finite magnitude of each model (the bins' range)
  const maxStats = await streamStats(inp, ctx, (g, ds) => Object.fromEntries(ds.map((d, i) => [String(i), g.reduce("max", mag(g, d))])));
  const top = inp.models.map((_, i) => maxStats.reduce((m, r) => Math.max(m, r.values[String(i)]), 0));
  const width = top.map((m) => (m > 0 ? m / bins : 1));
  // pass 2: #(|d| ≥ edge) for every edge, differenced into bin counts
  const counts = await streamStats(inp, ctx, (g, ds) => {
    const out: Record<string, Node> = {};
    ds.forEach((d, i) => {
      const m = mag(g, d);
      out[`${i} finite`] = count(g, g.unary("isfinite", g.abs(d)));
      for (let b = 1; b < bins; b++) out[`${i} ${b}`] = count(g, g.binary("ge", m, b * width[i]));
    });
    return out;
  });
  const total = (key: string) => counts.reduce((s, r) => s + r.values[key], 0);
  const rows: Value[][] = [];
  inp.labels.forEach((label, i) => {
    const atLeast = [total(`${i} finite`), ...Array.from({ length: bins - 1 }, (_, b) => total(`${i} ${b + 1}`)), 0];
    for (let b = 0; b < bins; b++) rows.push([label, b * width[i], (b + 1) * width[i], atLeast[b] - atLeast[b + 1]]);
  });
  return new Table(columns, rows);
}

const analysis = (spec: Omit<FunctionSpec, "category" | "returns">): FunctionSpec => ({ ...spec, category: "analysis", returns: "table" });

const byPairParam = (stat: string): ParamSpec => ({
  name: "by",
  type: "string",
  choices: ["layer", "module"],
  doc: `per layer or per module: a long table (pair, a, b, layer|module, ${stat}), one row per pair of models and group, instead of the model × model matrix`,
});

export const specs: FunctionSpec[] = [
  {
    name: "cosine",
    category: "analysis",
    returns: "number",
    doc:
      "Cosine of two whole models as one number: all tensors as one vector, Σ a·b / (‖a‖‖b‖) over finite products, " +
      "clamped to [−1, 1]; with base=, of their task vectors a − base and b − base. (Per tensor, as a model: tensor_cosine.)",
    example: "cosine(experts[0], experts[1], base=base)",
    params: [
      { name: "a", type: "model", required: true, doc: "a model" },
      { name: "b", type: "model", required: true, doc: "a model" },
      baseParam,
    ],
    call: cosineOfTwo,
  },
  analysis({
    name: "cosine_matrix",
    doc:
      "Cosine similarity between the experts' whole task vectors (all tensors as one vector): " +
      "cos(d_i, d_j) = Σ d_i·d_j / (‖d_i‖‖d_j‖). A model × model table; plot(…, kind=\"heatmap\") draws it.",
    example: 'plot(cosine_matrix(experts, base), kind="heatmap")',
    params: [xsParam, baseParam, byPairParam("cosine")],
    call: cosineMatrix,
  }),
  analysis({
    name: "sign_conflicts",
    doc:
      "Sign-conflict rate between experts (what TIES' sign election resolves): for each pair, the fraction of " +
      "elements where both task vectors are nonzero and their signs differ. A model × model table (heatmap).",
    example: 'plot(sign_conflicts(experts, base), kind="heatmap")',
    params: [xsParam, baseParam, byPairParam("conflict")],
    call: signConflicts,
  }),
  analysis({
    name: "layer_norms",
    doc:
      "L2 norm of each expert's task vector per layer (by=\"layer\": the tensors of layer l together), per module " +
      "(by=\"module\": e.g. self_attn.q_proj over all layers) or per tensor (by=\"tensor\").",
    example: 'plot(layer_norms(experts, base), x="layer", y="norm", color="model")',
    params: [
      xsParam, baseParam,
      { name: "by", type: "string", default: "layer", choices: ["layer", "module", "tensor"], doc: "group tensors by layer or by module, or one row per tensor" },
    ],
    call: layerNorms,
  }),
  analysis({
    name: "magnitude_histogram",
    doc:
      "Histogram of |d| (task-vector magnitudes) per expert over all tensors: `bins` equal bins from 0 to the " +
      "expert's largest finite |d|; two streamed passes (range, then counts).",
    example: 'plot(magnitude_histogram(experts, base, bins=40), x="bin_start", y="count", color="model", kind="bar")',
    params: [
      xsParam, baseParam,
      { name: "bins", type: "int", default: 50, range: { min: 1, max: 1000 }, doc: "number of equal-width bins" },
    ],
    call: magnitudeHistogram,
  }),
];
