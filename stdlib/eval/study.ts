/**
 * The model zoo of the scale study and its on-disk cache.
 *
 * For each width and each base kind:
 *   pretrained          = fresh MLP trained on raw 20-way labels + singleton questions
 *   instruction_tuned   = pretrained, further trained on the broad instruction mixture
 *   expert_c (c = 0..7) = base fully fine-tuned on held-in cluster c
 *   multitask           = base fine-tuned on all held-in clusters (the paper's multitask baseline)
 * Checkpoints live in CACHE/<profile hash>/w<width>/…, so a rerun with the same
 * training settings loads instead of training; any change of settings gets a new hash.
 */
import crypto from "node:crypto";
import path from "node:path";
import { tf } from "../../core/runtime.js";
import { MergelabError } from "../../core/errors.js";
import { loadImages, PER_CLASS } from "./data.js";
import { buildModel, fromWeights, toWeights } from "./model.js";
import { NUM_CLUSTERS, taskPools, selectTasks } from "./tasks.js";
import { train, type Mixture } from "./train.js";
import { isCheckpoint, loadClassifier, saveClassifier, toLayers } from "./checkpoint.js";
import type { ModelValue } from "../../engine/index.js";

export type BaseKind = "pretrained" | "instruction_tuned";
export const BASE_KINDS: BaseKind[] = ["pretrained", "instruction_tuned"];
/** Per width: each base, and for each base its 8 experts and the multitask model. */
export const CHECKPOINTS_PER_WIDTH = BASE_KINDS.length * (2 + NUM_CLUSTERS);
export const METHODS = ["average", "task_arithmetic", "ties", "dare_ties"] as const;
export type MethodName = (typeof METHODS)[number];

export interface TrainingProfile {
  widths: number[];
  batch: number;
  steps: { pretrain: number; instruct: number; expert: number; multitask: number };
  lr: { pretrain: number; instruct: number; finetune: number };
  seed: number;
}

export interface Profile extends TrainingProfile {
  name: string;
  expertCounts: number[];
  subsets: number;
  /** Hyperparameter candidates per method, chosen on the validation split (held-in, normalized). */
  sweep: Record<MethodName, Array<Record<string, number>>>;
}

const SWEEP: Profile["sweep"] = {
  average: [{}],
  task_arithmetic: [0.1, 0.2, 0.35, 0.5, 0.7, 1.0, 1.3].map((λ) => ({ λ })),
  ties: [0.1, 0.3, 0.6, 1.0].flatMap((k) => [0.5, 0.8, 1.1, 1.4].map((λ) => ({ k, λ }))),
  dare_ties: [0.1, 0.3, 0.6, 0.9].flatMap((p) => [0.5, 0.8, 1.1, 1.4].map((λ) => ({ p, λ }))),
};

export const PROFILES: Record<"full" | "quick", Profile> = {
  full: {
    name: "full",
    widths: [16, 40, 100, 250],
    batch: 128,
    steps: { pretrain: 1200, instruct: 1000, expert: 300, multitask: 600 },
    lr: { pretrain: 2e-3, instruct: 1e-3, finetune: 1e-3 },
    seed: 1,
    expertCounts: [2, 4, 6, 8],
    subsets: 3,
    sweep: SWEEP,
  },
  quick: {
    name: "quick",
    widths: [16, 64],
    batch: 64,
    steps: { pretrain: 150, instruct: 100, expert: 30, multitask: 60 },
    lr: { pretrain: 3e-3, instruct: 2e-3, finetune: 2e-3 },
    seed: 1,
    expertCounts: [2, 8],
    subsets: 1,
    sweep: {
      average: [{}],
      task_arithmetic: [{ λ: 0.3 }, { λ: 1.0 }],
      ties: [{ k: 0.2, λ: 1.0 }],
      dare_ties: [{ p: 0.5, λ: 1.0 }],
    },
  },
};

/** What training depends on: a change here retrains (new cache directory). */
export function trainingKey(p: TrainingProfile): string {
  const text = JSON.stringify({ v: 3, batch: p.batch, steps: p.steps, lr: p.lr, seed: p.seed, data: PER_CLASS, pools: taskPools() });
  return crypto.createHash("sha256").update(text).digest("hex").slice(0, 12);
}

export interface ZooPaths {
  root: string;
  base: Record<BaseKind, string>;
  experts: Record<BaseKind, string[]>;
  multitask: Record<BaseKind, string>;
}

export function zooPaths(cacheDir: string, p: TrainingProfile, width: number): ZooPaths {
  const root = path.resolve(cacheDir, trainingKey(p), `w${width}`);
  const per = <T>(f: (b: BaseKind) => T) => Object.fromEntries(BASE_KINDS.map((b) => [b, f(b)])) as Record<BaseKind, T>;
  return {
    root,
    base: per((b) => path.join(root, b, "base")),
    experts: per((b) => Array.from({ length: NUM_CLUSTERS }, (_, c) => path.join(root, b, `expert_${c}`))),
    multitask: per((b) => path.join(root, b, "multitask")),
  };
}

