/** Parameter declarations shared by the methods and blocks (one spelling, one doc, one range each). */
import type { ParamSpec } from "../spec.js";

export const expertsParam = (doc = "the fine-tuned models (experts) to merge"): ParamSpec => ({
  name: "xs", type: "models", required: true, doc,
});
export const baseParam = (doc = "the model the experts were fine-tuned from; task vectors are x − base"): ParamSpec => ({
  name: "base", type: "model", required: true, doc,
});
export const lambdaParam: ParamSpec = {
  name: "λ", aliases: ["lambda"], type: ["number", "schedule"], default: 1, schedulable: true,
  doc: "scale of the merged task vector: result = base + λ·δ",
};
export const weightsParam: ParamSpec = {
  name: "weights", type: ["list", "number", "schedule"], perModel: true, schedulable: true,
  doc: "one weight per expert (a single number applies to all); default 1",
};
export const kParam = (doc = "density: fraction of each task vector kept, m = clamp(floor(k·n), 1, n)"): ParamSpec => ({
  name: "k", aliases: ["density"], type: ["number", "schedule"], default: 0.2, schedulable: true,
  range: { min: 0, max: 1, minExclusive: true }, doc,
});
export const pParam: ParamSpec = {
  name: "p", aliases: ["drop_rate"], type: ["number", "schedule"], default: 0.9, schedulable: true,
  // p = 1 would drop everything and divide the kept ones by 1 − p = 0.
  range: { min: 0, max: 1, maxExclusive: true }, doc: "drop probability of each task-vector element, in [0, 1) (kept ones are divided by 1 − p)",
};
export const gammaParam: ParamSpec = {
  name: "γ", aliases: ["gamma"], type: ["number", "schedule"], default: 0.01, schedulable: true,
  range: { min: 0, max: 1 }, doc: "fraction of the largest-magnitude elements dropped as outliers",
};
export const epsilonParam: ParamSpec = {
  name: "ε", aliases: ["epsilon"], type: ["number", "schedule"], default: 0.15, schedulable: true,
  range: { min: 0, max: 1 }, doc: "keep probabilities run from k − ε (smallest |d|) to k + ε (largest)",
};
export const tiesParam: ParamSpec = {
  name: "ties", type: "string", default: "keep", choices: ["keep", "index"],
  doc: 'elements tied with the trim threshold: "keep" them all (the TIES paper\'s code), or keep exactly m, lowest index first ("index": mergekit\'s count, what from-mergekit uses)',
};
export const seedParam: ParamSpec = {
  name: "seed", type: "int", default: 0, range: { min: 0, max: 4294967295 },
  doc: "random seed; with the tensor name and element index it fixes every random draw",
};
export const rescaleParam: ParamSpec = {
  name: "rescale", type: "bool", default: true, doc: "divide kept elements by their keep probability",
};
export const normalizeParam = (dflt: boolean, doc: string): ParamSpec => ({
  name: "normalize", type: "bool", default: dflt, doc,
});

/** Weights for `count` models: the per-tensor resolved list, or all 1. */
export function weightsFor(v: unknown, count: number): number[] {
  return Array.isArray(v) ? (v as number[]) : new Array<number>(count).fill(1);
}
