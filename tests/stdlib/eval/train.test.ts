/**
 * Training uses a dense layer whose gradient multiplies by explicitly transposed operands (fast on
 * wasm). It must compute what tfjs-layers' own Dense + autodiff computes: the same forward values
 * bitwise, and gradients equal up to float32 summation order.
 */
import { describe, expect, it } from "vitest";
import { initRuntime, tf } from "../../../core/runtime.js";
import { buildModel, INPUT_DIM, OUTPUT_DIM } from "../../../stdlib/eval/model.js";
import { forwardTrain } from "../../../stdlib/eval/train.js";

describe("the training forward pass", () => {
  it("equals the layers model's forward pass, and its gradients equal tfjs autodiff's", async () => {
    await initRuntime();
    const model = buildModel(48, 7);
    const x = tf.randomNormal([33, INPUT_DIM], 0, 1, "float32", 11) as tf.Tensor2D;
    const target = tf.randomNormal([33, OUTPUT_DIM], 0, 1, "float32", 12);
    expect(Array.from(forwardTrain(model, x).dataSync())).toEqual(Array.from((model.apply(x) as tf.Tensor).dataSync()));
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const loss = (f: () => tf.Tensor) => () => tf.mean(tf.square(tf.sub(f(), target))) as tf.Scalar;
    const ref = tf.variableGrads(loss(() => model.apply(x) as tf.Tensor), vars);
    const ours = tf.variableGrads(loss(() => forwardTrain(model, x)), vars);
    expect(Object.keys(ours.grads).sort()).toEqual(Object.keys(ref.grads).sort());
    expect(Object.keys(ours.grads)).toHaveLength(6); // kernel and bias of 3 layers
    for (const name of Object.keys(ref.grads)) {
      const a = ref.grads[name]!.dataSync();
      const b = ours.grads[name]!.dataSync();
      let scale = 0;
      for (const v of a) scale = Math.max(scale, Math.abs(v));
      expect(scale).toBeGreaterThan(0);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * scale);
    }
  });
});
