/**
 * Scale-out: N processes (a Kubernetes Indexed Job, a Slurm job array) each
 * merge a deterministic 1/N of the output tensors, then `mergelab finalize`
 * assembles one Hugging Face directory.
 *
 * Assignment: tensors sorted by name, then greedily placed largest first
 * (ties by name) on the least-loaded shard (ties by lowest index) — the LPT
 * rule, balanced by bytes. It depends only on tensor names and shapes, so
 * every process computes the same assignment without talking to the others;
 * and each tensor's value depends only on its own recipe, so a shard's
 * tensors are bit-identical to the same tensors of a single-process run.
 * (Model-wide statistics — ties scope="model" — cannot be split: refused.)
 *
 *   OUT/.shards/shard-00001-of-00003/   a complete checkpoint of shard 0's tensors
 *   OUT/.shards/shard-00002-of-00003/   …
 *   mergelab finalize OUT  →  OUT/model-0000k-of-0000K.safetensors + index + card
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import { DTYPES, isComputedFloat } from "../io/dtypes.js";
import { ModelValue } from "./model.js";
import { Graph, type Node } from "./ir.js";

export interface ShardSpec {
  /** 0-based: JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID with --array=0-(N-1). */
  index: number;
  count: number;
}

export const SHARDS_DIR = ".shards";

/** "I/N" with 0 <= I < N. */
export function parseShard(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new MergelabError(`--shard ${JSON.stringify(text)}: expected I/N with 0 <= I < N (e.g. --shard 0/4; I is JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID)`);
  }
  return { index, count };
}

const pad = (n: number) => String(n).padStart(5, "0");

/** The directory shard `spec` of output `target` is written to. */
export function shardDir(target: string, spec: ShardSpec): string {
  return path.join(target, SHARDS_DIR, `shard-${pad(spec.index + 1)}-of-${pad(spec.count)}`);
}

/** Shard index of each tensor (LPT by bytes over the name-sorted list). */
export function assignShards(tensors: ReadonlyArray<{ name: string; bytes: number }>, count: number): Map<string, number> {
  const order = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const bySize = order.map((t, i) => ({ ...t, i })).sort((a, b) => b.bytes - a.bytes || a.i - b.i);
  const load = new Array<number>(count).fill(0);
  const out = new Map<string, number>();
  for (const t of bySize) {
    let best = 0;
    for (let s = 1; s < count; s++) if (load[s] < load[best]) best = s;
    load[best] += t.bytes;
    out.set(t.name, best);
  }
  return out;
}

/** true when some tensor's recipe takes a statistic over the whole model (kthModel: ties scope="model"). */
function usesModelStatistics(model: ModelValue): boolean {
  const g = new Graph();
  const seen = new Set<Node>();
  const walk = (n: Node): boolean => {
    if (seen.has(n)) return false;
    seen.add(n);
    return n.op === "kthModel" || n.src.some(walk);
  };
  for (const [name, t] of model.tensors) if (isComputedFloat(t.dtype) && walk(model.recipe(g, name))) return true;
  return false;
}

/** The part of `model` shard `spec` computes: the same recipes, a subset of the tensors. */
export function shardModel(model: ModelValue, spec: ShardSpec): ModelValue {
  if (usesModelStatistics(model)) {
    throw new MergelabError('--shard: this merge takes statistics over the whole model (e.g. ties(..., scope="model")), which one shard cannot compute; run it without --shard');
  }
  const sizes = [...model.tensors].map(([name, t]) => ({ name, bytes: t.shape.reduce((a, b) => a * b, 1) * DTYPES[t.dtype].size }));
  const assigned = assignShards(sizes, spec.count);
  const tensors = new Map([...model.tensors].filter(([name]) => assigned.get(name) === spec.index));
  const check = (name: string) => {
    if (!tensors.has(name)) throw new MergelabError(`tensor '${name}' is not in shard ${spec.index}/${spec.count}`, { tensor: name });
    return name;
  };
  return new ModelValue({
    tensors,
    recipe: (g, name) => model.recipe(g, check(name)),
    carry: (name) => model.carry(check(name)),
    layerSource: model.layerSource,
    origin: model.origin,
    label: `${model.label} [shard ${spec.index}/${spec.count}]`,
    inputs: model.inputs,
    steps: model.steps,
  });
}

/** `__metadata__` key (and, for an empty shard, file name) of a shard's recipe hash. */
export const RECIPE_KEY = "mergelab_recipe_sha256";
export const EMPTY_SHARD_RECIPE = ".mergelab-recipe";

/**
 * The hash of what a shard computes: the script, its `--set` values, the
 * mergekit config, the shard count and the output. Shards of one merge agree
 * on it; finalize refuses a mix.
 */
export function recipeHash(recipe: { text: string; mergekitConfig?: { text: string }; overrides?: ReadonlyArray<readonly [string, string]> } | undefined, count: number, output: string): string {
  const overrides = [...(recipe?.overrides ?? [])].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const text = JSON.stringify({ script: recipe?.text ?? null, config: recipe?.mergekitConfig?.text ?? null, overrides, count, output });
  return crypto.createHash("sha256").update(text).digest("hex");
}

/** A shard with no tensors (N above the tensor count): an empty directory (with its recipe hash) tells finalize it ran. */
export function writeEmptyShard(dir: string, recipe?: string): void {
  fs.mkdirSync(dir, { recursive: true });
  if (recipe) fs.writeFileSync(path.join(dir, EMPTY_SHARD_RECIPE), recipe + "\n");
}
