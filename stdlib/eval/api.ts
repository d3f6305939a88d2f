/**
 * The TypeScript API of stdlib/eval — what the language functions in
 * index.ts call, and what TypeScript notebooks and experiments/ use directly.
 */
import path from "node:path";
import { tf } from "../../core/runtime.js";
import { MergelabError } from "../../core/errors.js";
import { isModel, type ModelValue } from "../../engine/index.js";
import { type CallContext, type FunctionSpec } from "../spec.js";
import { Dict, type MimeBundle, type Value } from "../../core/values.js";
import { specs as methodSpecs } from "../methods/index.js";
import { loadImages, type SplitName } from "./data.js";
import { accuracy, normalized as normalizedScores, type Scores } from "./metrics.js";
import { NUM_CLUSTERS, taskPools, selectTasks, type Task } from "./tasks.js";
import { toLayers } from "./checkpoint.js";

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A named list of tasks (what `tasks("held_in")` returns). */
export class TaskSet {
  constructor(
    readonly label: string,
    readonly tasks: readonly Task[],
  ) {}
  toMimeBundle(): MimeBundle {
    const rows = this.tasks.map((t) => `${t.id}\t${t.cluster ?? "-"}\t${t.domain}\t{${t.classes.join(", ")}}`);
    const html = this.tasks.map((t) => `<tr><td>${escape(t.id)}</td><td>${t.cluster ?? "–"}</td><td>${escape(t.domain)}</td><td>{${t.classes.join(", ")}}</td></tr>`);
    return {
      "text/plain": `tasks ${this.label} (${this.tasks.length})\nid\tcluster\tdomain\tclass set\n${rows.join("\n")}`,
      "text/html": `<table><caption>tasks ${escape(this.label)}</caption><tr><th>id</th><th>cluster</th><th>domain</th><th>class set</th></tr>${html.join("")}</table>`,
    };
  }
}

export function isTaskSet(v: unknown): v is TaskSet {
  return v instanceof TaskSet;
}

/** "held_in", "held_out", a cluster index, or a list of cluster indices (a random expert subset). */
export function tasks(which: string | number | readonly number[]): TaskSet {
  if (Array.isArray(which)) {
    const ids = which as readonly number[];
    for (const c of ids) checkCluster(c);
    return new TaskSet(`clusters [${ids.join(", ")}]`, ids.flatMap((c) => selectTasks(c)));
  }
  if (typeof which === "number") {
    checkCluster(which);
    return new TaskSet(`cluster ${which}`, selectTasks(which));
  }
  const found = selectTasks(which as string);
  if (found.length === 0) {
    throw new MergelabError(`tasks: unknown task set "${which}" (expected "held_in", "held_out", "instruction", "pretrain", a cluster 0..${NUM_CLUSTERS - 1} or a list of clusters)`, { param: "which" });
  }
  return new TaskSet(String(which), found);
}

function checkCluster(c: number): void {
  if (!Number.isInteger(c) || c < 0 || c >= NUM_CLUSTERS) {
    throw new MergelabError(`tasks: cluster ${c} does not exist (clusters are 0..${NUM_CLUSTERS - 1})`, { param: "which" });
  }
}

/** Where images and checkpoints are cached: MERGELAB_EVAL_CACHE, else CWD/.cache/what-matters. */
export function defaultCacheDir(cwd = process.cwd()): string {
  return path.resolve(cwd, process.env.MERGELAB_EVAL_CACHE ?? ".cache/what-matters");
}

// A merged model is evaluated on held-in and held-out tasks: keep its layers form for the next call.
const layersCache: Array<{ model: ModelValue; layers: tf.Sequential }> = [];
const scoreMemo = new WeakMap<object, Map<string, Scores>>();

async function asLayers(model: ModelValue): Promise<tf.Sequential> {
  const hit = layersCache.find((e) => e.model === model);
  if (hit) return hit.layers;
  const layers = await toLayers(model);
  layersCache.push({ model, layers });
  if (layersCache.length > 2) layersCache.shift()!.layers.dispose();
  return layers;
}

