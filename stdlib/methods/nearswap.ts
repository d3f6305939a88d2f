/**
 * nearswap (mergekit's NearSwap, alchemonaut): interpolate from a base toward another model only where
 * they are already close. Per element, with d = |a − b|:
 *   w = clamp(t / max(d, 1e-6), 0, 1),   result = w·b + (1 − w)·a
 * so elements within t of each other take b's value (w = 1), and far-apart ones stay near a.
 */
import type { Graph, Node } from "../../engine/ir.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";

export function nearswapExpand(g: Graph, a: Node, b: Node, t: number): Node {
  const distance = g.binary("max", g.abs(g.sub(a, b)), 1e-6);
  const w = g.binary("min", g.binary("max", g.div(t, distance), 0), 1);
  return g.add(g.mul(w, b), g.mul(g.sub(1, w), a));
}

export const nearswap: MethodDefinition = {
  name: "nearswap",
  doc:
    "NearSwap: per element, w = clamp(t / max(|a − b|, 1e-6), 0, 1) and result = w·b + (1 − w)·a: " +
    "b's values where the models are within t of each other, a's (nearly) elsewhere (mergekit's nearswap).",
  example: "nearswap(base, experts[0], t=0.0001)",
  paper: { title: "NearSwap (alchemonaut, QuartetAnemoi-70B)", url: "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001" },
  params: [
    { name: "a", type: "model", required: true, doc: "the base: kept where the models differ by much more than t" },
    { name: "b", type: "model", required: true, doc: "the model swapped in where it is within t of a" },
    { name: "t", type: ["number", "schedule"], required: true, schedulable: true, range: { min: 0 },
      doc: "the distance under which b's value is taken whole" },
  ],
  compute: (g, inputs, _t, params) => nearswapExpand(g, inputs.a as Node, inputs.b as Node, params.t as number),
};

export const specs: FunctionSpec[] = [methodSpec(nearswap)];
