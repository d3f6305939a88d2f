/**
 * Training: one loop (Adam, seeded batches) for every stage of the study.
 *   pretrain      raw 20-way labels + the 20 singleton questions {c}
 *   instruct      the broad instruction mixture (+ 20-way labels, to keep them)
 *   fine-tune     one held-in cluster's questions (an expert), or all of them (multitask)
 * Loss per example: classMask · CE(softmax(logits[0:20]), y) + memberMask · BCE(σ(logit[20]), y ∈ S).
 */
import { tf } from "../../core/runtime.js";
import type { ImageData } from "./data.js";
import { NUM_CLASSES } from "./data.js";
import { allocExamples, drawRow, putExample, rng, type Examples, type Task } from "./tasks.js";
import { INPUT_DIM } from "./model.js";

export interface TrainOptions {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  /** learning rate of the hidden layers (every layer after the first) as a multiple of lr; default 1 */
  hiddenLrScale?: number;
}

/** What one training example is drawn from: with probability `rawFraction` a raw 20-way example, else a task. */
export interface Mixture {
  tasks: Task[];
  rawFraction: number;
  /** a corruption (corruptions.ts) applied to the raw examples, e.g. "augment" */
  augment?: string;
}

function drawBatch(data: ImageData, mix: Mixture, n: number, rand: () => number): Examples {
  const ex = allocExamples(n);
  const rows = data.train.labels.length;
  for (let i = 0; i < n; i++) {
    if (mix.tasks.length === 0 || rand() < mix.rawFraction) {
      putExample(ex, i, data, "train", Math.floor(rand() * rows), undefined, rand, mix.augment);
    } else {
      const task = mix.tasks[Math.floor(rand() * mix.tasks.length)];
      putExample(ex, i, data, "train", drawRow(data, "train", task, rand), task, rand);
    }
  }
  return ex;
}

/**
 * y = x·K + b whose gradient multiplies by explicitly transposed operands. tfjs's own matMul gradient
 * uses transposed-operand products (dY·Kᵀ, Xᵀ·dY), which the wasm backend runs 10–40× slower than a
 * plain product; transposing first and multiplying plainly is the same arithmetic (each output element
 * is one dot product, summed in the same order) at the plain product's speed.
 */
const denseFast = (): ((x: tf.Tensor2D, k: tf.Tensor2D, b: tf.Tensor) => tf.Tensor2D) =>
  tf.customGrad((x, k, b, save) => {
    const xx = x as tf.Tensor2D;
    const kk = k as tf.Tensor2D;
    (save as unknown as (saved: tf.Tensor[]) => void)([xx, kk]);
    return {
      value: tf.add(tf.matMul(xx, kk), b as tf.Tensor) as tf.Tensor2D,
      gradFunc: (dy, saved) => {
        const [sx, sk] = saved as [tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        return [tf.matMul(g, tf.transpose(sk)), tf.matMul(tf.transpose(sx), g), tf.sum(g, 0)];
      },
    };
  }) as unknown as (x: tf.Tensor2D, k: tf.Tensor2D, b: tf.Tensor) => tf.Tensor2D;
let dense: ReturnType<typeof denseFast> | undefined;

/** The MLP's forward pass for training (ReLU hidden layers, linear output), on the model's own variables. */
export function forwardTrain(model: tf.LayersModel, x: tf.Tensor2D): tf.Tensor2D {
  dense ??= denseFast();
  let h = x;
  model.layers.forEach((layer, i) => {
    const [k, b] = layer.trainableWeights.map((w) => w.read());
    h = dense!(h, k as tf.Tensor2D, b!);
    if (i < model.layers.length - 1) h = tf.relu(h);
  });
  return h;
}

/** The masked two-head loss of one batch (a scalar). */
export function batchLoss(model: tf.LayersModel, ex: Examples): tf.Scalar {
  return tf.tidy(() => {
    const x = tf.tensor2d(ex.inputs, [ex.n, INPUT_DIM]);
    const logits = forwardTrain(model, x);
    const classLogits = logits.slice([0, 0], [ex.n, NUM_CLASSES]);
    const memberLogit = logits.slice([0, NUM_CLASSES], [ex.n, 1]).reshape([ex.n]);
    const onehot = tf.oneHot(tf.tensor1d(ex.classLabel, "int32"), NUM_CLASSES);
    const ce = tf.losses.softmaxCrossEntropy(onehot, classLogits, undefined, undefined, tf.Reduction.NONE);
    const bce = tf.losses.sigmoidCrossEntropy(tf.tensor1d(ex.member), memberLogit, undefined, undefined, tf.Reduction.NONE);
    const total = tf.add(tf.mul(ce, tf.tensor1d(ex.classMask)), tf.mul(bce, tf.tensor1d(ex.memberMask)));
    return total.mean() as tf.Scalar;
  });
}

/** Train in place; returns the mean loss of the last 10% of steps. */
export function train(model: tf.LayersModel, data: ImageData, mix: Mixture, opts: TrainOptions): number {
  const rand = rng(opts.seed);
  const optimizer = tf.train.adam(opts.lr);
  const tail = Math.max(1, Math.floor(opts.steps / 10));
  let tailLoss = 0;
  const scale = opts.hiddenLrScale ?? 1;
  if (scale !== 1) return trainTwoRates(model, data, mix, opts, scale);
  for (let step = 0; step < opts.steps; step++) {
    const ex = drawBatch(data, mix, opts.batch, rand);
    const loss = optimizer.minimize(() => batchLoss(model, ex), true);
    if (step >= opts.steps - tail) tailLoss += loss!.dataSync()[0];
    loss?.dispose();
  }
  optimizer.dispose();
  return tailLoss / tail;
}

/** Adam with lr on the first layer and lr·scale on the later ones (the "lazier wider models" manipulation). */
function trainTwoRates(model: tf.LayersModel, data: ImageData, mix: Mixture, opts: TrainOptions, scale: number): number {
  const rand = rng(opts.seed);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const first = new Set(model.layers[0].trainableWeights.map((w) => (w.read() as tf.Variable).name));
  const optFirst = tf.train.adam(opts.lr);
  const optHidden = tf.train.adam(opts.lr * scale);
  const tail = Math.max(1, Math.floor(opts.steps / 10));
  let tailLoss = 0;
  for (let step = 0; step < opts.steps; step++) {
    const ex = drawBatch(data, mix, opts.batch, rand);
    const { value, grads } = tf.variableGrads(() => batchLoss(model, ex), vars);
    const names = Object.keys(grads);
    optFirst.applyGradients(Object.fromEntries(names.filter((n) => first.has(n)).map((n) => [n, grads[n]])) as Parameters<typeof optFirst.applyGradients>[0]);
    optHidden.applyGradients(Object.fromEntries(names.filter((n) => !first.has(n)).map((n) => [n, grads[n]])) as Parameters<typeof optFirst.applyGradients>[0]);
    if (step >= opts.steps - tail) tailLoss += value.dataSync()[0];
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
  }
  optFirst.dispose();
  optHidden.dispose();
  return tailLoss / tail;
}
