/**
 * stdlib/eval: evaluation on real data (MNIST digits + Fashion-MNIST clothing)
 * for the scale study "What Matters for Model Merging at Scale?" (Yadav et al.
 * 2024) in miniature. Language functions below; the TypeScript API is
 * re-exported at the end.
 *
 *   z   = zoo(128, base="instruction_tuned")              # base, 8 experts, multitask (trained once, cached)
 *   ref = expert_reference(z.experts)                      # each held-in task scored by its own expert
 *   m   = ties([z.experts[c] for c in [0, 3]], base=z.base, k=0.2)
 *   normalized(evaluate(m, tasks([0, 3])), ref)            # held-in, normalized by the experts
 *   normalized(evaluate(m, tasks("held_out")), evaluate(z.base, tasks("held_out")))   # held-out, by the base
 */
import path from "node:path";
import { MergelabError } from "../../core/errors.js";
import { isModel, modelFromArrays, type ModelValue, type MemoryTensor } from "../../engine/index.js";
import { type Args, type CallContext, type FunctionSpec } from "../spec.js";
import { Dict, type Value } from "../../core/values.js";
import { isCheckpoint, loadClassifier } from "./checkpoint.js";
import { defaultCacheDir, evaluate, expertReference, isTaskSet, mergeWith, normalized, scoresOf, tasks, TaskSet } from "./api.js";
import { DEPTH, INPUT_DIM, OUTPUT_DIM, paramCount } from "./model.js";
import { NUM_CLUSTERS } from "./tasks.js";
import { BASE_KINDS, ensureZoo, expertSubsets, METHODS, PROFILES, zooPaths, type BaseKind } from "./study.js";
import type { SplitName } from "./data.js";
import { scaleSpecs } from "./scale-specs.js";

const paper = { title: "What Matters for Model Merging at Scale? (Yadav et al., 2024)", url: "https://arxiv.org/abs/2410.03617" };

const record = (o: Record<string, Value>) => new Dict(new Map(Object.entries(o)));

function taskSetArg(v: Value | undefined, name = "tasks"): TaskSet {
  if (isTaskSet(v)) return v;
  if (typeof v === "string" || typeof v === "number" || Array.isArray(v)) return tasks(v as string | number | number[]);
  throw new MergelabError(`${name}: expected tasks(...), "held_in", "held_out" or a cluster index`, { param: name });
}

function dictArg(v: Value | undefined, name: string): Dict {
  if (v instanceof Dict) return v;
  throw new MergelabError(`${name}: expected scores (a dict of task → accuracy, as evaluate returns)`, { param: name });
}

function splitArg(v: Value | undefined): SplitName {
  if (v === "train" || v === "val" || v === "test") return v;
  throw new MergelabError(`split must be "train", "val" or "test", got ${JSON.stringify(v)}`, { param: "split" });
}

const cacheOf = (ctx: CallContext) => defaultCacheDir(ctx.cwd);

/** Dry run (check): task ids with NaN scores — nothing is read or trained. */
const placeholderScores = (set: TaskSet) => new Dict(new Map(set.tasks.map((t) => [t.id, Number.NaN])));

/** Dry run without a cache: zero tensors of the classifier's shapes, so merges and names still check. */
function placeholderModel(width: number, label: string): ModelValue {
  const store = new Map<string, MemoryTensor>();
  const dims = [INPUT_DIM, ...Array(DEPTH - 1).fill(width), OUTPUT_DIM];
  for (let i = 0; i < DEPTH; i++) {
    store.set(`layers.${i}.weight`, { shape: [dims[i + 1], dims[i]], dtype: "F32", data: new Float32Array(dims[i + 1] * dims[i]) });
    store.set(`layers.${i}.bias`, { shape: [dims[i + 1]], dtype: "F32", data: new Float32Array(dims[i + 1]) });
  }
  return modelFromArrays(store, label);
}

const tasksSpec: FunctionSpec = {
  name: "tasks",
  category: "eval",
  doc: 'The questions "is this image in class set S?" of a pool: "held_in" (8 clusters × 3, the experts\' tasks), "held_out" (unseen class sets), a cluster index 0..7, or a list of clusters (a random expert subset).',
  example: 'tasks("held_out")',
  paper,
  params: [{ name: "which", type: ["string", "int", "list"], required: true, doc: '"held_in", "held_out", a cluster index or a list of cluster indices' }],
  returns: "any",
  call: (a) => tasks(a.which as string | number | number[]),
};