export interface Zoo {
  width: number;
  base: Record<BaseKind, ModelValue>;
  experts: Record<BaseKind, ModelValue[]>;
  multitask: Record<BaseKind, ModelValue>;
  paths: ZooPaths;
}

type Log = (line: string) => void;

/** Models trained in this process, by checkpoint path: later stages start from them without a disk round trip. */
const justTrained = new Map<string, tf.Sequential>();

async function startFrom(dir: string): Promise<tf.Sequential> {
  const hit = justTrained.get(dir);
  if (hit) return fromWeightsOf(hit);
  return toLayers(loadClassifier(dir));
}

function fromWeightsOf(model: tf.LayersModel): tf.Sequential {
  const w = toWeights(model);
  try {
    return fromWeights(w);
  } finally {
    for (const t of Object.values(w)) t.dispose();
  }
}

/** Free the models kept from training (the checkpoints stay on disk). */
export function releaseTrained(): void {
  for (const m of justTrained.values()) m.dispose();
  justTrained.clear();
}

async function trainStage(
  target: string, from: string | number, mix: Mixture, steps: number, lr: number, seed: number,
  p: TrainingProfile, cacheDir: string, log: Log, info: Record<string, string | number>,
): Promise<void> {
  if (isCheckpoint(target)) return;
  const data = loadImages(cacheDir);
  const model = typeof from === "number" ? buildModel(from, seed) : await startFrom(from);
  const t0 = Date.now();
  const loss = train(model, data, mix, { steps, batch: p.batch, lr, seed });
  saveClassifier(model, target, { ...info, steps, lr, seed, final_loss: loss.toFixed(4) });
  justTrained.get(target)?.dispose();
  justTrained.set(target, model);
  log(`trained ${path.relative(cacheDir, target)}: ${steps} steps, loss ${loss.toFixed(3)}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Train (or find in the cache) every checkpoint of one width; returns them as lazy models. */
export async function ensureZoo(cacheDir: string, p: TrainingProfile, width: number, log: Log = () => {}): Promise<Zoo> {
  if (!Number.isInteger(width) || width < 1) throw new MergelabError(`width must be a positive integer, got ${width}`);
  const paths = zooPaths(cacheDir, p, width);
  const seed = p.seed * 1000 + width;
  await trainStage(paths.base.pretrained, width, { tasks: taskPools().pretrain, rawFraction: 0.5 }, p.steps.pretrain, p.lr.pretrain, seed, p, cacheDir, log, { stage: "pretrained", width });
  await trainStage(paths.base.instruction_tuned, paths.base.pretrained, { tasks: taskPools().instruction, rawFraction: 0.25 }, p.steps.instruct, p.lr.instruct, seed + 1, p, cacheDir, log, { stage: "instruction_tuned", width });
  for (const b of BASE_KINDS) {
    for (let c = 0; c < NUM_CLUSTERS; c++) {
      await trainStage(paths.experts[b][c], paths.base[b], { tasks: selectTasks(c), rawFraction: 0 }, p.steps.expert, p.lr.finetune, seed + 10 + c, p, cacheDir, log, { stage: `expert_${c}`, base: b, width });
    }
    await trainStage(paths.multitask[b], paths.base[b], { tasks: taskPools().heldIn, rawFraction: 0 }, p.steps.multitask, p.lr.finetune, seed + 30, p, cacheDir, log, { stage: "multitask", base: b, width });
  }
  const load = (d: string) => loadClassifier(d);
  const per = <T>(f: (b: BaseKind) => T) => Object.fromEntries(BASE_KINDS.map((b) => [b, f(b)])) as Record<BaseKind, T>;
  return {
    width,
    base: per((b) => load(paths.base[b])),
    experts: per((b) => paths.experts[b].map(load)),
    multitask: per((b) => load(paths.multitask[b])),
    paths,
  };
}

/** `count` random subsets of n clusters (sorted), reproducible from (seed, n). */
export function expertSubsets(n: number, count: number, seed: number): number[][] {
  if (!Number.isInteger(n) || n < 1 || n > NUM_CLUSTERS) throw new MergelabError(`number of experts must be 1..${NUM_CLUSTERS}, got ${n}`, { param: "n" });
  let a = (seed * 7919 + n * 104729) >>> 0;
  const rand = () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
  const all = Array.from({ length: NUM_CLUSTERS }, (_, c) => c);
  return Array.from({ length: count }, () => {
    const pool = [...all];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, n).sort((x, y) => x - y);
  });
}
