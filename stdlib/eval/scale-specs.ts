/**
 * Language functions of the scale study, version 2 (stdlib/eval/scale.ts):
 *
 *   cfg = scale_profile("quick")
 *   z   = scale_zoo(16, seed=0, profile="quick")          # bases, experts per setting, multitask
 *   xs  = z.experts["instruction_tuned"]["lr3e-4"]
 *   ref = scale_reference(xs, split="val")                # each held-in task by its own expert
 *   evaluate(task_arithmetic([xs[0], xs[3]], base=z.base["instruction_tuned"], λ=1), scale_tasks([0, 3]))
 */
import path from "node:path";
import { MergelabError } from "../../core/errors.js";
import { Dict, type Value } from "../../core/values.js";
import { isModel, modelFromArrays, type MemoryTensor, type ModelValue } from "../../engine/index.js";
import type { CallContext, FunctionSpec } from "../spec.js";
import { defaultCacheDir, evaluate, TaskSet } from "./api.js";
import { isCheckpoint, loadClassifier } from "./checkpoint.js";
import type { SplitName } from "./data.js";
import { DEPTH, INPUT_DIM, OUTPUT_DIM, paramCount } from "./model.js";
import { ensureScaleZoo, SCALE_CLUSTERS, SCALE_METHODS, scaleProfile, scaleTasks, scaleZooPaths, settingsFor, taskVectorStats, widenGrid } from "./scale.js";
import { BASE_KINDS } from "./study.js";

const paper = { title: "What Matters for Model Merging at Scale? (Yadav et al., 2024)", url: "https://arxiv.org/abs/2410.03617" };
const record = (o: Record<string, Value>) => new Dict(new Map(Object.entries(o)));
const plain = (d: Value): Record<string, number> => (d instanceof Dict ? (Object.fromEntries(d.entries) as Record<string, number>) : {});

function splitArg(v: Value | undefined): SplitName {
  if (v === "train" || v === "val" || v === "test") return v;
  throw new MergelabError(`split must be "train", "val" or "test", got ${JSON.stringify(v)}`, { param: "split" });
}

function placeholder(width: number, label: string): ModelValue {
  const store = new Map<string, MemoryTensor>();
  const dims = [INPUT_DIM, ...Array(DEPTH - 1).fill(width), OUTPUT_DIM];
  for (let i = 0; i < DEPTH; i++) {
    store.set(`layers.${i}.weight`, { shape: [dims[i + 1], dims[i]], dtype: "F32", data: new Float32Array(dims[i + 1] * dims[i]) });
    store.set(`layers.${i}.bias`, { shape: [dims[i + 1]], dtype: "F32", data: new Float32Array(dims[i + 1]) });
  }
  return modelFromArrays(store, label);
}

const cacheOf = (ctx: CallContext) => defaultCacheDir(ctx.cwd);

export function scaleTaskSet(which: Value): TaskSet {
  if (which instanceof TaskSet) return which;
  const label = Array.isArray(which) ? `clusters [${(which as number[]).join(", ")}]` : String(which);
  return new TaskSet(label, scaleTasks(which as string | number | number[]));
}

const profileSpec: FunctionSpec = {
  name: "scale_profile",
  category: "eval",
  doc: "Settings of the scale study v2: widths, seeds (zoo seeds; scale_zoo takes their index), expert settings per seed index and base (learning rate axis, lazy and harsh controls, with the grid each runs on), expert counts, subsets, the reduced control grid and the initial hyperparameter candidates per method.",
  example: 'scale_profile("quick").widths',
  params: [{ name: "name", type: "string", default: "full", choices: ["full", "quick"], doc: "full grid or the quick CI profile" }],
  returns: "dict",
  call: (a) => {
    const p = scaleProfile(a.name);
    return record({
      name: p.name,
      widths: p.widths,
      seeds: p.seeds,
      methods: [...SCALE_METHODS],
      bases: [...BASE_KINDS],
      settings: p.seeds.map((_, i) => record(Object.fromEntries(BASE_KINDS.map((b) => [b, settingsFor(p, i, b).map((s) => record({ name: s.name, lr: s.lr, steps: s.steps, lazy: s.lazy, grid: s.grid, multitask: s.multitaskSteps > 0 }))])))),
      expert_counts: p.expertCounts,
      subsets: p.subsets,
      reduced_methods: [...p.reduced.methods],
      reduced_counts: p.reduced.expertCounts,
      widen: p.widen,
      sweep: record(Object.fromEntries(SCALE_METHODS.map((m) => [m, p.sweep[m].map((hp) => record(hp))]))),
    });
  },
};

