/**
 * The scale study, version 2 (issue #14): "What Matters for Model Merging at
 * Scale?" (Yadav et al. 2024) in the paper's regime — task vectors small
 * against the weights, near a base that can partly do the held-in tasks.
 *
 * Tasks: "is this image in class set S?" (S as a 20-dim multi-hot instruction)
 * on images under a corruption the model is not told (corruptions.ts):
 *   pretraining         raw 20-way labels + the 20 singletons {c}, mild augmentation
 *   instruction tuning  180 class sets of size 2–6 under clean/brightness/gamma/pixelate/mirror
 *   held-in             8 clusters = 8 corruptions (noise, blur, contrast, shift, occlusion,
 *                       salt-and-pepper, dilation, erosion) × 3 class sets
 *   held-out            12 unseen class sets under 8 compositions of two held-in corruptions
 *                       and 2 unseen corruptions (stripes, speckle)
 * No class set is in two pools.
 *
 * Zoo, per zoo seed and width: pretrained base; instruction-tuned base (from the
 * pretrained one); per base and expert *setting* (learning rate, steps, lazy
 * hidden layers): 8 experts, one per held-in cluster, and optionally a multitask
 * model trained on all 8. Checkpoints: CACHE/v2-<key>/s<seed>/w<width>/<base>/…
 */
import crypto from "node:crypto";
import path from "node:path";
import { tf } from "../../core/runtime.js";
import { MergelabError } from "../../core/errors.js";
import { loadImages, NUM_CLASSES, PER_CLASS } from "./data.js";
import { buildModel, fromWeights, toWeights } from "./model.js";
import { rng, sample, type Task } from "./tasks.js";
import { train, type Mixture } from "./train.js";
import { isCheckpoint, loadClassifier, saveClassifier, toLayers } from "./checkpoint.js";
import { HELD_IN_CORRUPTIONS, HELD_OUT_CORRUPTIONS, INSTRUCTION_CORRUPTIONS, SEVERITY } from "./corruptions.js";
import type { ModelValue } from "../../engine/index.js";
import type { BaseKind } from "./study.js";

export const SCALE_CLUSTERS = HELD_IN_CORRUPTIONS.length;
const SETS_PER_CLUSTER = 3;
const NUM_INSTRUCTION = 180;
export const SCALE_METHODS = ["average", "task_arithmetic", "ties", "dare_ties"] as const;
export type ScaleMethod = (typeof SCALE_METHODS)[number];

export interface ScalePools {
  pretrain: Task[];
  instruction: Task[];
  heldIn: Task[];
  heldOut: Task[];
}

function buildPools(): ScalePools {
  const rand = rng(20241014);
  const used = new Set<string>();
  const fresh = (classes: number[]) => {
    const k = classes.join(",");
    if (used.has(k)) return false;
    used.add(k);
    return true;
  };
  const all = Array.from({ length: NUM_CLASSES }, (_, c) => c);
  const draw = (lo: number, hi: number) => sample(all, lo + Math.floor(rand() * (hi - lo + 1)), rand).sort((a, b) => a - b);
  const pretrain: Task[] = all.map((c) => ({ id: `s2_single_${c}`, classes: [c], domain: "clean", corruption: "augment" }));
  pretrain.forEach((t) => fresh(t.classes));
  const heldIn: Task[] = [];
  HELD_IN_CORRUPTIONS.forEach((corruption, cluster) => {
    for (let j = 0; j < SETS_PER_CLUSTER; ) {
      const classes = draw(2, 5);
      if (fresh(classes)) heldIn.push({ id: `s2_${corruption}_${j++}`, cluster, classes, domain: "clean", corruption });
    }
  });
  const heldOut: Task[] = [];
  HELD_OUT_CORRUPTIONS.forEach((corruption, i) => {
    for (;;) {
      const classes = draw(2, 5);
      if (fresh(classes)) {
        heldOut.push({ id: `s2_out_${i}_${corruption.replace(/@[0-9.]+/g, "")}`, classes, domain: "clean", corruption });
        break;
      }
    }
  });
  const instruction: Task[] = [];
  while (instruction.length < NUM_INSTRUCTION) {
    const classes = draw(2, 6);
    const corruption = INSTRUCTION_CORRUPTIONS[instruction.length % INSTRUCTION_CORRUPTIONS.length];
    if (fresh(classes)) instruction.push({ id: `s2_it_${instruction.length}`, classes, domain: "clean", corruption });
  }
  return { pretrain, instruction, heldIn, heldOut };
}

