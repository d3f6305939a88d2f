/**
 * Stream a model's tensors group by group (e.g. one transformer layer at a
 * time) so a consumer can use and free each group before the next is
 * computed: peak memory is one group, whatever the model size. Each group is
 * computed with the same plan nodes and kernels as `saveModel`, so a tensor
 * streamed here is bit-identical to the same tensor saved as float32.
 */
import { MergelabError } from "../../core/errors.js";
import { ModelValue, type TensorMeta } from "../model.js";
import { buildPlan } from "../plan.js";
import { materializeArrays, type ArrayTensor } from "./index.js";
import type { ExecOptions } from "./pool.js";

/** `model` restricted to the tensors `names` (same recipes, so the same nodes). */
function restrict(model: ModelValue, names: readonly string[]): ModelValue {
  const tensors = new Map<string, TensorMeta>();
  for (const n of names) {
    const meta = model.tensors.get(n);
    if (!meta) throw new MergelabError(`model ${model.label} has no tensor '${n}'`, { tensor: n });
    tensors.set(n, meta);
  }
  return new ModelValue({ tensors, recipe: model.recipe, carry: model.carry, origin: model.origin, label: model.label, inputs: model.inputs });
}

/**
 * Yields, for each group of tensor names in order, those tensors computed
 * into memory (float tensors as float32). The next group is computed only
 * when the consumer asks for it.
 */
export async function* streamTensors(model: ModelValue, groups: readonly (readonly string[])[], opts: ExecOptions = {}): AsyncGenerator<Record<string, ArrayTensor>> {
  const stats = buildPlan([model], { chunkSize: opts.chunkSize, workers: opts.workers }).modelStats;
  if (stats.length > 0) {
    // a model-scope statistic (TIES scope="model") ranges over every tensor: a group alone would give another threshold
    throw new MergelabError(`model ${model.label} uses model-scope statistics (${stats.map((s) => s.key).join(", ")}); streaming it group by group is not supported yet — save it first`);
  }
  for (const g of groups) yield await materializeArrays(restrict(model, g), opts);
}
