/**
 * sce (Select, Calculate, Erase; FuseLLM / FuseChat, Wan et al. 2024), mergekit's form. With task vectors
 * d_i = x_i − base:
 *   Select:    when select_topk < 1, keep the elements whose variance across the d_i is among the
 *              floor(select_topk · #nonzero variances) largest (ties by position, lowest index first);
 *   Calculate: w_i = mean(d_i²) / Σ_j mean(d_j²)  (1/N when that sum is below 1e-6);
 *   Erase:     drop the d_i whose sign disagrees with the sign of Σ d_i (TIES' election, unweighted);
 *   result = base + Σ w_i·d_i·e_i / max(Σ w_i·e_i, 1e-6).
 * The means of d_i² sum finite squares only (mergekit's turn an Inf element into NaN everywhere).
 */
import type { Graph, Node } from "../../engine/ir.js";
import { MergelabError } from "../../core/errors.js";
import type { ModelValue } from "../../engine/model.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as P from "./params.js";
import * as step from "./steps.js";

export function sceExpand(g: Graph, base: Node, xs: readonly Node[], selectTopk: number): Node {
  const n = xs.length;
  let ds = xs.map((x) => step.taskVector(g, x, base));
  if (selectTopk <= 0) ds = ds.map(() => g.mul(ds[0], 0));
  else if (selectTopk < 1) {
    const mean = g.div(step.sumOf(g, ds), n);
    const variance = g.div(step.sumOf(g, ds.map((d) => { const c = g.sub(d, mean); return g.mul(c, c); })), n);
    const k = g.unary("floor", g.mul(g.sum(g.binary("ne", variance, 0)), selectTopk));
    const keep = g.binary("and", step.topByIndex(g, g.abs(variance), g.binary("max", k, 1)), g.binary("gt", k, 0));
    ds = ds.map((d) => g.where(keep, d, 0));
  }
  const sign = step.electSign(g, ds);
  const erase = ds.map((d) => g.binary("eq", g.unary("sign", d), sign));
  // mean of d² over the finite squares (as every norm here: an Inf element stays in its element)
  const sq = ds.map((d) => g.div(step.finiteDot(g, d, d), g.numel()));
  const total = sq.reduce((a, b) => g.add(a, b));
  const small = g.binary("lt", g.abs(total), 1e-6);
  const w = sq.map((s) => g.unary("fround", g.where(small, 1 / n, g.div(s, g.where(small, 1, total)))));
  const ew = erase.map((e, i) => g.mul(e, w[i]));
  const merged = step.sumOf(g, ds.map((d, i) => g.mul(d, ew[i])));
  return g.add(base, g.div(merged, g.binary("max", step.sumOf(g, ew), 1e-6)));
}

export const sce: MethodDefinition = {
  name: "sce",
  doc:
    "SCE: select the elements whose task vectors vary most across the experts (select_topk of them), weight each expert by its " +
    "mean squared task vector, erase the elements whose sign disagrees with the elected sign, and average the rest (mergekit's sce).",
  example: "sce(experts, base=base, select_topk=0.5)",
  paper: { title: "FuseChat: Knowledge Fusion of Chat Models (Wan et al., 2024)", url: "https://arxiv.org/abs/2408.07990" },
  params: [
    P.expertsParam(),
    P.baseParam(),
    { name: "select_topk", type: "number", default: 1, range: { min: 0, max: 1 }, doc: "fraction of elements kept, by variance across the experts (1: all)" },
  ],
  check(_args, models) {
    if ((models.xs as ModelValue[]).length < 1) throw new MergelabError("sce needs at least one expert", { param: "xs" });
  },
  compute: (g, inputs, _t, params) => sceExpand(g, inputs.base as Node, inputs.xs as Node[], params.select_topk as number),
};

export const specs: FunctionSpec[] = [methodSpec(sce)];