let pools: ScalePools | undefined;
export function scalePools(): ScalePools {
  return (pools ??= buildPools());
}

/** "held_in", "held_out", "instruction", "pretrain", a cluster index, or a list of clusters. */
export function scaleTasks(which: string | number | readonly number[]): Task[] {
  const p = scalePools();
  const cluster = (c: number) => {
    if (!Number.isInteger(c) || c < 0 || c >= SCALE_CLUSTERS) throw new MergelabError(`scale_tasks: cluster ${c} does not exist (clusters are 0..${SCALE_CLUSTERS - 1})`, { param: "which" });
    return p.heldIn.filter((t) => t.cluster === c);
  };
  if (Array.isArray(which)) return (which as number[]).flatMap(cluster);
  if (typeof which === "number") return cluster(which);
  const named: Record<string, Task[]> = { held_in: p.heldIn, held_out: p.heldOut, instruction: p.instruction, pretrain: p.pretrain };
  const hit = named[which as string];
  if (!hit) throw new MergelabError(`scale_tasks: unknown task set "${which}" (expected "held_in", "held_out", "instruction", "pretrain", a cluster 0..${SCALE_CLUSTERS - 1} or a list of clusters)`, { param: "which" });
  return hit;
}

/** How experts are fine-tuned: the learning-rate axis, the harsh control and the lazy-width manipulation. */
export interface ExpertSetting {
  name: string;
  lr: number;
  steps: number;
  /** multitask model trained with this setting (steps), or 0 for none */
  multitaskSteps: number;
  /** hidden layers' learning rate ∝ 1/width: lr · widths[0] / width */
  lazy: boolean;
  /** zoo seeds (indices into profile.seeds) that train this setting */
  seeds: "all" | "first";
  /** which grid cells merge it: every method and count, or the reduced control grid */
  grid: "full" | "reduced";
  /** the bases whose experts are trained with it */
  bases: BaseKind[];
}

export interface ScaleProfile {
  name: string;
  widths: number[];
  /** zoo seeds: initialisation and data order */
  seeds: number[];
  batch: number;
  steps: { pretrain: number; instruct: number };
  lr: { pretrain: number; instruct: number };
  settings: ExpertSetting[];
  expertCounts: number[];
  /** random expert subsets per n < 8 (n = 8 has one) */
  subsets: number;
  reduced: { methods: ScaleMethod[]; expertCounts: number[] };
  /** initial candidates per method (the base, λ = 0, is always one more); widened at an edge by widenGrid */
  sweep: Record<ScaleMethod, Array<Record<string, number>>>;
  /** widening rounds at most */
  widen: number;
}

const SWEEP: ScaleProfile["sweep"] = {
  average: [{}],
  task_arithmetic: [0.25, 0.5, 1].map((λ) => ({ λ })),
  ties: [0.1, 0.3, 1].flatMap((k) => [0.6, 1.2].map((λ) => ({ k, λ }))),
  dare_ties: [0.5, 0.9].flatMap((p) => [0.6, 1.2].map((λ) => ({ p, λ }))),
};

const BOTH: BaseKind[] = ["pretrained", "instruction_tuned"];

