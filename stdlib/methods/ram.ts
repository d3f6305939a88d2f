/**
 * ram and ramplus_tl (Reinforced Agent Merging, arXiv:2601.13572), mergekit's forms. With task vectors
 * d_i = x_i − base, an element of d_i contributes when |d_i| > ε; c = the number of experts contributing
 * to an element. Elements one expert alone contributes to (c = 1) keep its value, shared ones (c > 1)
 * average the contributions:
 *   ram:         base + Σ_i d_i·[|d_i| > ε]·([c = 1] + [c > 1]/c)
 *   ramplus_tl:  the unique part of expert i scaled by λ_i = 1 + r·clamp(ρ_i, 0, α), ρ_i = (its shared
 *                contributing elements) / max(its unique ones, ε), counted over the tensor.
 */
import type { Graph, Node } from "../../engine/ir.js";
import type { FunctionSpec, ParamSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as P from "./params.js";
import * as step from "./steps.js";

export function ramExpand(g: Graph, base: Node, xs: readonly Node[], eps: number, plus?: { r: number; alpha: number }): Node {
  const ds = xs.map((x) => step.taskVector(g, x, base));
  const nz = ds.map((d) => g.binary("gt", g.abs(d), eps));
  const count = step.sumOf(g, nz);
  const overlap = g.binary("gt", count, 1);
  const unique = g.binary("eq", count, 1);
  const share = g.div(overlap, g.binary("max", count, 1));
  const terms = ds.map((d, i) => {
    const z = g.mul(d, nz[i]);
    let uniquePart = g.mul(z, unique);
    if (plus) {
      const shared = g.sum(g.binary("and", nz[i], overlap));
      const own = g.sum(g.binary("and", nz[i], unique));
      const rho = g.div(shared, g.binary("max", own, eps));
      const lambda = g.unary("fround", g.add(1, g.mul(plus.r, g.binary("min", g.binary("max", rho, 0), plus.alpha))));
      uniquePart = g.mul(uniquePart, lambda);
    }
    return g.add(uniquePart, g.mul(z, share));
  });
  return g.add(base, step.sumOf(g, terms));
}

const epsParam: ParamSpec = { name: "ε", aliases: ["epsilon"], type: "number", default: 1e-5, range: { min: 0 }, doc: "an element of a task vector contributes when its magnitude exceeds ε" };

export const ram: MethodDefinition = {
  name: "ram",
  doc:
    "RAM (Reinforced Agent Merging): task-vector elements only one expert changes (|d| > ε) are kept whole, elements several " +
    "experts change are averaged over those experts (mergekit's ram).",
  example: "ram(experts, base=base)",
  paper: { title: "Reinforced Agent Merging (arXiv:2601.13572)", url: "https://arxiv.org/abs/2601.13572" },
  params: [P.expertsParam(), P.baseParam(), epsParam],
  compute: (g, inputs, _t, params) => ramExpand(g, inputs.base as Node, inputs.xs as Node[], params["ε"] as number),
};

export const ramplusTl: MethodDefinition = {
  name: "ramplus_tl",
  doc:
    "RAM+ (tensor-local): RAM with each expert's unique elements scaled by 1 + r·clamp(ρ, 0, α), ρ = the expert's shared / unique " +
    "contributing elements in the tensor (mergekit's ramplus_tl).",
  example: "ramplus_tl(experts, base=base, r=0.1, α=0.2)",
  paper: ram.paper,
  params: [
    P.expertsParam(),
    P.baseParam(),
    { name: "r", type: "number", default: 0.1, range: { min: 0 }, doc: "strength of the rescaling of unique elements" },
    { name: "α", aliases: ["alpha"], type: "number", default: 0.2, range: { min: 0 }, doc: "cap on the shared/unique ratio ρ" },
    epsParam,
  ],
  compute: (g, inputs, _t, params) =>
    ramExpand(g, inputs.base as Node, inputs.xs as Node[], params["ε"] as number, { r: params.r as number, alpha: params["α"] as number }),
};

export const specs: FunctionSpec[] = [methodSpec(ram), methodSpec(ramplusTl)];