const evaluateSpec: FunctionSpec = {
  name: "evaluate",
  category: "eval",
  doc: "Accuracy of a classifier's membership answer on each task (a dict task → accuracy), on a fixed balanced set of test (or validation) images per task. The model is materialized once (a merge streams its plan) and turned into a tfjs-layers model.",
  example: 'evaluate(ties(experts, base=base), tasks("held_in"))',
  paper,
  params: [
    { name: "model", type: "model", required: true, doc: "a classifier checkpoint or merge of them (zoo models)" },
    { name: "tasks", type: "any", required: true, doc: "tasks(...) or a task-set name" },
    { name: "split", type: "string", default: "test", choices: ["train", "val", "test"], doc: "image split: val for choosing hyperparameters, test for reporting" },
  ],
  returns: "dict",
  call: async (a, ctx) => {
    const set = taskSetArg(a.tasks);
    const split = splitArg(a.split);
    if (!isModel(a.model)) throw new MergelabError("evaluate: expected a model", { param: "model" });
    return ctx.dryRun ? placeholderScores(set) : evaluate(a.model, set, split, cacheOf(ctx));
  },
};

const normalizedSpec: FunctionSpec = {
  name: "normalized",
  category: "eval",
  doc: "The paper's normalized performance: mean over tasks of score / reference. Held-in: reference = each task's expert (expert_reference); held-out: reference = the base model's scores.",
  example: "normalized(evaluate(m, tasks([0, 3])), expert_reference(z.experts))",
  paper,
  params: [
    { name: "scores", type: "dict", required: true, doc: "evaluate(...) of the model" },
    { name: "reference", type: "dict", required: true, doc: "scores of the reference on (at least) the same tasks" },
    { name: "tasks", type: "any", doc: "restrict to these tasks (default: every task in scores)" },
  ],
  returns: "number",
  call: (a, ctx) => {
    const s = dictArg(a.scores, "scores");
    const r = dictArg(a.reference, "reference");
    if (ctx.dryRun) return Number.NaN;
    return normalized(s, r, a.tasks === undefined || a.tasks === null ? undefined : taskSetArg(a.tasks));
  },
};

const meanScoreSpec: FunctionSpec = {
  name: "mean_score",
  category: "eval",
  doc: "Mean accuracy over the tasks of a scores dict (unnormalized), or over some of them.",
  example: 'mean_score(evaluate(z.base, tasks("held_out")))',
  params: [
    { name: "scores", type: "dict", required: true, doc: "evaluate(...)" },
    { name: "tasks", type: "any", doc: "only these tasks (default: every task in scores)" },
  ],
  returns: "number",
  call: (a) => {
    const all = scoresOf(dictArg(a.scores, "scores"));
    const ids = a.tasks === undefined || a.tasks === null ? Object.keys(all) : taskSetArg(a.tasks).tasks.map((t) => t.id);
    const s = ids.map((id) => {
      if (all[id] === undefined) throw new MergelabError(`mean_score: no score for task ${id}`, { param: "tasks" });
      return all[id];
    });
    return s.reduce((x, y) => x + y, 0) / s.length;
  },
};

const expertReferenceSpec: FunctionSpec = {
  name: "expert_reference",
  category: "eval",
  doc: "Each held-in task scored by the expert of its own cluster (experts[c] on tasks(c)): the reference of held-in normalized performance.",
  example: "expert_reference(z.experts)",
  paper,
  params: [
    { name: "experts", type: "models", required: true, doc: "the 8 experts in cluster order" },
    { name: "split", type: "string", default: "test", choices: ["train", "val", "test"], doc: "image split" },
  ],
  returns: "dict",
  call: async (a, ctx) => {
    const xs = a.experts as ModelValue[];
    if (xs.length !== NUM_CLUSTERS) throw new MergelabError(`expert_reference: expected the ${NUM_CLUSTERS} experts in cluster order, got ${xs.length}`, { param: "experts" });
    return ctx.dryRun ? placeholderScores(tasks("held_in")) : expertReference(xs, splitArg(a.split), cacheOf(ctx));
  },
};