const zooSpec: FunctionSpec = {
  name: "scale_zoo",
  category: "eval",
  doc: "The scale study v2's models for one zoo seed and width: {base: {pretrained, instruction_tuned}, experts: {base kind: {setting: 8 experts in cluster order}}, multitask: {base kind: {setting: model}}, width, params, seed}. Trained on first use and cached under .cache/what-matters (MERGELAB_EVAL_CACHE).",
  example: 'scale_zoo(16, seed=0, profile="quick")',
  paper,
  params: [
    { name: "width", type: "int", required: true, range: { min: 1, max: 4096 }, doc: "hidden width of the MLP (the model size)" },
    { name: "seed", type: "int", default: 0, range: { min: 0 }, doc: "index into the profile's zoo seeds" },
    { name: "profile", type: "string", default: "full", choices: ["full", "quick"], doc: "training budget" },
  ],
  returns: "dict",
  call: async (a, ctx) => {
    const p = scaleProfile(a.profile);
    const width = a.width as number;
    const seedIndex = a.seed as number;
    if (seedIndex >= p.seeds.length) throw new MergelabError(`scale_zoo: seed must be 0..${p.seeds.length - 1} (an index into the profile's seeds), got ${seedIndex}`, { param: "seed" });
    const cache = cacheOf(ctx);
    const paths = scaleZooPaths(cache, p, seedIndex, width);
    const out = (base: Record<string, ModelValue>, experts: Record<string, Record<string, ModelValue[]>>, multitask: Record<string, Record<string, ModelValue>>) =>
      record({
        width, params: paramCount(width), seed: p.seeds[seedIndex],
        base: record(base),
        experts: record(Object.fromEntries(Object.entries(experts).map(([b, s]) => [b, record(s)]))),
        multitask: record(Object.fromEntries(Object.entries(multitask).map(([b, s]) => [b, record(s)]))),
      });
    if (ctx.dryRun) {
      const all = [...Object.values(paths.base), ...Object.values(paths.experts).flatMap((s) => Object.values(s).flat()), ...Object.values(paths.multitask).flatMap((s) => Object.values(s))];
      const load = all.every(isCheckpoint) ? (d: string) => loadClassifier(d) : (d: string) => placeholder(width, path.relative(cache, d));
      const mapDeep = <T>(o: Record<string, T>, f: (x: T) => unknown) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
      return out(
        mapDeep(paths.base, load) as Record<string, ModelValue>,
        mapDeep(paths.experts, (s) => mapDeep(s, (ds) => ds.map(load))) as Record<string, Record<string, ModelValue[]>>,
        mapDeep(paths.multitask, (s) => mapDeep(s, load)) as Record<string, Record<string, ModelValue>>,
      );
    }
    const z = await ensureScaleZoo(cache, p, seedIndex, width);
    return out(z.base, z.experts, z.multitask);
  },
};

const tasksSpec: FunctionSpec = {
  name: "scale_tasks",
  category: "eval",
  doc: 'Tasks of the scale study v2 ("is this image in class set S?" under an image corruption): "held_in" (8 corruptions × 3 sets), "held_out" (unseen sets under composed or unseen corruptions), a cluster 0..7 or a list of clusters. evaluate() takes them like tasks(...).',
  example: 'scale_tasks("held_out")',
  paper,
  params: [{ name: "which", type: ["string", "int", "list"], required: true, doc: '"held_in", "held_out", a cluster index or a list of cluster indices' }],
  returns: "any",
  call: (a) => scaleTaskSet(a.which as Value),
};

