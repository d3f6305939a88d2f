/**
 * slerp: spherical linear interpolation of two models, tensor by tensor, the
 * whole tensor as one vector (mergekit's form):
 *   c = (a·b) / (‖a‖‖b‖)   (a norm ≤ 1e-8 counts as 1), θ = acos c,
 *   result = sin((1−t)θ)/sin θ · a + sin(tθ)/sin θ · b,
 *   and the plain lerp (1−t)·a + t·b when |c| > 0.9995.
 * Dot products and norms sum the finite float32 products (an Inf element does
 * not turn the whole tensor into NaN).
 */
import type { Graph, Node } from "../../engine/ir.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as step from "./steps.js";

export const DOT_THRESHOLD = 0.9995;

/**
 * The per-tensor scalars are rounded to float32 after every step (`f`), exactly
 * as the elementwise blocks round them, so `slerp(a, b, t)` equals its block
 * composition (docs/methods.md) bit for bit; they are still computed once per
 * tensor, not per element.
 */
export function slerpExpand(g: Graph, a: Node, b: Node, t: number): Node {
  const f = (x: Node | number): Node => g.unary("fround", x);
  const unitNorm = (x: Node) => {
    const n = f(step.norm(g, x));
    return g.where(g.binary("gt", n, 1e-8), n, 1);
  };
  const c = f(g.div(f(step.finiteDot(g, a, b)), f(g.mul(unitNorm(a), unitNorm(b)))));
  const nearlyParallel = g.binary("gt", g.abs(c), DOT_THRESHOLD);
  const theta = f(g.unary("acos", c));
  const sinTheta = f(g.unary("sin", theta));
  const thetaT = f(g.mul(theta, t));
  const s0 = f(g.div(f(g.unary("sin", f(g.sub(theta, thetaT)))), sinTheta));
  const s1 = f(g.div(f(g.unary("sin", thetaT)), sinTheta));
  const w0 = f(g.where(nearlyParallel, 1 - t, s0));
  const w1 = f(g.where(nearlyParallel, t, s1));
  return g.add(g.mul(a, w0), g.mul(b, w1));
}

export const slerp: MethodDefinition = {
  name: "slerp",
  doc:
    "Spherical interpolation of two models, each tensor as one vector: θ = angle between a and b, " +
    "result = sin((1−t)θ)/sin θ·a + sin(tθ)/sin θ·b; linear interpolation when |cos θ| > 0.9995. t = 0 gives a, t = 1 gives b.",
  example: "slerp(experts[0], experts[1], t=layers([0, 0.5, 1]))",
  paper: { title: "Animating rotation with quaternion curves (Shoemake, SIGGRAPH 1985)", url: "https://doi.org/10.1145/325165.325242" },
  params: [
    { name: "a", type: "model", required: true, doc: "the model at t = 0" },
    { name: "b", type: "model", required: true, doc: "the model at t = 1" },
    { name: "t", type: ["number", "schedule"], default: 0.5, schedulable: true,
      range: { min: 0, max: 1 }, doc: "interpolation position in [0, 1] (0 → a, 1 → b)" },
  ],
  compute: (g, inputs, _t, params) => slerpExpand(g, inputs.a as Node, inputs.b as Node, params.t as number),
};

export const specs: FunctionSpec[] = [methodSpec(slerp)];
