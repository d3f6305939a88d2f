/**
 * Where a language model's weights come from, one group of tensors at a time.
 * `streamModel` asks the engine for each group (a layer, the embeddings, the
 * head) with the same chunked kernels as `save`, so a lazy merge is evaluated
 * without ever existing whole; `memoryWeights` serves tensors already in memory.
 */
import { MergelabError } from "../../core/errors.js";
import { tf } from "../../core/runtime.js";
import type { ExecOptions, ModelValue } from "../../engine/index.js";
import { streamTensors } from "../../engine/exec/stream.js";
import type { Weights } from "./forward.js";

export interface WeightSource {
  /** Every tensor name the model has. */
  readonly names: readonly string[];
  /**
   * The tensors of each group in turn, as float32 tfjs tensors owned by the
   * caller (dispose them). Groups are computed in order, one at a time.
   */
  stream(groups: readonly (readonly string[])[]): AsyncIterable<Weights>;
}

/** Weights of a model value (checkpoint or lazy plan), computed by the engine group by group. */
export function streamModel(model: ModelValue, opts: ExecOptions = {}): WeightSource {
  return {
    names: [...model.tensors.keys()],
    async *stream(groups) {
      for await (const arrays of streamTensors(model, groups, opts)) {
        const out: Weights = {};
        for (const [name, t] of Object.entries(arrays)) {
          if (!(t.data instanceof Float32Array)) throw new MergelabError(`tensor '${name}' is ${t.dtype}: a language model's weights must be float`, { tensor: name });
          out[name] = tf.tensor(t.data, t.shape, "float32");
        }
        yield out;
      }
    },
  };
}

/** Weights already in memory (e.g. a materialised model); `stream` hands out clones, the originals stay with the caller. */
export function memoryWeights(tensors: Readonly<Record<string, tf.Tensor>>): WeightSource {
  return {
    names: Object.keys(tensors),
    async *stream(groups) {
      for (const g of groups) {
        const out: Weights = {};
        for (const name of g) {
          const t = tensors[name];
          if (!t) throw new MergelabError(`model has no tensor '${name}'`, { tensor: name });
          out[name] = t.dtype === "float32" ? t.clone() : t.toFloat();
        }
        yield out;
      }
    },
  };
}
