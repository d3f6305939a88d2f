/**
 * A PEFT LoRA adapter over a base model, as a lazy model: `base + scale·B·A` on
 * each target module, the adapter's saved modules (modules_to_save) in place of
 * the base's, every other tensor the base's. The delta is a plan source whose
 * reads compute any element range from A and B (r-thin, read once per tensor),
 * so a merge of eight adapters streams like any merge: no full delta is ever
 * held in memory.
 */
import { MergelabError } from "../core/errors.js";
import { checkAdapterAgainstBase, openLoraAdapter, type LoraAdapter } from "../io/lora.js";
import { CheckpointSource, ModelValue, type MergeStep, type TensorMeta } from "./model.js";
import { ComputedSource } from "./computed.js";

/**
 * `base` with the adapter in `dir` applied. `label` is how the user wrote the
 * adapter (a relative path or a Hub id); the model's label is `base+adapter`
 * (mergekit's spelling). Every target is checked against the base's tensors now.
 */
export function loraModel(base: ModelValue, dir: string, label: string): ModelValue {
  let adapter: LoraAdapter;
  try {
    adapter = openLoraAdapter(dir);
  } catch (e) {
    if (e instanceof MergelabError && !e.details.tensor) throw new MergelabError(e.message.split(dir).join(label), e.details);
    throw e;
  }
  checkAdapterAgainstBase(adapter, base.tensors, base.label, label);
  const metas = new Map<string, TensorMeta>([...adapter.modules.values()].map((m) => [m.target, { shape: [...m.shape], dtype: "F32" }]));
  const delta = new ComputedSource(label, metas, () => ({ kind: "computed", type: "lora", label, adapter: adapter.checkpoint.describe(), modules: [...adapter.modules.values()] }), [adapter.checkpoint]);
  const saved = adapter.replaced.size > 0 ? new CheckpointSource(adapter.checkpoint, label) : undefined;
  for (const m of adapter.modules.values()) {
    const dt = base.tensors.get(m.target)!.dtype;
    if (!["F32", "F16", "BF16", "F64"].includes(dt)) {
      throw new MergelabError(`${label} (LoRA adapter): target '${m.target}' is ${dt} in ${base.label}, not a float tensor`, { tensor: m.target });
    }
  }
  const ranks = [...new Set([...adapter.modules.values()].map((m) => m.r))].sort((a, b) => a - b);
  const scales = [...new Set([...adapter.modules.values()].map((m) => m.scale))].sort((a, b) => a - b);
  const step: MergeStep = {
    name: "lora",
    kind: "block",
    models: [label],
    base: base.label,
    params: [
      ["r", ranks.join("/")],
      ["scale", scales.map((s) => String(Math.fround(s))).join("/")],
      ["modules", String(adapter.modules.size)],
    ],
  };
  return new ModelValue({
    tensors: base.tensors,
    recipe: (g, name) => {
      if (adapter.modules.has(name)) return g.add(base.recipe(g, name), g.input(g.sourceIndex(delta), name));
      const src = adapter.replaced.get(name);
      if (src !== undefined && saved) return g.input(g.sourceIndex(saved), src);
      return base.recipe(g, name);
    },
    carry: (name) => base.carry(name),
    layerSource: base.layerSource,
    origin: base.origin,
    label: `${base.label}+${label}`,
    inputs: [...base.inputs, delta, ...(saved ? [saved] : [])],
    steps: [...base.steps, step],
    ...(base.hfConfig ? { hfConfig: base.hfConfig } : {}),
    ...(base.outputFiles ? { outputFiles: base.outputFiles } : {}),
  });
}