export const SCALE_PROFILES: Record<"full" | "quick", ScaleProfile> = {
  full: {
    name: "full",
    widths: [12, 24, 48, 96, 256],
    seeds: [1, 2, 3],
    batch: 64,
    steps: { pretrain: 1000, instruct: 600 },
    lr: { pretrain: 2e-3, instruct: 1e-3 },
    settings: [
      { name: "lr1e-4", lr: 1e-4, steps: 150, multitaskSteps: 0, lazy: false, seeds: "all", grid: "full", bases: BOTH },
      { name: "lr3e-4", lr: 3e-4, steps: 150, multitaskSteps: 450, lazy: false, seeds: "all", grid: "full", bases: BOTH },
      { name: "lazy3e-4", lr: 3e-4, steps: 150, multitaskSteps: 0, lazy: true, seeds: "all", grid: "reduced", bases: ["instruction_tuned"] },
      { name: "harsh1e-3", lr: 1e-3, steps: 300, multitaskSteps: 0, lazy: false, seeds: "first", grid: "reduced", bases: ["instruction_tuned"] },
    ],
    expertCounts: [2, 4, 6, 8],
    subsets: 3,
    reduced: { methods: ["average", "task_arithmetic"], expertCounts: [2, 8] },
    sweep: SWEEP,
    widen: 3,
  },
  quick: {
    name: "quick",
    widths: [8, 16],
    seeds: [1, 2],
    batch: 32,
    steps: { pretrain: 60, instruct: 40 },
    lr: { pretrain: 3e-3, instruct: 2e-3 },
    settings: [
      { name: "lr3e-4", lr: 3e-4, steps: 15, multitaskSteps: 30, lazy: false, seeds: "all", grid: "full", bases: BOTH },
      { name: "lazy3e-4", lr: 3e-4, steps: 15, multitaskSteps: 0, lazy: true, seeds: "first", grid: "reduced", bases: ["instruction_tuned"] },
    ],
    expertCounts: [2, 8],
    subsets: 2,
    reduced: { methods: ["task_arithmetic"], expertCounts: [2] },
    sweep: {
      average: [{}],
      task_arithmetic: [{ λ: 0.5 }, { λ: 1 }],
      ties: [{ k: 0.3, λ: 1 }],
      dare_ties: [{ p: 0.5, λ: 1 }],
    },
    widen: 1,
  },
};

export function scaleProfile(name: unknown): ScaleProfile {
  const p = SCALE_PROFILES[name as "full" | "quick"];
  if (!p) throw new MergelabError(`profile must be "full" or "quick", got ${JSON.stringify(name)}`, { param: "profile" });
  return p;
}

export const settingsFor = (p: ScaleProfile, seedIndex: number, base?: BaseKind) =>
  p.settings.filter((s) => (s.seeds === "all" || seedIndex === 0) && (base === undefined || s.bases.includes(base)));

/** What training depends on: any change retrains (new cache directory). */
export function scaleTrainingKey(p: ScaleProfile): string {
  // the grid a setting is merged on does not change its checkpoints
  const settings = p.settings.map(({ grid: _grid, ...training }) => training);
  const text = JSON.stringify({ v: 1, batch: p.batch, steps: p.steps, lr: p.lr, settings, widths: p.widths, data: PER_CLASS, severity: SEVERITY, pools: scalePools() });
  return crypto.createHash("sha256").update(text).digest("hex").slice(0, 12);
}

export interface ScaleZooPaths {
  root: string;
  base: Record<BaseKind, string>;
  experts: Record<BaseKind, Record<string, string[]>>;
  multitask: Record<BaseKind, Record<string, string>>;
}

const BASES: BaseKind[] = ["pretrained", "instruction_tuned"];
const per = <T>(f: (b: BaseKind) => T) => Object.fromEntries(BASES.map((b) => [b, f(b)])) as Record<BaseKind, T>;

export function scaleZooPaths(cacheDir: string, p: ScaleProfile, seedIndex: number, width: number): ScaleZooPaths {
  const root = path.resolve(cacheDir, `v2-${scaleTrainingKey(p)}`, `s${p.seeds[seedIndex]}`, `w${width}`);
  return {
    root,
    base: per((b) => path.join(root, b, "base")),
    experts: per((b) => Object.fromEntries(settingsFor(p, seedIndex, b).map((s) => [s.name, Array.from({ length: SCALE_CLUSTERS }, (_, c) => path.join(root, b, s.name, `expert_${c}`))]))),
    multitask: per((b) => Object.fromEntries(settingsFor(p, seedIndex, b).filter((s) => s.multitaskSteps > 0).map((s) => [s.name, path.join(root, b, s.name, "multitask")]))),
  };
}

