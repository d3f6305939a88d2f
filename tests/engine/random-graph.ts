// Random plan graphs for the conformance tests (deterministic per tensor name).
import { Graph, hashString, type BinaryOp, type Node, type ReduceOp, type UnaryOp } from "../../engine/ir.js";
import type { TensorContext } from "../../engine/param-schedule.js";
import { rng } from "./util.js";

export const SHAPES: number[][] = [[], [1], [0, 3], [17], [64], [5, 7], [3, 4, 5], [2, 33, 9], [1000], [2, 1500], [4099]];
const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e-40, -1e-40, 65520, 1, -1];
const UNARY: UnaryOp[] = ["neg", "abs", "sign", "sqrt", "exp", "log", "floor", "not", "isfinite", "sin", "acos", "fround"];
const BINARY: BinaryOp[] = ["add", "sub", "mul", "div", "min", "max", "pow", "gt", "ge", "lt", "le", "eq", "ne", "and", "or"];
const REDUCE: ReduceOp[] = ["sum", "max", "min"];

export function tensorValues(r: () => number, n: number, special: boolean): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    // small integers make many ties (kth) and exact zeros
    v[i] = u < 0.3 ? Math.floor(r() * 7) - 3 : (r() - 0.5) * 4;
    if (special && r() < 0.05) v[i] = SPECIAL[Math.floor(r() * SPECIAL.length)];
  }
  return v;
}

/** A random graph over the inputs: unary/binary/where/rand/reduce/kth, statistics nested in vectors and in other statistics. */
export function randomGraph(g: Graph, inputs: Node[], t: TensorContext): { root: Node; scalars: Node[] } {
  const r = rng(hashString(t.name) ^ 0x5eed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const vecs: Node[] = [...inputs];
  const scal: Node[] = [g.const(0.5), g.numel()];
  const steps = 6 + Math.floor(r() * 12);
  for (let s = 0; s < steps; s++) {
    const u = r();
    if (u < 0.22) vecs.push(r() < 0.5 ? g.binary(pick(BINARY), pick(vecs), pick(vecs)) : g.binary(pick(BINARY), pick(vecs), g.const(pick([2, -0.1, 0.3, 1e-3, 0, -0]))));
    else if (u < 0.34) vecs.push(g.unary(pick(UNARY), pick(vecs)));
    else if (u < 0.42) vecs.push(g.where(g.binary("gt", pick(vecs), pick(vecs)), pick(vecs), r() < 0.5 ? pick(vecs) : pick(scal)));
    else if (u < 0.46) vecs.push(g.rand(Math.floor(r() * 3), pick(["a", "b"])));
    else if (u < 0.58) scal.push(g.reduce(pick(REDUCE), r() < 0.9 ? pick(vecs) : pick(scal)));
    else if (u < 0.72) {
      const m = pick([g.const(1), g.numel(), g.const(0), g.const(3.5), g.const(-2), g.unary("floor", g.mul(g.numel(), 0.3)), pick(scal)]);
      scal.push(g.kth(r() < 0.8 ? g.abs(pick(vecs)) : pick(vecs), m));
    } else if (u < 0.8) scal.push(g.binary(pick(["add", "mul", "div", "max", "sub"] as BinaryOp[]), pick(scal), pick(scal)));
    else vecs.push(g.binary(pick(BINARY), pick(vecs), pick(scal)));
  }
  // row statistics (axis -1 or 0, never mixed in one expression): row values in vectors and in whole-tensor
  // statistics (a separate stream, so the graphs above stay as they were)
  const r2 = rng(hashString(t.name) ^ 0x0a815);
  const pick2 = <T>(xs: T[]) => xs[Math.floor(r2() * xs.length)];
  const axis = r2() < 0.5 ? -1 : 0;
  const rows: Node[] = [];
  for (let s = 0; s < 3 + Math.floor(r2() * 4); s++) {
    const u = r2();
    if (u < 0.35 || rows.length === 0) rows.push(g.reduceAlong(pick2(REDUCE), r2() < 0.8 ? pick2(vecs) : pick2(scal), axis));
    else if (u < 0.55) rows.push(g.binary(pick2(["add", "mul", "div", "max", "sub"] as BinaryOp[]), pick2(rows), r2() < 0.5 ? pick2(rows) : pick2(scal)));
    else if (u < 0.65) rows.push(g.unary(pick2(["sqrt", "acos", "sin", "fround", "abs"] as UnaryOp[]), pick2(rows)));
    else if (u < 0.85) vecs.push(g.binary(pick2(BINARY), pick2(vecs), pick2(rows)));
    else scal.push(g.reduce(pick2(REDUCE), pick2(rows)));
  }
  vecs.push(g.where(g.binary("gt", vecs[vecs.length - 1], pick2(rows)), pick2(vecs), pick2(rows)));
  // the output uses the latest statistic, and a shared subexpression built twice (hash-consed to one node)
  const last = vecs[vecs.length - 1];
  const shared = g.mul(g.sub(inputs[1], inputs[0]), 0.5);
  const root = g.add(g.where(g.binary("ge", last, scal[scal.length - 1]), last, shared), g.mul(g.sub(inputs[1], inputs[0]), 0.5));
  return { root, scalars: scal };
}

