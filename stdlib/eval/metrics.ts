/**
 * Evaluation and the paper's normalized metrics (Yadav et al. 2024, §3):
 *   held-in:  mean over tasks t of acc(merged, t) / acc(expert of t's cluster, t)
 *   held-out: mean over tasks t of acc(merged, t) / acc(base, t)
 * Accuracy is the membership answer (logit[20] > 0) on a fixed, balanced set
 * of examples per task.
 */
import { tf } from "../../core/runtime.js";
import { MergelabError } from "../../core/errors.js";
import type { ImageData, SplitName } from "./data.js";
import { NUM_CLASSES } from "./data.js";
import { evalExamples, type Task } from "./tasks.js";
import { INPUT_DIM } from "./model.js";

export const EVAL_PER_TASK: Record<SplitName, number> = { train: 200, val: 200, test: 400 };
/** The scale study v2's tasks (image corruptions, stdlib/eval/scale.ts): fewer examples, as its grid evaluates thousands of merges. */
export const SCALE_EVAL_PER_TASK: Record<SplitName, number> = { train: 150, val: 150, test: 300 };

/** Accuracy per task id. */
export type Scores = Record<string, number>;

/** Each task's fixed evaluation examples, by split and task id (a task's examples do not depend on the other tasks asked with it). */
const cache = new Map<string, ReturnType<typeof evalExamples>>();

function examplesOf(data: ImageData, split: SplitName, tasks: Task[], perTask: number): { inputs: Float32Array; member: Float32Array; n: number } {
  const parts = tasks.map((t) => {
    const key = `${split}:${perTask}:${t.id}`;
    const hit = cache.get(key) ?? evalExamples(data, split, [t], perTask);
    cache.set(key, hit);
    return hit;
  });
  if (parts.length === 1) return parts[0];
  const n = parts.reduce((a, p) => a + p.n, 0);
  const inputs = new Float32Array(n * INPUT_DIM);
  const member = new Float32Array(n);
  let row = 0;
  for (const p of parts) {
    inputs.set(p.inputs, row * INPUT_DIM);
    member.set(p.member, row);
    row += p.n;
  }
  return { inputs, member, n };
}

export function accuracy(model: tf.LayersModel, data: ImageData, tasks: Task[], split: SplitName = "test"): Scores {
  const perTask = (tasks.length > 0 && tasks.every((t) => t.corruption !== undefined) ? SCALE_EVAL_PER_TASK : EVAL_PER_TASK)[split];
  const ex = examplesOf(data, split, tasks, perTask);
  const correct = tf.tidy(() => {
    const x = tf.tensor2d(ex.inputs, [ex.n, INPUT_DIM]);
    const logits = model.predict(x, { batchSize: 2048 }) as tf.Tensor2D;
    const answer = logits.slice([0, NUM_CLASSES], [ex.n, 1]).reshape([ex.n]).greater(0);
    return answer.equal(tf.tensor1d(ex.member).greater(0.5)).cast("float32").dataSync();
  });
  const out: Scores = {};
  tasks.forEach((task, t) => {
    let c = 0;
    for (let i = 0; i < perTask; i++) c += correct[t * perTask + i];
    out[task.id] = c / perTask;
  });
  return out;
}

/** Raw 20-way accuracy on the test split (reported for the bases). */
export function classAccuracy(model: tf.LayersModel, data: ImageData, split: SplitName = "test"): number {
  const s = data[split];
  return tf.tidy(() => {
    const img = tf.tensor2d(s.images, [s.labels.length, INPUT_DIM - NUM_CLASSES]);
    const x = tf.concat([img, tf.zeros([s.labels.length, NUM_CLASSES])], 1);
    const logits = model.predict(x, { batchSize: 2048 }) as tf.Tensor2D;
    const pred = logits.slice([0, 0], [s.labels.length, NUM_CLASSES]).argMax(1);
    return pred.equal(tf.tensor1d(s.labels, "int32")).cast("float32").mean().dataSync()[0];
  });
}

/** mean_t scores[t] / reference[t] over the given tasks (the paper's normalized performance). */
export function normalized(scores: Scores, reference: Scores, tasks: Task[]): number {
  if (tasks.length === 0) throw new MergelabError("normalized: no tasks");
  let sum = 0;
  for (const t of tasks) {
    const s = scores[t.id];
    const r = reference[t.id];
    if (s === undefined) throw new MergelabError(`normalized: no score for task ${t.id}`);
    if (r === undefined || r <= 0) throw new MergelabError(`normalized: no reference score for task ${t.id}`);
    sum += s / r;
  }
  return sum / tasks.length;
}
