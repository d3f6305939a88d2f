/**
 * Stream a model's tensors group by group (e.g. one transformer layer at a
 * time) so a consumer can use and free each group before the next is
 * computed: peak memory is one group, whatever the model size. The plan is
 * built once for the whole model and each group runs its jobs with the same
 * kernels as `saveModel`; model-scope statistics (TIES `scope="model"`) are
 * computed once over every tensor first. So a tensor streamed here is
 * bit-identical to the same tensor saved as float32.
 */
import { MergelabError } from "../../core/errors.js";
import type { ModelValue } from "../model.js";
import { buildPlan } from "../plan.js";
import type { ArrayTensor } from "./index.js";
import { execute, type ExecOptions } from "./pool.js";

/**
 * Yields, for each group of tensor names in order, those tensors computed
 * into memory (float tensors as float32, others as raw bytes). The next group
 * is computed only when the consumer asks for it.
 */
export async function* streamTensors(model: ModelValue, groups: readonly (readonly string[])[], opts: ExecOptions = {}): AsyncGenerator<Record<string, ArrayTensor>> {
  for (const g of groups) {
    for (const n of g) if (!model.tensors.has(n)) throw new MergelabError(`model ${model.label} has no tensor '${n}'`, { tensor: n });
  }
  const plan = buildPlan([model], { chunkSize: opts.chunkSize, workers: opts.workers });
  const modelValues = plan.modelStats.length > 0 ? (await execute(plan, { ...opts, only: new Set() })).modelValues : {};
  const jobs = new Map(plan.jobs.map((j) => [j.name, j]));
  for (const g of groups) {
    const run = await execute(plan, { ...opts, only: new Set(g), modelValues, collect: true });
    const byName = new Map<string, Float32Array | Uint8Array>();
    for (const r of run.results) for (const [, name, data] of r.arrays) byName.set(name, data);
    const out: Record<string, ArrayTensor> = {};
    for (const name of g) {
      const j = jobs.get(name)!;
      const data = byName.get(name) ?? (j.kind === "carry" ? new Uint8Array(0) : new Float32Array(0));
      out[name] = { shape: j.shape, dtype: j.kind === "carry" ? j.dtype : "F32", data };
    }
    yield out;
  }
}
