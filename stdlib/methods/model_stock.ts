/**
 * Model Stock (Jang et al., 2024), mergekit's per-tensor form:
 *   d_i = x_i − b, c = mean over pairs i < j of cos(d_i, d_j)
 *   (each cos = d_i·d_j / max(‖d_i‖‖d_j‖, 1e-6), clamped to [−1, 1]),
 *   t = N·c / (1 + (N − 1)·c), result = t·mean(x_i) + (1 − t)·b.
 * filter_wise (mergekit's option): c and t per row (the last dim; a 1-D tensor is one row).
 */
import type { Axis, Graph, Node } from "../../engine/ir.js";
import { MergelabError } from "../../core/errors.js";
import type { ModelValue } from "../../engine/model.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as P from "./params.js";
import * as step from "./steps.js";

/**
 * Per-tensor scalars are rounded to float32 after every step, as the
 * elementwise blocks round them, so model_stock equals its block composition
 * (docs/methods.md) bit for bit while computing t once per tensor.
 */
const f32 = (g: Graph, x: Node): Node => g.unary("fround", x);

/** Mean pairwise cosine of the task vectors (a scalar node, float32-valued). */
export function meanPairwiseCosine(g: Graph, ds: readonly Node[], axis?: Axis): Node {
  const cos: Node[] = [];
  for (let i = 0; i < ds.length; i++) for (let j = i + 1; j < ds.length; j++) cos.push(f32(g, step.cosine(g, ds[i], ds[j], 1e-6, axis)));
  const sum = cos.reduce((acc, c) => f32(g, g.add(acc, c)));
  return f32(g, g.div(sum, cos.length));
}

/** With `axis` (filter_wise: -1), one c and t per row. */
export function modelStockExpand(g: Graph, base: Node, xs: readonly Node[], axis?: Axis): Node {
  const n = xs.length;
  const c = meanPairwiseCosine(g, xs.map((x) => step.taskVector(g, x, base)), axis);
  const t = f32(g, g.div(f32(g, g.mul(c, n)), f32(g, g.add(f32(g, g.mul(c, n - 1)), 1))));
  const mean = g.div(step.sumOf(g, xs), n);
  return g.add(g.mul(mean, t), g.mul(base, f32(g, g.sub(1, t))));
}

export const modelStock: MethodDefinition = {
  name: "model_stock",
  doc:
    "Model Stock: interpolate between the base and the experts' mean by the angle of their task vectors, " +
    "t = N·c/(1+(N−1)·c) with c the mean pairwise cosine of d_i = x_i − base; result = t·mean(x_i) + (1−t)·base. Needs ≥ 2 experts. " +
    "filter_wise=true: one angle per row (mergekit's filter_wise).",
  example: "model_stock(experts, base=base)",
  paper: { title: "Model Stock: All we need is just a few fine-tuned models (Jang et al., 2024)", url: "https://arxiv.org/abs/2403.19522" },
  params: [
    P.expertsParam(),
    P.baseParam(),
    { name: "filter_wise", type: "bool", default: false, doc: "one angle per row (per output filter: the last dim) instead of per tensor; a 1-D tensor is one row (mergekit's filter_wise)" },
  ],
  check(_args, models) {
    if ((models.xs as ModelValue[]).length < 2) throw new MergelabError("model_stock needs at least 2 experts", { param: "xs" });
  },
  compute: (g, inputs, _t, params) => modelStockExpand(g, inputs.base as Node, inputs.xs as Node[], params.filter_wise ? -1 : undefined),
};

export const specs: FunctionSpec[] = [methodSpec(modelStock)];
