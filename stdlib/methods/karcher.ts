/**
 * karcher (mergekit's Karcher mean): the Riemannian mean of the models' directions on the unit
 * hypersphere, each tensor as one vector, scaled by the mean norm. With N models, α = 1/N each,
 * n_i = ‖x_i‖ and u_i = x_i / n_i (0 for a zero tensor), over the models with n_i > tol:
 *   u ← Σ α_i u_i / ‖·‖ (the first valid u_i when that norm is < tol), then max_iter times:
 *     d_i = clamp(u·u_i, −1, 1), θ_i = acos d_i,  T = Σ_{θ_i ≥ tol} α_i (θ_i / sin θ_i)(u_i − d_i u)
 *     stop when ‖T‖ < tol; else u ← cos‖T‖·u + sin‖T‖·T/‖T‖, normalized (when its norm is > tol)
 *   result = (Σ α_i n_i)·u   (all N norms; 0 when no model is valid).
 *
 * Streamed: u stays in the span of the u_i, so the iteration runs on its coefficients c (u = Σ c_j u_j)
 * with the Gram matrix G_ij = u_i·u_j (one pass over the tensor): u·u_i = (Gc)_i, ‖u‖² = cᵀGc. The
 * tensor is read twice (norms, Gram) and written once, whatever max_iter. mergekit iterates on a float32
 * vector; here the coefficients are float64 (dot products and angles rounded to float32 as mergekit's
 * are, so the same models are skipped and the loop stops at the same step), so the results agree to
 * float32 rounding (docs/methods.md).
 */
import { MergelabError } from "../../core/errors.js";
import type { Graph, Node } from "../../engine/ir.js";
import type { ModelValue } from "../../engine/model.js";
import type { FunctionSpec } from "../spec.js";
import { methodSpec, type MethodDefinition } from "./define.js";
import * as P from "./params.js";
import * as step from "./steps.js";

export function karcherExpand(g: Graph, xs: readonly Node[], maxIter: number, tol: number): Node {
  const N = xs.length;
  if (N === 1) return xs[0];
  const f = (x: Node | number): Node => g.unary("fround", x);
  const alpha = 1 / N;
  const norms = xs.map((x) => f(step.norm(g, x)));
  const zero = norms.map((n) => g.binary("eq", n, 0));
  const units = xs.map((x, i) => g.where(zero[i], 0, g.div(x, g.where(zero[i], 1, norms[i]))));
  const valid = norms.map((n) => g.binary("gt", n, tol));
  // normalized weights over the valid models (each valid one: 1 / #valid)
  const count = valid.reduce<Node>((a, v) => g.add(a, v), g.const(0));
  const w = valid.map((v) => g.where(v, g.div(1, g.where(g.binary("eq", count, 0), 1, count)), 0));
  const gram: Node[][] = units.map(() => []);
  for (let i = 0; i < N; i++) for (let j = i; j < N; j++) gram[i][j] = gram[j][i] = step.finiteDot(g, units[i], units[j]);
  const dots = (c: Node[]) => units.map((_, i) => c.reduce<Node>((a, cj, j) => g.add(a, g.mul(cj, gram[j][i])), g.const(0)));
  const normOf = (c: Node[]) => g.unary("sqrt", g.binary("max", dots(c).reduce<Node>((a, d, i) => g.add(a, g.mul(c[i], d)), g.const(0)), 0));
  // initial guess: the normalized weighted mean (the first valid unit when it is shorter than tol)
  let c: Node[] = w.map((x) => f(x));
  const n0 = f(normOf(c));
  let firstSeen: Node = g.const(0);
  const first = valid.map((v) => {
    const isFirst = g.binary("and", v, g.unary("not", firstSeen));
    firstSeen = g.binary("or", firstSeen, v);
    return isFirst;
  });
  const short = g.binary("lt", n0, tol);
  c = c.map((cj, j) => g.where(short, first[j], g.div(cj, g.where(short, 1, n0))));
  let stopped: Node = g.const(0);
  for (let k = 0; k < maxIter; k++) {
    const d = dots(c).map((x) => f(g.binary("min", g.binary("max", f(x), -1), 1)));
    const theta = d.map((x) => f(g.unary("acos", x)));
    const used = theta.map((th, i) => g.binary("and", valid[i], g.binary("ge", th, tol)));
    // a_i·θ_i/sin θ_i for the models that contribute
    const coef = theta.map((th, i) => g.where(used[i], g.mul(w[i], f(g.div(th, f(g.unary("sin", th))))), 0));
    const pull = coef.reduce<Node>((a, ci, i) => g.add(a, g.mul(ci, d[i])), g.const(0));
    const tau = c.map((cj, j) => g.sub(coef[j], g.mul(pull, cj)));
    const nT = f(normOf(tau));
    const stop = g.binary("or", stopped, g.binary("lt", nT, tol));
    const cosT = f(g.unary("sin", g.sub(Math.PI / 2, nT)));
    const sinOver = g.div(f(g.unary("sin", nT)), g.where(stop, 1, nT));
    const moved = c.map((cj, j) => g.add(g.mul(cosT, cj), g.mul(sinOver, tau[j])));
    const nm = normOf(moved);
    const big = g.binary("gt", f(nm), tol);
    const next = moved.map((m) => g.where(big, g.div(m, g.where(big, nm, 1)), m));
    c = c.map((cj, j) => g.where(stop, cj, next[j]));
    stopped = stop;
  }
  const scale = norms.reduce<Node>((a, n) => g.add(a, g.mul(n, alpha)), g.const(0));
  const anyValid = g.binary("gt", count, 0);
  return step.sumOf(g, units.map((u, j) => g.mul(u, f(g.where(anyValid, g.mul(scale, c[j]), 0)))));
}

export const karcher: MethodDefinition = {
  name: "karcher",
  doc:
    "Karcher mean: the Riemannian mean of the models' directions on the unit hypersphere (each tensor as one vector, equal weights), " +
    "found by up to max_iter gradient steps, scaled by the models' mean norm (mergekit's karcher).",
  example: "karcher(experts, max_iter=10, tol=1e-5)",
  paper: { title: "Karcher mean (Karcher, Riemannian center of mass, 1977)", url: "https://en.wikipedia.org/wiki/Karcher_mean" },
  params: [
    P.expertsParam("the models to average"),
    { name: "max_iter", type: "int", default: 10, range: { min: 0, max: 1000 }, doc: "iterations of the Karcher mean" },
    { name: "tol", type: "number", default: 1e-5, range: { min: 0 }, doc: "convergence tolerance (also: models with a norm ≤ tol are left out, angles < tol do not pull)" },
  ],
  check(_args, models) {
    if ((models.xs as ModelValue[]).length < 1) throw new MergelabError("karcher needs at least one model", { param: "xs" });
  },
  compute: (g, inputs, _t, params) => karcherExpand(g, inputs.xs as Node[], params.max_iter as number, params.tol as number),
};

export const specs: FunctionSpec[] = [methodSpec(karcher)];
