/**
 * The instruction-following classifier: an MLP over [14×14 image ‖ 20-dim
 * instruction], two hidden ReLU layers of configurable width, and one output
 * layer of 21 logits — 20 class logits (the "pretraining" 20-way head) and one
 * membership logit ("is this image in the instructed class set?").
 *
 * Checkpoint names follow PyTorch's nn.Sequential of Linear layers:
 * `layers.N.weight` [out, in] and `layers.N.bias` [out], so `layers([...])`
 * schedules see the layer index.
 */
import { tf } from "../../core/runtime.js";
import { MergelabError } from "../../core/errors.js";
import { PIXELS, NUM_CLASSES } from "./data.js";

export const INPUT_DIM = PIXELS + NUM_CLASSES;
export const OUTPUT_DIM = NUM_CLASSES + 1;
export const DEPTH = 3; // Linear layers

export type Weights = Record<string, tf.Tensor>;

/** Parameter count of the MLP at a given width (the x-axis of "model size"). */
export function paramCount(width: number): number {
  return INPUT_DIM * width + width + width * width + width + width * OUTPUT_DIM + OUTPUT_DIM;
}

/** A fresh MLP with Glorot-uniform weights drawn from `seed` (deterministic). */
export function buildModel(width: number, seed: number): tf.Sequential {
  const model = tf.sequential();
  const dims = [width, width, OUTPUT_DIM];
  dims.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        units,
        activation: i < dims.length - 1 ? "relu" : "linear",
        inputShape: i === 0 ? [INPUT_DIM] : undefined,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 101 + i }),
        biasInitializer: "zeros",
        name: `layers_${i}_${seed}_${Math.random().toString(36).slice(2, 8)}`,
      }),
    );
  });
  return model;
}

/** Layers model → named tensors in PyTorch layout (weight [out, in]). New tensors, caller disposes. */
export function toWeights(model: tf.LayersModel): Weights {
  const out: Weights = {};
  model.layers.forEach((layer, i) => {
    const [kernel, bias] = layer.getWeights();
    out[`layers.${i}.weight`] = tf.transpose(kernel);
    out[`layers.${i}.bias`] = bias.clone();
  });
  return out;
}

/** The width encoded by a set of weights (layers.0.weight is [width, INPUT_DIM]). */
export function widthOf(weights: Record<string, { shape: number[] }>): number {
  const w0 = weights["layers.0.weight"];
  if (!w0) throw new MergelabError("not a what-matters classifier: missing tensor layers.0.weight");
  if (w0.shape.length !== 2 || w0.shape[1] !== INPUT_DIM) {
    throw new MergelabError(`not a what-matters classifier: tensor layers.0.weight has shape [${w0.shape}], expected [width, ${INPUT_DIM}]`);
  }
  return w0.shape[0];
}

/** Named tensors (PyTorch layout) → a layers model; shapes are checked tensor by tensor. */
export function fromWeights(weights: Weights): tf.Sequential {
  const width = widthOf(weights);
  const model = buildModel(width, 0);
  model.layers.forEach((layer, i) => {
    const w = weights[`layers.${i}.weight`];
    const b = weights[`layers.${i}.bias`];
    if (!w || !b) throw new MergelabError(`not a what-matters classifier: missing tensor layers.${i}.${w ? "bias" : "weight"}`);
    const [kernel, bias] = layer.getWeights();
    if (w.shape.join() !== [...kernel.shape].reverse().join() || b.shape.join() !== bias.shape.join()) {
      throw new MergelabError(`tensor layers.${i}: shape [${w.shape}] / [${b.shape}] does not fit width ${width}`);
    }
    const t = tf.tidy(() => tf.transpose(w.toFloat()));
    layer.setWeights([t, b.toFloat()]);
    t.dispose();
  });
  return model;
}