export interface ScaleZoo {
  width: number;
  seed: number;
  base: Record<BaseKind, ModelValue>;
  experts: Record<BaseKind, Record<string, ModelValue[]>>;
  multitask: Record<BaseKind, Record<string, ModelValue>>;
}

type Log = (line: string) => void;

/** Timings of every checkpoint trained in this process (seconds, by stage): the runner reports them. */
export const trainingSeconds: Array<{ checkpoint: string; width: number; steps: number; seconds: number }> = [];

async function fromDisk(dir: string): Promise<tf.Sequential> {
  return toLayers(loadClassifier(dir));
}

function copyOf(model: tf.LayersModel): tf.Sequential {
  const w = toWeights(model);
  try {
    return fromWeights(w);
  } finally {
    for (const t of Object.values(w)) t.dispose();
  }
}

/** Train (or find in the cache) every checkpoint of one zoo seed and width. */
export async function ensureScaleZoo(cacheDir: string, p: ScaleProfile, seedIndex: number, width: number, log: Log = () => {}): Promise<ScaleZoo> {
  if (!Number.isInteger(width) || width < 1) throw new MergelabError(`width must be a positive integer, got ${width}`);
  if (!Number.isInteger(seedIndex) || seedIndex < 0 || seedIndex >= p.seeds.length) throw new MergelabError(`seed must be 0..${p.seeds.length - 1} (an index into the profile's seeds), got ${seedIndex}`, { param: "seed" });
  const paths = scaleZooPaths(cacheDir, p, seedIndex, width);
  const seed = p.seeds[seedIndex] * 100003 + width * 101;
  const pools = scalePools();
  const kept = new Map<string, tf.Sequential>();
  const start = async (from: string | number) => {
    if (typeof from === "number") return buildModel(from, seed);
    const hit = kept.get(from);
    return hit ? copyOf(hit) : fromDisk(from);
  };
  const stage = async (target: string, from: string | number, mix: Mixture, steps: number, lr: number, stageSeed: number, info: Record<string, string | number>, hiddenLrScale = 1, keep = false) => {
    if (isCheckpoint(target)) return;
    const model = await start(from);
    const t0 = Date.now();
    const loss = train(model, loadImages(cacheDir), mix, { steps, batch: p.batch, lr, seed: stageSeed, hiddenLrScale });
    saveClassifier(model, target, { ...info, steps, lr, seed: stageSeed, hidden_lr_scale: hiddenLrScale, final_loss: loss.toFixed(4) });
    const seconds = (Date.now() - t0) / 1000;
    trainingSeconds.push({ checkpoint: path.relative(cacheDir, target), width, steps, seconds });
    log(`trained ${path.relative(cacheDir, target)}: ${steps} steps, loss ${loss.toFixed(3)}, ${seconds.toFixed(1)} s`);
    if (keep) kept.set(target, model);
    else model.dispose();
  };
  try {
    await stage(paths.base.pretrained, width, { tasks: pools.pretrain, rawFraction: 0.5, augment: "augment" }, p.steps.pretrain, p.lr.pretrain, seed + 1, { stage: "pretrained", width }, 1, true);
    await stage(paths.base.instruction_tuned, paths.base.pretrained, { tasks: pools.instruction, rawFraction: 0.25, augment: "augment" }, p.steps.instruct, p.lr.instruct, seed + 2, { stage: "instruction_tuned", width }, 1, true);
    for (const b of BASES) {
      for (const s of settingsFor(p, seedIndex, b)) {
        const scale = s.lazy ? p.widths[0] / width : 1;
        for (let c = 0; c < SCALE_CLUSTERS; c++) {
          await stage(paths.experts[b][s.name][c], paths.base[b], { tasks: scaleTasks(c), rawFraction: 0 }, s.steps, s.lr, seed + 10 + c, { stage: `expert_${c}`, base: b, setting: s.name, width }, scale);
        }
        if (s.multitaskSteps > 0) {
          await stage(paths.multitask[b][s.name], paths.base[b], { tasks: pools.heldIn, rawFraction: 0 }, s.multitaskSteps, s.lr, seed + 30, { stage: "multitask", base: b, setting: s.name, width }, scale);
        }
      }
    }
  } finally {
    for (const m of kept.values()) m.dispose();
  }
  const load = (d: string) => loadClassifier(d);
  return {
    width,
    seed: p.seeds[seedIndex],
    base: per((b) => load(paths.base[b])),
    experts: per((b) => Object.fromEntries(Object.entries(paths.experts[b]).map(([k, ds]) => [k, ds.map(load)]))),
    multitask: per((b) => Object.fromEntries(Object.entries(paths.multitask[b]).map(([k, d]) => [k, load(d)]))),
  };
}

