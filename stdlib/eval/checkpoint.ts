/**
 * Bridges between the three forms of a classifier:
 *   tfjs-layers model ──toWeights──▶ named tensors ──CheckpointWriter (io)──▶ safetensors dir
 *   safetensors dir ──loadModel (engine)──▶ ModelValue (lazy) ──materialize──▶ named tensors ──fromWeights──▶ layers model
 * Merges happen on ModelValues; evaluation runs the layers model.
 */
import fs from "node:fs";
import path from "node:path";
import { tf } from "../../core/runtime.js";
import { CheckpointWriter } from "../../io/index.js";
import { loadModel, materialize, modelFromTensors, type ModelValue } from "../../engine/index.js";
import { shownPath } from "../../core/present.js";
import { fromWeights, toWeights, widthOf, type Weights } from "./model.js";

/** Write a layers model as a checkpoint directory (model.safetensors + config.json), atomically. */
export function saveClassifier(model: tf.LayersModel, dir: string, info: Record<string, string | number> = {}): string {
  const weights = toWeights(model);
  try {
    const names = Object.keys(weights);
    const writer = CheckpointWriter.create(
      dir,
      names.map((name) => ({ name, dtype: "F32" as const, shape: weights[name].shape })),
      {
        overwrite: true,
        fsync: false,
        metadata: { producer: "mergelab stdlib/eval", ...Object.fromEntries(Object.entries(info).map(([k, v]) => [k, String(v)])) },
        extraFiles: {
          "config.json": JSON.stringify({ architecture: "what-matters-mlp", width: widthOf(weights), ...info }, null, 2) + "\n",
        },
      },
    );
    for (const name of names) writer.writeF32(name, 0, weights[name].dataSync() as Float32Array);
    return writer.commit();
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
}

export function isCheckpoint(dir: string): boolean {
  return fs.existsSync(path.join(dir, "model.safetensors"));
}

/** A (possibly lazy, merged) ModelValue → a layers model (streams the plan once). */
export async function toLayers(model: ModelValue): Promise<tf.Sequential> {
  // classifiers are small: one in-thread pass beats starting worker threads
  const weights: Weights = await materialize(model, { workers: 0 });
  try {
    return fromWeights(weights);
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
}

export function loadClassifier(dir: string): ModelValue {
  return loadModel(dir, { label: shownPath(dir) });
}

/** An in-memory layers model as a ModelValue (for merging without a round trip to disk). */
export function fromLayers(model: tf.LayersModel, label: string): ModelValue {
  const weights = toWeights(model);
  try {
    return modelFromTensors(weights, label);
  } finally {
    for (const t of Object.values(weights)) t.dispose();
  }
}
