/**
 * The task family. A task is a class set S ⊂ {0..19}; an example is an image
 * and the instruction "is this image in S?" given as the multi-hot vector of S;
 * the answer is y ∈ S. Positives and negatives are balanced.
 *
 * Task pools, disjoint by construction (no set appears in two pools):
 *  - pretraining: the 20 singletons {c} (plus the raw 20-way labels),
 *  - instruction tuning: a broad random mixture of sets of size 2–6,
 *  - held-in: 8 clusters × 3 sets; a cluster is a theme (its sets are drawn
 *    from a group of 6 classes), an expert is fine-tuned on one cluster,
 *  - held-out: unseen sets mixing classes across clusters.
 * All draws come from one seeded generator, so the pools are fixed.
 */
import { NUM_CLASSES, type ImageData, type SplitName } from "./data.js";

export interface Task {
  id: string;
  /** held-in cluster index, or undefined */
  cluster?: number;
  classes: number[];
}

export const NUM_CLUSTERS = 8;
export const TASKS_PER_CLUSTER = 3;
export const NUM_HELD_OUT = 12;
export const NUM_INSTRUCTION = 160;

/** mulberry32: a tiny deterministic generator (seeded draws for pools and batches). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sample<T>(xs: readonly T[], n: number, rand: () => number): T[] {
  const pool = [...xs];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, n);
}

const key = (s: number[]) => [...s].sort((a, b) => a - b).join(",");

export interface TaskPools {
  pretrain: Task[];
  instruction: Task[];
  heldIn: Task[];
  heldOut: Task[];
}

function buildPools(): TaskPools {
  const rand = rng(20241004);
  const used = new Set<string>();
  const fresh = (classes: number[]) => {
    const k = key(classes);
    if (used.has(k)) return false;
    used.add(k);
    return true;
  };
  const all = Array.from({ length: NUM_CLASSES }, (_, c) => c);
  const pretrain = all.map((c) => ({ id: `single_${c}`, classes: [c] }));
  pretrain.forEach((t) => fresh(t.classes));

  const heldIn: Task[] = [];
  for (let cl = 0; cl < NUM_CLUSTERS; cl++) {
    const theme = sample(all, 6, rand); // the cluster's classes
    for (let j = 0; heldIn.filter((t) => t.cluster === cl).length < TASKS_PER_CLUSTER; j++) {
      const classes = sample(theme, 2 + Math.floor(rand() * 3), rand).sort((a, b) => a - b);
      if (fresh(classes)) heldIn.push({ id: `c${cl}_t${heldIn.filter((t) => t.cluster === cl).length}`, cluster: cl, classes });
    }
  }
  const heldOut: Task[] = [];
  while (heldOut.length < NUM_HELD_OUT) {
    const classes = sample(all, 2 + Math.floor(rand() * 4), rand).sort((a, b) => a - b);
    if (fresh(classes)) heldOut.push({ id: `out_${heldOut.length}`, classes });
  }
  const instruction: Task[] = [];
  while (instruction.length < NUM_INSTRUCTION) {
    const classes = sample(all, 2 + Math.floor(rand() * 5), rand).sort((a, b) => a - b);
    if (fresh(classes)) instruction.push({ id: `it_${instruction.length}`, classes });
  }
  return { pretrain, instruction, heldIn, heldOut };
}

export const pools: TaskPools = buildPools();

/** Tasks by selector: "held_in", "held_out", a cluster index 0..7, or "instruction"/"pretrain". */
export function selectTasks(which: string | number): Task[] {
  if (typeof which === "number") return pools.heldIn.filter((t) => t.cluster === which);
  switch (which) {
    case "held_in":
      return pools.heldIn;
    case "held_out":
      return pools.heldOut;
    case "instruction":
      return pools.instruction;
    case "pretrain":
      return pools.pretrain;
  }
  return [];
}

/** A batch of examples: inputs [n, INPUT_DIM] (image ‖ multi-hot S), labels, per-example loss masks. */
export interface Examples {
  inputs: Float32Array;
  classLabel: Int32Array; // 0..19
  member: Float32Array; // 1 if y ∈ S
  /** 1 where the membership loss applies (instruction examples), 0 for raw 20-way examples. */
  memberMask: Float32Array;
  /** 1 where the 20-way class loss applies. */
  classMask: Float32Array;
  n: number;
}

import { PIXELS } from "./data.js";
const INPUT = PIXELS + NUM_CLASSES;

export function allocExamples(n: number): Examples {
  return {
    inputs: new Float32Array(n * INPUT),
    classLabel: new Int32Array(n),
    member: new Float32Array(n),
    memberMask: new Float32Array(n),
    classMask: new Float32Array(n),
    n,
  };
}

/** Write example i: image `row` of the split, instruction S (or none: the raw 20-way example). */
export function putExample(ex: Examples, i: number, data: ImageData, split: SplitName, row: number, task?: Task): void {
  const s = data[split];
  ex.inputs.set(s.images.subarray(row * PIXELS, (row + 1) * PIXELS), i * INPUT);
  ex.inputs.fill(0, i * INPUT + PIXELS, (i + 1) * INPUT);
  const y = s.labels[row];
  ex.classLabel[i] = y;
  if (task) {
    for (const c of task.classes) ex.inputs[i * INPUT + PIXELS + c] = 1;
    ex.member[i] = task.classes.includes(y) ? 1 : 0;
    ex.memberMask[i] = 1;
    ex.classMask[i] = 0;
  } else {
    ex.member[i] = 0;
    ex.memberMask[i] = 0;
    ex.classMask[i] = 1;
  }
}

/** A balanced draw for a task: positive (image in S) with probability 1/2. */
export function drawRow(data: ImageData, split: SplitName, task: Task, rand: () => number): number {
  const inS = rand() < 0.5;
  const candidates = inS ? task.classes : Array.from({ length: NUM_CLASSES }, (_, c) => c).filter((c) => !task.classes.includes(c));
  const c = candidates[Math.floor(rand() * candidates.length)];
  const rows = data[split].byClass[c];
  return rows[Math.floor(rand() * rows.length)];
}

/**
 * The fixed evaluation set of a task on a split: `perTask` examples, half in S,
 * drawn with a seed derived from the task id (same examples for every model).
 */
export function evalExamples(data: ImageData, split: SplitName, tasks: Task[], perTask: number): Examples {
  const ex = allocExamples(tasks.length * perTask);
  tasks.forEach((task, t) => {
    let h = 0;
    for (const ch of `${split}:${task.id}`) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
    const rand = rng(h);
    for (let i = 0; i < perTask; i++) putExample(ex, t * perTask + i, data, split, drawRow(data, split, task, rand), task);
  });
  return ex;
}
