/**
 * slerp: spherical linear interpolation of two models, tensor by tensor, the
 * whole tensor as one vector (mergekit's form):
 *   c = (a·b) / (‖a‖‖b‖)   (a norm ≤ 1e-8 counts as 1), θ = acos c,
 *   result = sin((1−t)θ)/sin θ · a + sin(tθ)/sin θ · b,
 *   and the plain lerp (1−t)·a + t·b when |c| > 0.9995.
 * Dot products and norms sum the finite float32 products (an Inf element does
 * not turn the whole tensor into NaN).
 */
import type { Graph, Node } from "../../kernel/engine/ir.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as step from "./steps.js";

export const DOT_THRESHOLD = 0.9995;

export function slerpExpand(g: Graph, a: Node, b: Node, t: number): Node {
  const unitNorm = (x: Node) => {
    const n = step.norm(g, x);
    return g.where(g.binary("gt", n, 1e-8), n, 1);
  };
  const c = g.div(step.finiteDot(g, a, b), g.mul(unitNorm(a), unitNorm(b)));
  const nearlyParallel = g.binary("gt", g.abs(c), DOT_THRESHOLD);
  const theta = g.unary("acos", c);
  const sinTheta = g.unary("sin", theta);
  const thetaT = g.mul(theta, t);
  const s0 = g.div(g.unary("sin", g.sub(theta, thetaT)), sinTheta);
  const s1 = g.div(g.unary("sin", thetaT), sinTheta);
  const w0 = g.where(nearlyParallel, 1 - t, s0);
  const w1 = g.where(nearlyParallel, t, s1);
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
