/**
 * Training speed of the study's MLPs: one Adam-free gradient step (forward + backward) per batch of 256,
 * with the explicitly transposed dense gradient (stdlib/eval/train.ts forwardTrain) against tfjs-layers'
 * own Dense + autodiff, measured in the same run on the same weights. On wasm the reference spends its
 * time in transposed-operand matrix products.
 */
import { initRuntime, tf } from "../core/runtime.js";
import { buildModel, INPUT_DIM, OUTPUT_DIM } from "../stdlib/eval/model.js";
import { forwardTrain } from "../stdlib/eval/train.js";

export default async function main(): Promise<void> {
  console.log(`backend ${await initRuntime()}`);
  for (const width of [64, 256, 512]) {
    const model = buildModel(width, 1);
    const x = tf.randomNormal([256, INPUT_DIM], 0, 1, "float32", 3) as tf.Tensor2D;
    const target = tf.randomNormal([256, OUTPUT_DIM], 0, 1, "float32", 4);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = (f: () => tf.Tensor): number => {
      const t0 = performance.now();
      const g = tf.variableGrads(() => tf.mean(tf.square(tf.sub(f(), target))) as tf.Scalar, vars);
      for (const t of Object.values(g.grads)) t.dataSync();
      tf.dispose(g.grads);
      g.value.dispose();
      return performance.now() - t0;
    };
    const median = (f: () => tf.Tensor) => {
      step(f);
      const xs = Array.from({ length: 7 }, () => step(f)).sort((a, b) => a - b);
      return xs[3]!;
    };
    const ref = median(() => model.apply(x) as tf.Tensor);
    const ours = median(() => forwardTrain(model, x));
    console.log(`width ${String(width).padStart(3)}: ${ours.toFixed(1).padStart(6)} ms/step, tfjs-layers ${ref.toFixed(1).padStart(6)} ms/step: ${(ref / ours).toFixed(1)}× faster`);
  }
}