function profileArg(v: Value | undefined) {
  const p = PROFILES[v as "full" | "quick"];
  if (!p) throw new MergelabError(`profile must be "full" or "quick", got ${JSON.stringify(v)}`, { param: "profile" });
  return p;
}

/**
 * Training chatter: with `verbose`, a line per trained checkpoint on stdout; otherwise one status line that
 * updates in place (update_display_data) — in a notebook the latest step and a count, nothing in a CLI log.
 */
export function trainingLog(ctx: CallContext, verbose: boolean, label: string): (line: string) => void {
  if (ctx.options.quiet) return () => {};
  if (verbose) return (line) => ctx.stdout(line + "\n");
  const displayId = `mergelab-training-${label}-${Date.now()}`;
  let n = 0;
  return (line) => {
    const text = `${label}: trained ${++n} checkpoint${n === 1 ? "" : "s"} (latest: ${line.replace(/^trained /, "")})`;
    ctx.display({ "text/plain": text }, { displayId, update: n > 1 });
  };
}

const zooSpec: FunctionSpec = {
  name: "zoo",
  category: "eval",
  doc: "The study's models at one width: {base, experts (8, cluster order), multitask, width, params}. The pretrained base learns raw 20-way labels and singleton questions; the instruction-tuned base adds a broad instruction mixture disjoint from held-in and held-out tasks; experts fine-tune the base on one held-in cluster. Trained on first use and cached under .cache/what-matters (MERGELAB_EVAL_CACHE).",
  example: 'zoo(128, base="instruction_tuned")',
  paper,
  params: [
    { name: "width", type: "int", required: true, range: { min: 1, max: 4096 }, doc: "hidden width of the MLP (the model size)" },
    { name: "base", type: "string", default: "instruction_tuned", choices: BASE_KINDS, doc: "which base the experts were fine-tuned from" },
    { name: "profile", type: "string", default: "full", choices: ["full", "quick"], doc: "training budget" },
    { name: "verbose", type: "bool", default: false, doc: "print a line per trained checkpoint (default: one live status line in a notebook, nothing elsewhere)" },
  ],
  returns: "dict",
  call: async (a, ctx) => {
    const p = profileArg(a.profile);
    const width = a.width as number;
    const b = a.base as BaseKind;
    const cache = cacheOf(ctx);
    const paths = zooPaths(cache, p, width);
    const all = [paths.base[b], paths.multitask[b], ...paths.experts[b]];
    const out = (base: ModelValue, experts: ModelValue[], multitask: ModelValue) =>
      record({ base, experts, multitask, width, params: paramCount(width), kind: b });
    if (ctx.dryRun && !all.every(isCheckpoint)) {
      const label = (d: string) => path.relative(cache, d);
      return out(placeholderModel(width, label(paths.base[b])), paths.experts[b].map((d) => placeholderModel(width, label(d))), placeholderModel(width, label(paths.multitask[b])));
    }
    if (ctx.dryRun) return out(loadClassifier(paths.base[b]), paths.experts[b].map((d) => loadClassifier(d)), loadClassifier(paths.multitask[b]));
    const z = await ensureZoo(cache, p, width, trainingLog(ctx, a.verbose === true, `zoo(${width})`));
    return out(z.base[b], z.experts[b], z.multitask[b]);
  },
};

const profileSpec: FunctionSpec = {
  name: "study_profile",
  category: "eval",
  doc: "Settings of the scale study: widths, expert_counts, subsets, methods, and the hyperparameter candidates per method (sweep) chosen on the validation split.",
  example: 'study_profile("full").widths',
  params: [{ name: "name", type: "string", default: "full", choices: ["full", "quick"], doc: "full grid or the quick CI profile" }],
  returns: "dict",
  call: (a) => {
    const p = profileArg(a.name);
    return record({
      name: p.name,
      widths: p.widths,
      expert_counts: p.expertCounts,
      subsets: p.subsets,
      seed: p.seed,
      methods: [...METHODS],
      bases: [...BASE_KINDS],
      sweep: record(Object.fromEntries(METHODS.map((m) => [m, p.sweep[m].map((hp) => record(hp))]))),
    });
  },
};

