/**
 * nuslerp (mergekit's NuSLERP): slerp of two models, over the whole tensor as one vector (flatten, the
 * default), or row by row: the vectors along the last dim (row_wise=false) or along the first dim
 * (row_wise=true; a column of a matrix). With a base, the task vectors are interpolated:
 * base + nuslerp(x₀ − base, x₁ − base). For each vector pair v₀, v₁:
 *   u_i = v_i / max(‖v_i‖, 1e-7),  θ = acos(clamp(u₀·u₁, −1, 1)),
 *   result = (sin((1−t)θ)·v₀ + sin(tθ)·v₁) / sin θ,  or (1−t)·v₀ + t·v₁ where |sin θ| < 1e-8.
 * t = w₁ / (w₀ + w₁) from two weights (0.5 when |w₀ + w₁| < 1e-6), or given directly.
 * Per-vector scalars are computed in float64 and rounded to float32 after each step (mergekit: float32
 * torch); norms and dot products sum the finite float32 products, as slerp's do.
 */
import { MergelabError } from "../../core/errors.js";
import type { Axis, Graph, Node } from "../../engine/ir.js";
import type { ModelValue } from "../../engine/model.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as P from "./params.js";
import * as step from "./steps.js";

/** t from mergekit's two weights: w₁ / (w₀ + w₁), 0.5 when the sum is (nearly) zero. */
export function nuslerpT(weights: readonly number[]): number {
  const total = weights[0] + weights[1];
  return Math.abs(total) < 1e-6 ? 0.5 : weights[1] / total;
}

/** mergekit's nuslerp(t, v0, v1, dim, flatten) on two vector nodes; `axis` undefined = flatten. */
export function nuslerpVectors(g: Graph, v0: Node, v1: Node, t: number, axis?: Axis): Node {
  const f = (x: Node | number): Node => g.unary("fround", x);
  const unit = (v: Node) => g.div(v, f(g.binary("max", f(step.norm(g, v, axis)), 1e-7)));
  const cos = f(step.finiteDot(g, unit(v0), unit(v1), axis));
  const theta = f(g.unary("acos", g.binary("min", g.binary("max", cos, -1), 1)));
  const sinTheta = f(g.unary("sin", theta));
  const colinear = g.binary("lt", g.abs(sinTheta), 1e-8);
  const s0 = f(g.unary("sin", f(g.mul(Math.fround(1 - t), theta))));
  const s1 = f(g.unary("sin", f(g.mul(Math.fround(t), theta))));
  const slerped = g.div(g.add(g.mul(v0, s0), g.mul(v1, s1)), sinTheta);
  const lerped = g.add(g.mul(v0, Math.fround(1 - t)), g.mul(v1, Math.fround(t)));
  return g.where(colinear, lerped, slerped);
}

export function nuslerpExpand(g: Graph, xs: readonly Node[], base: Node | undefined, t: number, rowWise: boolean, flatten: boolean): Node {
  const axis: Axis | undefined = flatten ? undefined : rowWise ? 0 : -1;
  if (base === undefined) return nuslerpVectors(g, xs[0], xs[1], t, axis);
  return g.add(base, nuslerpVectors(g, step.taskVector(g, xs[0], base), step.taskVector(g, xs[1], base), t, axis));
}

export const nuslerp: MethodDefinition = {
  name: "nuslerp",
  doc:
    "NuSLERP: spherical interpolation of two models (of their task vectors x − base when a base is given), over each tensor " +
    "as one vector (flatten=true) or row by row: vectors along the last dim, or along the first dim with row_wise=true. " +
    "Linear interpolation where the vectors are (nearly) parallel. t = w₁/(w₀ + w₁) when weights are given (mergekit's nuslerp).",
  example: "nuslerp([a, b], base=base, t=0.4, flatten=false)",
  paper: { title: "NuSLERP (mergekit, Arcee AI)", url: "https://github.com/arcee-ai/mergekit/blob/main/docs/merge_methods.md" },
  params: [
    P.expertsParam("the two models to interpolate (t = 0 gives the first)"),
    { name: "base", type: "model", doc: "optional: interpolate the task vectors x − base and add the result to base" },
    { name: "t", type: ["number", "schedule"], schedulable: true, range: { min: 0, max: 1 },
      doc: "interpolation position (0 → first model, 1 → second); 0.5 when neither t nor weights is given" },
    { name: "weights", type: ["list", "number", "schedule"], perModel: true, schedulable: true,
      doc: "mergekit's two weights, instead of t: t = w₁/(w₀ + w₁) (0.5 when |w₀ + w₁| < 1e-6)" },
    { name: "row_wise", type: "bool", default: false, doc: "with flatten=false: interpolate the vectors along the first dim (columns of a matrix) instead of the last" },
    { name: "flatten", type: "bool", default: true, doc: "interpolate each tensor as one vector (false: row by row)" },
  ],
  check(args, models) {
    if (args.t !== undefined && args.t !== null && args.weights !== undefined && args.weights !== null) {
      throw new MergelabError("nuslerp: give t or weights, not both (weights set t = w₁/(w₀ + w₁))", { param: "weights" });
    }
    const xs = models.xs as ModelValue[];
    if (xs.length !== 2) throw new MergelabError(`nuslerp merges exactly two models (got ${xs.length}), plus an optional base`, { param: "xs" });
  },
  compute: (g, inputs, _t, params) => {
    const xs = inputs.xs as Node[];
    const t = Array.isArray(params.weights) ? nuslerpT(params.weights as number[]) : ((params.t as number | undefined) ?? 0.5);
    return nuslerpExpand(g, xs, inputs.base as Node | undefined, t, params.row_wise as boolean, params.flatten as boolean);
  },
};

export const specs: FunctionSpec[] = [methodSpec(nuslerp)];