const referenceSpec: FunctionSpec = {
  name: "scale_reference",
  category: "eval",
  doc: "Each held-in task of the scale study v2 scored by the expert of its own cluster (experts[c] on scale_tasks(c)): the reference of held-in normalized performance.",
  example: 'scale_reference(z.experts["instruction_tuned"]["lr3e-4"], split="val")',
  paper,
  params: [
    { name: "experts", type: "models", required: true, doc: "the 8 experts in cluster order" },
    { name: "split", type: "string", default: "test", choices: ["train", "val", "test"], doc: "image split" },
  ],
  returns: "dict",
  call: async (a, ctx) => {
    const xs = a.experts as ModelValue[];
    if (xs.length !== SCALE_CLUSTERS) throw new MergelabError(`scale_reference: expected the ${SCALE_CLUSTERS} experts in cluster order, got ${xs.length}`, { param: "experts" });
    const split = splitArg(a.split);
    const out = new Map<string, Value>();
    for (let c = 0; c < SCALE_CLUSTERS; c++) {
      const set = scaleTaskSet(c);
      if (ctx.dryRun) for (const t of set.tasks) out.set(t.id, Number.NaN);
      else for (const [k, v] of (await evaluate(xs[c], set, split, cacheOf(ctx))).entries) out.set(k, v);
    }
    return new Dict(out);
  },
};

const statsSpec: FunctionSpec = {
  name: "task_vector_stats",
  category: "eval",
  doc: "Update size and overlap of experts: per expert ‖τ‖/‖θ_base‖ (τ = expert − base, over all parameters) and every pairwise cos(τᵢ, τⱼ), with their means.",
  example: "task_vector_stats(experts, base)",
  params: [
    { name: "experts", type: "models", required: true, doc: "the experts" },
    { name: "base", type: "model", required: true, doc: "their base" },
  ],
  returns: "dict",
  call: async (a, ctx) => {
    const xs = a.experts as ModelValue[];
    if (!isModel(a.base)) throw new MergelabError("task_vector_stats: base must be a model", { param: "base" });
    const mean = (v: number[]) => (v.length ? v.reduce((s, x) => s + x, 0) / v.length : Number.NaN);
    if (ctx.dryRun) return record({ rel_norm: xs.map(() => Number.NaN), cos: [], rel_norm_mean: Number.NaN, cos_mean: Number.NaN });
    const s = await taskVectorStats(xs, a.base);
    return record({ rel_norm: s.rel_norm, cos: s.cos, rel_norm_mean: mean(s.rel_norm), cos_mean: mean(s.cos) });
  },
};

const widenSpec: FunctionSpec = {
  name: "widen_grid",
  category: "eval",
  doc: "New hyperparameter candidates when the chosen one sits on an edge of those tried: λ·1.5 and λ·2 past the largest λ, λ/2 below the smallest nonzero λ, k/3 below TIES's smallest k. An empty list: the choice is interior (or the base, λ = 0).",
  example: 'widen_grid("task_arithmetic", [{λ: 0.5}, {λ: 1}], {λ: 1})',
  params: [
    { name: "method", type: "string", required: true, doc: "the merge method" },
    { name: "tried", type: "list", required: true, doc: "the hyperparameter records tried" },
    { name: "chosen", type: "dict", required: true, doc: "the chosen record" },
  ],
  returns: "list",
  call: (a) => widenGrid(a.method as string, (a.tried as Value[]).map(plain), plain(a.chosen as Value)).map((h) => record(h)),
};

export const scaleSpecs: FunctionSpec[] = [profileSpec, zooSpec, tasksSpec, referenceSpec, statsSpec, widenSpec];