/** Accuracy of the membership answer per task (a Dict task id → accuracy), memoized per model. */
export async function evaluate(model: ModelValue | tf.LayersModel, set: TaskSet, split: SplitName = "test", cacheDir = defaultCacheDir()): Promise<Dict> {
  if (!["train", "val", "test"].includes(split)) throw new MergelabError(`evaluate: split must be "train", "val" or "test", got "${split}"`, { param: "split" });
  const key = `${split}:${set.tasks.map((t) => t.id).join(",")}`;
  const memo = scoreMemo.get(model) ?? new Map<string, Scores>();
  scoreMemo.set(model, memo);
  let scores = memo.get(key);
  if (!scores) {
    const layers = isModel(model) ? await asLayers(model) : model;
    scores = accuracy(layers, loadImages(cacheDir), [...set.tasks], split);
    memo.set(key, scores);
  }
  return new Dict(new Map(Object.entries(scores)));
}

export function scoresOf(d: Dict): Scores {
  const out: Scores = {};
  for (const [k, v] of d.entries) {
    if (typeof v !== "number") throw new MergelabError(`scores: entry "${k}" is not a number`);
    out[k] = v;
  }
  return out;
}

const allTasks = () => [...taskPools().heldIn, ...taskPools().heldOut, ...taskPools().instruction, ...taskPools().pretrain];

/** mean over the tasks in `scores` (or `set`) of scores[t] / reference[t] — the paper's normalized performance. */
export function normalized(scores: Dict, reference: Dict, set?: TaskSet): number {
  const s = scoresOf(scores);
  const ids = set ? set.tasks.map((t) => t.id) : Object.keys(s);
  const byId = new Map(allTasks().map((t) => [t.id, t]));
  return normalizedScores(s, scoresOf(reference), ids.map((id) => byId.get(id) ?? { id, classes: [], domain: "clean" }));
}

/** Each held-in task scored by the expert of its own cluster: experts[c] on tasks(c). */
export async function expertReference(experts: ModelValue[], split: SplitName = "test", cacheDir = defaultCacheDir()): Promise<Dict> {
  if (experts.length !== NUM_CLUSTERS) throw new MergelabError(`expert_reference: expected the ${NUM_CLUSTERS} experts in cluster order, got ${experts.length}`, { param: "experts" });
  const out = new Map<string, Value>();
  for (let c = 0; c < NUM_CLUSTERS; c++) {
    const s = await evaluate(experts[c], tasks(c), split, cacheDir);
    for (const [k, v] of s.entries) out.set(k, v);
  }
  return new Dict(out);
}

/** A context for calling language functions from TypeScript. */
export function tsContext(cwd = process.cwd()): CallContext {
  return { cwd, dryRun: false, stdout: (t) => process.stdout.write(t), display: () => {}, options: { quiet: true } };
}

/** Call a merge method of stdlib/methods by name, defaults filled from its spec. */
export async function mergeWith(method: string, xs: ModelValue[], base: ModelValue, params: Record<string, Value>, ctx: CallContext = tsContext()): Promise<ModelValue> {
  const spec: FunctionSpec | undefined = methodSpecs.find((s) => s.name === method || s.aliases?.includes(method));
  if (!spec) throw new MergelabError(`merge_with: unknown method "${method}"`, { param: "method" });
  const args: Record<string, Value | undefined> = {};
  for (const p of spec.params) {
    const given = [p.name, ...(p.aliases ?? [])].find((n) => n in params);
    args[p.name] = given !== undefined ? params[given] : p.default;
  }
  args.xs = xs;
  if (spec.params.some((p) => p.name === "base")) args.base = base;
  const out = await spec.call(args, ctx);
  if (!isModel(out)) throw new MergelabError(`merge_with: method "${method}" did not return a model`);
  return out;
}
