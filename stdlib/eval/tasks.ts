/**
 * The task family. A task is a class set S ⊂ {0..19} asked in one image
 * domain (clean, negative, mirrored, rotated, rolled, …; see domains.ts): an
 * example is an image of that domain and the instruction "is this image in
 * S?" given as the multi-hot vector of S (the domain is not given); the answer
 * is y ∈ S. Positives and negatives are balanced.
 *
 * Task pools, disjoint by construction (no (domain, set) pair in two pools,
 * and the domains of the bases' training differ from the held-in ones):
 *  - pretraining: the 20 singletons {c} in the clean domain (plus raw 20-way labels),
 *  - instruction tuning: a broad random mixture of sets of size 2–6 in the
 *    clean domain and 5 other domains (rotations, anti-transpose, rolls),
 *  - held-in: 8 clusters, one per new domain, 3 class sets each; an expert is
 *    fine-tuned on one cluster (it learns the domain and the sets),
 *  - held-out: unseen class sets in the held-in domains and in compositions of
 *    two held-in domains (which no single expert saw).
 * All draws come from one seeded generator, so the pools are fixed.
 */
import { NUM_CLASSES, PIXELS, type ImageData, type SplitName } from "./data.js";
import { applyDomain, COMPOSED_DOMAINS, domain, HELD_IN_DOMAINS, INSTRUCTION_DOMAINS } from "./domains.js";
import { applyCorruption } from "./corruptions.js";

export interface Task {
  id: string;
  /** held-in cluster index, or undefined */
  cluster?: number;
  classes: number[];
  /** image domain (domains.ts); "a+b" is a composition */
  domain: string;
  /** scale study v2: an image corruption (corruptions.ts) instead of a domain; "a+b" is a composition */
  corruption?: string;
}

export const NUM_CLUSTERS = 8;
export const TASKS_PER_CLUSTER = 3;
export const NUM_INSTRUCTION = 180;

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

const sorted = (s: number[]) => [...s].sort((a, b) => a - b);

export interface TaskPools {
  pretrain: Task[];
  instruction: Task[];
  heldIn: Task[];
  heldOut: Task[];
}

function buildPools(): TaskPools {
  const rand = rng(20241004);
  const usedSets = new Set<string>();
  // a class set is used by one pool only (whatever the domain), so held-out sets are truly unseen
  const fresh = (classes: number[]) => {
    const k = classes.join(",");
    if (usedSets.has(k)) return false;
    usedSets.add(k);
    return true;
  };
  const all = Array.from({ length: NUM_CLASSES }, (_, c) => c);
  const draw = (lo: number, hi: number) => sorted(sample(all, lo + Math.floor(rand() * (hi - lo + 1)), rand));
  const pretrain = all.map((c) => ({ id: `single_${c}`, classes: [c], domain: "clean" }));
  pretrain.forEach((t) => fresh(t.classes));

  const heldIn: Task[] = [];
  HELD_IN_DOMAINS.forEach((dom, cl) => {
    for (let j = 0; j < TASKS_PER_CLUSTER; ) {
      const classes = draw(2, 5);
      if (fresh(classes)) heldIn.push({ id: `${dom}_${j++}`, cluster: cl, classes, domain: dom });
    }
  });
  const heldOut: Task[] = [];
  const outDomains = [...HELD_IN_DOMAINS, ...COMPOSED_DOMAINS.map(([a, b]) => `${a}+${b}`)];
  for (const dom of outDomains) {
    for (;;) {
      const classes = draw(2, 5);
      if (fresh(classes)) {
        heldOut.push({ id: `out_${dom}`, classes, domain: dom });
        break;
      }
    }
  }
  const instruction: Task[] = [];
  while (instruction.length < NUM_INSTRUCTION) {
    const classes = draw(2, 6);
    const dom = INSTRUCTION_DOMAINS[instruction.length % INSTRUCTION_DOMAINS.length];
    if (fresh(classes)) instruction.push({ id: `it_${instruction.length}`, classes, domain: dom });
  }
  return { pretrain, instruction, heldIn, heldOut };
}

let built: TaskPools | undefined;
/** The task pools, built on first use (not at import: `mergelab check` never needs them). */
export function taskPools(): TaskPools {
  return (built ??= buildPools());
}

/** Tasks by selector: "held_in", "held_out", a cluster index 0..7, or "instruction"/"pretrain". */
export function selectTasks(which: string | number): Task[] {
  if (typeof which === "number") return taskPools().heldIn.filter((t) => t.cluster === which);
  switch (which) {
    case "held_in":
      return taskPools().heldIn;
    case "held_out":
      return taskPools().heldOut;
    case "instruction":
      return taskPools().instruction;
    case "pretrain":
      return taskPools().pretrain;
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

/**
 * Write example i: image `row` of the split in the task's domain (or under its corruption, drawing from `rand`),
 * instruction S — or no task: a raw 20-way example, clean or under the corruption `augment`.
 */
export function putExample(ex: Examples, i: number, data: ImageData, split: SplitName, row: number, task?: Task, rand?: () => number, augment?: string): void {
  const s = data[split];
  const corruption = task ? task.corruption : augment;
  if (corruption) applyCorruption(corruption, s.images, row * PIXELS, ex.inputs, i * INPUT, rand ?? rng(row));
  else applyDomain(domain(task?.domain ?? "clean"), s.images, row * PIXELS, ex.inputs, i * INPUT);
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
    for (let i = 0; i < perTask; i++) putExample(ex, t * perTask + i, data, split, drawRow(data, split, task, rand), task, rand);
  });
  return ex;
}
