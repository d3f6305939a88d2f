/**
 * multislerp (mergekit's Multi-SLERP, Goddard): barycentric interpolation on a hypersphere, each tensor
 * as one vector. With d_i = x_i − base (or x_i without a base) and weights w_i (divided by Σw when
 * normalize):
 *   u_i = d_i / (‖d_i‖ + ε),  m = Σ w_i u_i / ‖Σ w_i u_i‖                    (the weighted mean direction)
 *   τ = Σ w_i (u_i − (u_i·m) m)                                             (the tangent-space mean)
 *   r = (m cos‖τ‖′ + τ sin‖τ‖′ / ‖τ‖′) · Σ w_i ‖d_i‖,  ‖τ‖′ = ‖τ‖ + ε       (back to the sphere, mean norm)
 *   result = base + r.
 * When ‖Σ w_i u_i‖ < ε mergekit falls back to Σ w_i d_i for two models (and refuses more); so does this.
 * Per-tensor scalars are computed in float64 and rounded to float32 (mergekit: float32 torch).
 */
import type { Graph, Node } from "../../engine/ir.js";
import { MergelabError } from "../../core/errors.js";
import type { ModelValue } from "../../engine/model.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as P from "./params.js";
import * as step from "./steps.js";

export function multislerpExpand(g: Graph, xs: readonly Node[], base: Node | undefined, weights: readonly number[], normalize: boolean, eps: number): Node {
  const f = (x: Node | number): Node => g.unary("fround", x);
  if (xs.length === 1) return xs[0];
  const total = weights.reduce((s, w) => s + w, 0);
  const w = normalize ? weights.map((x) => x / total) : [...weights];
  const ds = base === undefined ? [...xs] : xs.map((x) => step.taskVector(g, x, base));
  const norms = ds.map((d) => f(step.norm(g, d)));
  const units = ds.map((d, i) => g.div(d, f(g.add(norms[i], eps))));
  const meanRaw = step.sumOf(g, units.map((u, i) => g.mul(u, w[i])));
  const meanNorm = f(step.norm(g, meanRaw));
  const degenerate = g.binary("lt", meanNorm, eps);
  const mean = g.div(meanRaw, g.where(degenerate, 1, meanNorm));
  const tangents = units.map((u) => g.sub(u, g.mul(mean, f(step.finiteDot(g, u, mean)))));
  const tangent = step.sumOf(g, tangents.map((tv, i) => g.mul(tv, w[i])));
  const tn = f(g.add(f(step.norm(g, tangent)), eps));
  const cos = f(g.unary("sin", g.sub(Math.PI / 2, tn)));
  const sinOver = f(g.div(f(g.unary("sin", tn)), tn));
  const avgNorm = f(norms.map((n, i) => f(g.mul(n, w[i]))).reduce((a, b) => f(g.add(a, b))));
  const onSphere = g.mul(g.add(g.mul(mean, cos), g.mul(tangent, sinOver)), avgNorm);
  const fallback = step.sumOf(g, ds.map((d, i) => g.mul(d, w[i])));
  const r = xs.length === 2 ? g.where(degenerate, fallback, onSphere) : onSphere;
  return base === undefined ? r : g.add(r, base);
}

export const multislerp: MethodDefinition = {
  name: "multislerp",
  doc:
    "Multi-SLERP: barycentric interpolation of any number of models on a hypersphere, each tensor as one vector " +
    "(of task vectors x_i − base when a base is given): the weighted mean direction, moved by the weighted tangent-space mean " +
    "and scaled to the weighted mean norm (mergekit's multislerp).",
  example: "multislerp(experts, base=base, weights=[0.6, 0.4])",
  paper: { title: "Multi-SLERP (Charles Goddard)", url: "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea" },
  params: [
    P.expertsParam("the models to interpolate"),
    { name: "base", type: "model", doc: "optional origin of the hypersphere: the models' task vectors x − base are interpolated" },
    P.weightsParam,
    { name: "normalize", type: "bool", default: true, doc: "divide the weights by their sum" },
    { name: "ε", aliases: ["eps"], type: "number", default: 1e-8, range: { min: 0 }, doc: "added to norms before dividing" },
  ],
  check(_args, models) {
    if ((models.xs as ModelValue[]).length < 1) throw new MergelabError("multislerp needs at least one model", { param: "xs" });
  },
  compute: (g, inputs, _t, params) =>
    multislerpExpand(g, inputs.xs as Node[], inputs.base as Node | undefined, P.weightsFor(params.weights, (inputs.xs as Node[]).length), params.normalize as boolean, params["ε"] as number),
};

export const specs: FunctionSpec[] = [methodSpec(multislerp)];