/**
 * Widening of a hyperparameter grid at its edges: when the chosen candidate has the largest λ tried
 * (for its k or p), add λ·1.5 and λ·2; when it has the smallest nonzero λ, add λ/2; when TIES chose the
 * smallest k, add k/3. Returns only candidates not tried yet (none: the choice is interior).
 */
export function widenGrid(method: string, tried: Array<Record<string, number>>, chosen: Record<string, number>): Array<Record<string, number>> {
  if (chosen.λ === undefined || !Number.isFinite(chosen.λ) || chosen.λ === 0) return [];
  const same = (h: Record<string, number>, key: string) => key === "" || h[key] === chosen[key];
  const other = method === "ties" ? "k" : method === "dare_ties" ? "p" : "";
  const lambdas = tried.filter((h) => h.λ !== undefined && h.λ > 0 && same(h, other)).map((h) => h.λ);
  const out: Array<Record<string, number>> = [];
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  if (chosen.λ >= Math.max(...lambdas)) out.push({ ...chosen, λ: round(chosen.λ * 1.5) }, { ...chosen, λ: round(chosen.λ * 2) });
  if (chosen.λ <= Math.min(...lambdas)) out.push({ ...chosen, λ: round(chosen.λ / 2) });
  if (method === "ties") {
    const ks = tried.filter((h) => h.k !== undefined).map((h) => h.k);
    if (chosen.k <= Math.min(...ks)) out.push({ ...chosen, k: round(chosen.k / 3) });
  }
  const seen = new Set(tried.map((h) => JSON.stringify(h)));
  return out.filter((h) => !seen.has(JSON.stringify(h)));
}

/** Per-expert ‖τ‖/‖θ_base‖ and pairwise cos(τᵢ, τⱼ) over all parameters (τ = expert − base). */
export async function taskVectorStats(experts: ModelValue[], base: ModelValue): Promise<{ rel_norm: number[]; cos: number[] }> {
  const { materialize } = await import("../../engine/index.js");
  const b = await materialize(base, { workers: 0 });
  const names = Object.keys(b).sort();
  const flat = (w: Record<string, tf.Tensor>) => {
    const parts = names.map((n) => w[n].dataSync() as Float32Array);
    const out = new Float64Array(parts.reduce((s, x) => s + x.length, 0));
    let o = 0;
    for (const x of parts) {
      for (let i = 0; i < x.length; i++) out[o + i] = x[i];
      o += x.length;
    }
    return out;
  };
  const theta = flat(b);
  for (const t of Object.values(b)) t.dispose();
  const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const taus: Float64Array[] = [];
  for (const e of experts) {
    const w = await materialize(e, { workers: 0 });
    const v = flat(w);
    for (const t of Object.values(w)) t.dispose();
    for (let i = 0; i < v.length; i++) v[i] -= theta[i];
    taus.push(v);
  }
  const thetaNorm = norm(theta);
  const cos: number[] = [];
  for (let i = 0; i < taus.length; i++) {
    for (let j = i + 1; j < taus.length; j++) {
      let d = 0;
      for (let k = 0; k < theta.length; k++) d += taus[i][k] * taus[j][k];
      cos.push(d / (norm(taus[i]) * norm(taus[j])));
    }
  }
  return { rel_norm: taus.map((t) => norm(t) / thetaNorm), cos };
}
