/**
 * linear / average: a weighted mean of whole models (model soups),
 * Σ w_i·x_i / Σ w_i (no division when normalize = false; left undivided when
 * |Σ w_i| < 1e-8, as mergekit does), with float32 weights.
 */
import type { Graph, Node } from "../../engine/ir.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as P from "./params.js";
import * as step from "./steps.js";

/**
 * The weights are float32 values, as every tensor value is (mergekit: torch.tensor(weights, dtype=float32)):
 * each product is fround(fround(w)·x), summed in list order, and divided by the float32 sum of the weights.
 */
export function linearExpand(g: Graph, xs: readonly Node[], weights: readonly number[], normalize: boolean): Node {
  const w32 = weights.map((w) => Math.fround(w));
  const total = step.sumOf(g, xs.map((x, i) => step.scale(g, x, w32[i])));
  if (!normalize) return total;
  const sum = w32.reduce((s, w) => Math.fround(s + w), 0);
  return Math.abs(sum) < 1e-8 || sum === 1 ? total : g.div(total, sum);
}

const PAPER = {
  title: "Model soups: averaging weights of multiple fine-tuned models improves accuracy without increasing inference time (Wortsman et al., 2022)",
  url: "https://arxiv.org/abs/2203.05482",
};

export const linear: MethodDefinition = {
  name: "linear",
  doc: "Weighted average of models: Σ w_i·x_i / Σ w_i (Σ w_i·x_i when normalize=false). Needs no base.",
  example: "linear(experts, weights=[0.7, 0.3])",
  paper: PAPER,
  params: [
    P.expertsParam("the models to average"),
    P.weightsParam,
    P.normalizeParam(true, "divide by Σ w_i"),
  ],
  compute: (g, inputs, _t, params) => {
    const xs = inputs.xs as Node[];
    return linearExpand(g, xs, P.weightsFor(params.weights, xs.length), params.normalize as boolean);
  },
};

export const average: MethodDefinition = {
  name: "average",
  doc: "Plain mean of models: Σ x_i / N (linear with equal weights).",
  example: "average(experts)",
  paper: PAPER,
  params: [P.expertsParam("the models to average")],
  compute: (g, inputs) => {
    const xs = inputs.xs as Node[];
    return linearExpand(g, xs, P.weightsFor(undefined, xs.length), true);
  },
};

export const specs: FunctionSpec[] = [methodSpec(linear), methodSpec(average)];
