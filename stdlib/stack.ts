/**
 * Layer surgery for frankenmerges (mergekit's `slices:` with passthrough):
 *
 *   stack([slice(a, 0, 16), slice(b, 8, 24)])      # 32 layers: a's 0–15, then b's 8–23
 *
 * `slice(m, start, end)` keeps layers start ≤ l < end (mergekit's layer_range,
 * end exclusive) renumbered from 0; `stack(ms)` concatenates the layer stacks,
 * renumbering consecutively, with the tensors outside the stack taken as
 * mergekit does: embeddings from the first model, the final norm and lm_head
 * (everything else outside the stack) from the last. Both only rename: a
 * tensor's recipe is its source tensor's, so nothing is copied or computed.
 */
import { MergelabError } from "../core/errors.js";
import { ModelValue, type TensorMeta } from "../engine/model.js";
import { layerIndex, renumberLayer } from "../engine/param-schedule.js";
import { compareTensorNames } from "../io/checkpoint.js";
import type { Args, FunctionSpec } from "./spec.js";
import type { Value } from "../core/values.js";
import { asModels } from "./methods/define.js";

/** Tensors outside the layer stack that precede it (embeddings): stack() takes them from its first model. */
const BEFORE_LAYERS_RE = /embed|wte|wpe|tok_embeddings|word_embeddings/;

const renumber = renumberLayer;

/** A model whose tensor `name` is `source`'s tensor `from(name)`. */
function renamed(entries: Array<[string, ModelValue, string]>, label: string, origin: ModelValue): ModelValue {
  entries.sort((a, b) => compareTensorNames(a[0], b[0]));
  const tensors = new Map<string, TensorMeta>();
  const from = new Map<string, [ModelValue, string]>();
  for (const [name, m, old] of entries) {
    tensors.set(name, m.tensors.get(old)!);
    from.set(name, [m, old]);
  }
  const lookup = (name: string): [ModelValue, string] => {
    const f = from.get(name);
    if (!f) throw new MergelabError(`${label} has no tensor '${name}'`, { tensor: name });
    return f;
  };
  const models = [...new Set(entries.map((e) => e[1]))];
  // layer l of the result is layer `old` of model m (itself perhaps renumbered): per-layer config lists follow it
  const layers = new Map<number, [ModelValue, number]>();
  for (const [name, m, old] of entries) {
    const l = layerIndex(name);
    const o = layerIndex(old);
    if (l !== undefined && o !== undefined && !layers.has(l)) layers.set(l, [m, o]);
  }
  return new ModelValue({
    tensors,
    recipe: (g, name) => {
      const [m, old] = lookup(name);
      return m.recipe(g, old);
    },
    carry: (name) => {
      const [m, old] = lookup(name);
      return m.carry(old);
    },
    origin: origin.origin,
    layerSource: (l) => {
      const at = layers.get(l);
      return at ? at[0].layerSource(at[1]) : l;
    },
    label,
    inputs: [...new Set(models.flatMap((m) => m.inputs))],
    steps: [...new Set(models.flatMap((m) => m.steps))],
  });
}

export function sliceLayers(m: ModelValue, start: number, end: number): ModelValue {
  const n = m.numLayers;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start) {
    throw new MergelabError(`slice(${m.label}, ${start}, ${end}): need integers 0 <= start < end (end exclusive)`, { param: "start" });
  }
  if (end > n) throw new MergelabError(`slice(${m.label}, ${start}, ${end}): the model has ${n} layers (0–${n - 1})`, { param: "end" });
  const entries: Array<[string, ModelValue, string]> = [];
  for (const name of m.tensors.keys()) {
    const l = layerIndex(name);
    if (l === undefined) entries.push([name, m, name]);
    else if (l >= start && l < end) entries.push([renumber(name, l - start), m, name]);
  }
  return renamed(entries, `slice(${m.label}, ${start}, ${end})`, m);
}

export function stackLayers(ms: ModelValue[]): ModelValue {
  const first = ms[0];
  const last = ms[ms.length - 1];
  const entries: Array<[string, ModelValue, string]> = [];
  for (const name of first.tensors.keys()) if (layerIndex(name) === undefined && BEFORE_LAYERS_RE.test(name)) entries.push([name, first, name]);
  let offset = 0;
  for (const m of ms) {
    for (const name of m.tensors.keys()) {
      const l = layerIndex(name);
      if (l !== undefined) entries.push([renumber(name, l + offset), m, name]);
    }
    offset += m.numLayers;
  }
  for (const name of last.tensors.keys()) if (layerIndex(name) === undefined && !BEFORE_LAYERS_RE.test(name)) entries.push([name, last, name]);
  return renamed(entries, `stack(${ms.map((m) => m.label).join(", ")})`, first);
}

export const specs: FunctionSpec[] = [
  {
    name: "slice",
    category: "block",
    doc:
      "The layers start ≤ l < end of a model (mergekit's layer_range, end exclusive), renumbered from 0; " +
      "tensors outside the layer stack (embeddings, final norm, lm_head) are kept. Nothing is copied.",
    example: "top = slice(experts[0], 8, 24)",
    params: [
      { name: "x", type: "model", required: true, doc: "the model to take layers from" },
      { name: "start", type: "int", required: true, range: { min: 0 }, doc: "first layer kept" },
      { name: "end", type: "int", required: true, range: { min: 1 }, doc: "one past the last layer kept" },
    ],
    returns: "model",
    call: (a: Args) => sliceLayers(asModels([a.x as Value], "x")[0], a.start as number, a.end as number),
  },
  {
    name: "stack",
    category: "block",
    doc:
      "Concatenate models' layer stacks (a frankenmerge / passthrough stacking), renumbering layers consecutively; " +
      "embeddings come from the first model, the final norm and lm_head from the last (as mergekit).",
    example: "stack([slice(a, 0, 16), slice(b, 8, 24)])",
    params: [{ name: "xs", type: "models", required: true, doc: "the models (usually slices) to stack, bottom first" }],
    returns: "model",
    call: (a: Args) => stackLayers(asModels(a.xs, "xs")),
  },
];