const subsetsSpec: FunctionSpec = {
  name: "expert_subsets",
  category: "eval",
  doc: "`count` random subsets of n of the 8 held-in clusters (sorted lists of cluster indices), reproducible from the seed.",
  example: "expert_subsets(4, count=3)",
  params: [
    { name: "n", type: "int", required: true, range: { min: 1, max: NUM_CLUSTERS }, doc: "experts per subset" },
    { name: "count", type: "int", default: 3, range: { min: 1 }, doc: "number of subsets" },
    { name: "seed", type: "int", default: 1, range: { min: 0 }, doc: "seed of the draw" },
  ],
  returns: "list",
  call: (a) => expertSubsets(a.n as number, a.count as number, a.seed as number),
};

const mergeWithSpec: FunctionSpec = {
  name: "merge_with",
  category: "eval",
  doc: "Call a merge method by name with a record of its parameters: merge_with(\"ties\", xs, base, {k: 0.2, λ: 1}) is ties(xs, base=base, k=0.2, λ=1). For sweeping methods as data.",
  example: 'merge_with("ties", z.experts, z.base, {k: 0.2, λ: 1})',
  params: [
    { name: "method", type: "string", required: true, doc: "a method name (average, task_arithmetic, ties, dare_ties, …)" },
    { name: "xs", type: "models", required: true, doc: "the experts" },
    { name: "base", type: "model", required: true, doc: "the base model (ignored by average)" },
    { name: "params", type: "dict", default: null, doc: "the method's parameters as a record" },
  ],
  returns: "model",
  call: (a: Args, ctx) => {
    const params = a.params instanceof Dict ? Object.fromEntries(a.params.entries) : {};
    return mergeWith(a.method as string, a.xs as ModelValue[], a.base as ModelValue, params, ctx);
  },
};

const bestSpec: FunctionSpec = {
  name: "best",
  category: "eval",
  doc: "The record of a list with the largest value of one field (the first on ties) — e.g. the hyperparameters with the best validation score.",
  example: 'best([{λ: l, score: 0.5 + l} for l in [0.1, 0.3]], "score")',
  params: [
    { name: "rows", type: "list", required: true, doc: "records" },
    { name: "by", type: "string", required: true, doc: "the field to maximize" },
  ],
  returns: "dict",
  call: (a) => {
    const rows = a.rows as Value[];
    if (rows.length === 0) throw new MergelabError("best: empty list", { param: "rows" });
    let best: Dict | undefined;
    let bestValue = -Infinity;
    for (const r of rows) {
      if (!(r instanceof Dict) || typeof r.get(a.by as string) !== "number") throw new MergelabError(`best: every row must be a record with a number field "${a.by}"`, { param: "rows" });
      const v = r.get(a.by as string) as number;
      if (best === undefined || v > bestValue) [best, bestValue] = [r, v];
    }
    return best!;
  },
};

export const specs: FunctionSpec[] = [
  tasksSpec, evaluateSpec, normalizedSpec, meanScoreSpec, expertReferenceSpec, zooSpec, profileSpec, subsetsSpec, mergeWithSpec, bestSpec,
  ...scaleSpecs,
];

export { TaskSet, tasks, evaluate, normalized, expertReference, mergeWith, defaultCacheDir, scoresOf } from "./api.js";
export { ensureZoo, expertSubsets, zooPaths, trainingKey, PROFILES, METHODS, BASE_KINDS, type Profile, type Zoo, type BaseKind, type MethodName } from "./study.js";
export { loadImages, CLASS_NAMES, PER_CLASS } from "./data.js";
export { buildModel, toWeights, fromWeights, paramCount } from "./model.js";
export { saveClassifier, loadClassifier, toLayers, fromLayers } from "./checkpoint.js";
export { taskPools, selectTasks, type Task } from "./tasks.js";
export { accuracy, classAccuracy } from "./metrics.js";
export { computeFindings, type Finding, type Verdict } from "./findings.js";
export { meanBy, baselineTable, hyperparameterTable, findingsTable } from "./report.js";
