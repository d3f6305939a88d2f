/**
 * arcee_fusion (mergekit's Arcee Fusion): take the expert's change only where it matters. Per tensor,
 * with p = softmax(x) + 1e-8 and q = softmax(base) + 1e-8 over the last dim (each row; a 1-D tensor is
 * one row):
 *   importance = |x − base| · KL_row,  KL_row = Σ_row p·log(p / q)
 *   threshold  = median + 1.5·(Q3 − Q1) of the importance (quantile q = the element at ascending
 *                position floor(q·(n − 1)), as mergekit's approximate_quantiles)
 *   result     = base + (x − base)·[importance ≥ threshold]
 * mergekit takes the quantiles of a random sample of 10⁶ elements for larger tensors (torch.randperm:
 * not reproducible); mergelab takes them over every element, exactly (docs/methods.md).
 */
import type { Graph, Node } from "../../engine/ir.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";

/** softmax over the last dim + 1e-8, as torch computes it: exp(x − max) / Σ exp(x − max). */
function softmaxRows(g: Graph, x: Node): Node {
  const e = g.unary("exp", g.sub(x, g.reduceAlong("max", x, -1)));
  return g.add(g.div(e, g.unary("fround", g.reduceAlong("sum", e, -1))), 1e-8);
}

/** The importance scores of mergekit's ArceeFusionMergeTask._compute_importance. */
export function fusionImportance(g: Graph, base: Node, x: Node): Node {
  const p = softmaxRows(g, x);
  const q = softmaxRows(g, base);
  const kl = g.unary("fround", g.reduceAlong("sum", g.mul(p, g.unary("log", g.div(p, q))), -1));
  return g.mul(g.abs(g.sub(x, base)), kl);
}

/** Element at ascending position floor(q·(n − 1)) (0-based): the (n − pos)-th largest. */
const ascending = (g: Graph, a: Node, q: number, n: number) => g.kth(a, n - Math.floor(Math.fround(q) * Math.max(n - 1, 0)));

export function arceeFusionExpand(g: Graph, base: Node, x: Node, n: number): Node {
  const imp = fusionImportance(g, base, x);
  const f = (v: Node | number): Node => g.unary("fround", v);
  const median = ascending(g, imp, 0.5, n);
  const iqr = f(g.sub(ascending(g, imp, 0.75, n), ascending(g, imp, 0.25, n)));
  const threshold = f(g.add(median, f(g.mul(iqr, 1.5))));
  return g.add(base, g.where(g.binary("ge", imp, threshold), g.sub(x, base), 0));
}

export const arceeFusion: MethodDefinition = {
  name: "arcee_fusion",
  doc:
    "Arcee Fusion: keep the expert's change x − base only where its importance |x − base|·KL(softmax(x) ‖ softmax(base)) (KL per row) " +
    "reaches median + 1.5·IQR of the tensor's importance scores; elsewhere the base (mergekit's arcee_fusion).",
  example: "arcee_fusion(base, expert)",
  paper: { title: "Arcee Fusion (mergekit, Arcee AI)", url: "https://github.com/arcee-ai/mergekit/blob/main/docs/merge_methods.md" },
  params: [
    { name: "base", type: "model", required: true, doc: "the model kept where the expert's change is not important" },
    { name: "x", type: "model", required: true, doc: "the expert whose important changes are fused in" },
  ],
  compute: (g, inputs, t) => arceeFusionExpand(g, inputs.base as Node, inputs.x as Node, t.numel),
};

export const specs: FunctionSpec[] = [methodSpec(arceeFusion)];
