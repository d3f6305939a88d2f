/**
 * The steps merge methods are made of, as plan-graph builders (one output
 * tensor at a time). Methods (stdlib/methods/*) and the language's building
 * blocks (stdlib/blocks.ts) both call these, so `ties(...)` and its written-out
 * composition build the same nodes and agree bit for bit.
 *
 * Vocabulary (TIES paper, Yadav et al. 2023; DARE, Yu et al. 2023):
 * task vector d = x − b; trim keeps the largest |d|; electSign picks the sign
 * of Σ w·τ; disjointMean averages the values that agree with it.
 */
import type { Axis, Graph, Node } from "../../engine/ir.js";

type Operand = Node | number;

/** d = x − b. */
export const taskVector = (g: Graph, x: Node, b: Node): Node => g.sub(x, b);

/** Number of kept elements for density k: m = clamp(floor(k·n), 1, n) (mergekit's int(k·n), at least one). */
export function keepCount(k: number, n: number): number {
  return Math.min(Math.max(Math.floor(k * n), 1), Math.max(n, 1));
}

/** w·x, skipping the multiply for w = 1 (fround(1·x) = x, so the value is the same). */
export const scale = (g: Graph, x: Node, w: Operand): Node => (w === 1 ? x : g.mul(x, w));

/** x₀ + x₁ + … in list order (float32 after each add). */
export function sumOf(g: Graph, xs: readonly Node[]): Node {
  let acc = xs[0];
  for (let i = 1; i < xs.length; i++) acc = g.add(acc, xs[i]);
  return acc;
}

/** Keep d where |d| ≥ threshold (ties at the threshold are kept, NaN dropped), else 0. */
export const keepAtLeast = (g: Graph, d: Node, threshold: Operand): Node =>
  g.where(g.binary("ge", g.abs(d), threshold), d, 0);

/**
 * Magnitude trim (TIES): keep d where |d| ≥ the m-th largest |d| of the tensor,
 * m = clamp(floor(k·n), 1, n); k ≥ 1 keeps everything.
 */
export function trim(g: Graph, d: Node, k: number, n: number): Node {
  if (k >= 1) return d;
  return keepAtLeast(g, d, g.kth(g.abs(d), keepCount(k, n)));
}

/**
 * mergekit's magnitude trim: keep exactly m = clamp(floor(k·n), 1, n) elements, the largest |d|, with ties
 * at the threshold broken by position, lowest index first (trim() keeps every tie). Streamable: the
 * threshold T, then among the elements equal to T the r-th smallest index, found as the r-th smallest
 * index/4096 (H) and, within H, the r′-th smallest index mod 4096 (L).
 */
export function trimByIndex(g: Graph, d: Node, k: number, n: number): Node {
  if (k >= 1) return d;
  return g.where(topByIndex(g, g.abs(d), keepCount(k, n)), d, 0);
}

/**
 * 1 for the m largest values of `a` (m ≥ 1, a number or a scalar node), ties at the threshold broken by
 * position, lowest index first; else 0 (NaN never selected).
 */
export function topByIndex(g: Graph, a: Node, m: Node | number): Node {
  const threshold = g.kth(a, m);
  const above = g.binary("gt", a, threshold);
  const tie = g.binary("eq", a, threshold);
  const hi = g.index("hi");
  const lo = g.index("lo");
  const r = g.sub(m, g.reduce("sum", above)); // ties to keep, ≥ 1
  const H = g.unary("neg", g.kth(g.where(tie, g.unary("neg", hi), -Infinity), r));
  const before = g.binary("lt", hi, H);
  const inH = g.binary("and", tie, g.binary("eq", hi, H));
  const r2 = g.sub(r, g.reduce("sum", g.binary("and", tie, before)));
  const L = g.unary("neg", g.kth(g.where(inH, g.unary("neg", lo), -Infinity), r2));
  const keepTie = g.binary("and", tie, g.binary("or", before, g.binary("and", inH, g.binary("le", lo, L))));
  return g.binary("or", above, keepTie);
}

/** The trim of `ties`: "keep" every element tied with the threshold (the TIES paper), or break ties by "index" (mergekit). */
export function trimWith(g: Graph, d: Node, k: number, n: number, ties: string | undefined): Node {
  return ties === "index" ? trimByIndex(g, d, k, n) : trim(g, d, k, n);
}

/**
 * mergekit's `rescale_norm: l1` for a magnitude trim: the kept values scaled so their L1 norm is the whole
 * task vector's, s = Σ|d| / Σ|kept| (left unscaled when either is below 1e-7). Finite values only.
 */
export function rescaleL1(g: Graph, d: Node, kept: Node): Node {
  const l1 = (x: Node) => {
    const a = g.abs(x);
    return g.sum(g.where(g.unary("isfinite", a), a, 0));
  };
  const before = g.unary("fround", l1(d));
  const after = g.unary("fround", l1(kept));
  const tiny = g.binary("or", g.binary("lt", before, 1e-7), g.binary("lt", after, 1e-7));
  return g.mul(kept, g.unary("fround", g.where(tiny, 1, g.div(before, g.where(tiny, 1, after)))));
}

/** The random stream of expert `index` for a sparsifier (distinct per expert). */
export const streamFor = (what: string, index: number): string => `${what}/${index}`;

/**
 * DARE drop and rescale: each element kept with probability 1 − p (kept when
 * rand < 1 − p), kept ones divided by 1 − p when `rescale`. p = 0 keeps d as is.
 */
export function drop(g: Graph, d: Node, p: number, seed: number, stream: string, rescale: boolean): Node {
  if (p <= 0) return d;
  const keepProb = 1 - p;
  const keep = g.binary("lt", g.rand(seed, stream), keepProb);
  return g.where(keep, rescale ? g.div(d, keepProb) : d, 0);
}

/**
 * Model Breadcrumbs: drop the `top` = min(floor(γ·n), n − m) largest |d|, keep
 * the next m = clamp(floor(k·n), 1, n). Ties at the lower threshold are kept,
 * ties at the upper one dropped; top = 0 drops nothing from the top.
 */
export function breadcrumbs(g: Graph, d: Node, k: number, gamma: number, n: number): Node {
  const m = keepCount(k, n);
  const top = Math.min(Math.floor(gamma * n), n - m);
  const a = g.abs(d);
  let keep = g.binary("ge", a, g.kth(a, top + m));
  if (top >= 1) keep = g.binary("and", keep, g.binary("lt", a, g.kth(a, top)));
  return g.where(keep, d, 0);
}

/** Rank buckets for DELLA: exact ranks up to this many elements, quantile buckets above. */
export const DELLA_BUCKETS = 32;

/**
 * DELLA's magnitude rank, exact and streamable: with B = min(n, 32) buckets,
 * the bucket of an element is the number of b ∈ 1..B−1 with
 * |d| ≥ q_b, q_b the element at ascending position ceil(b·n/B) of |d| (a kth).
 * For n ≤ 32 and distinct magnitudes this is the element's rank 0..n−1;
 * above, it is the rank quantized to B equal-count buckets. Returned
 * normalized to [0, 1] (bucket/(B−1); 0.5 when n = 1).
 */
export function magnitudeRank(g: Graph, d: Node, n: number): Node | number {
  const B = Math.min(n, DELLA_BUCKETS);
  if (B <= 1) return 0.5;
  const a = g.abs(d);
  let bucket: Node | undefined;
  for (let b = 1; b < B; b++) {
    const position = Math.ceil((b * n) / B); // ascending, 0-based
    const reached = g.binary("ge", a, g.kth(a, n - position));
    bucket = bucket ? g.add(bucket, reached) : reached;
  }
  return g.mul(bucket as Node, 1 / (B - 1));
}

/**
 * DELLA MagPrune: keep probability rises with the magnitude rank from k − ε to
 * k + ε, P = (k − ε) + 2ε·rank; kept when rand < P, kept ones divided by P.
 */
export function dellaSample(
  g: Graph, d: Node, k: number, epsilon: number, n: number, seed: number, stream: string, rescale: boolean,
): Node {
  const rank = magnitudeRank(g, d, n);
  const prob = typeof rank === "number" ? k - epsilon + 2 * epsilon * rank : g.add(g.mul(rank, 2 * epsilon), k - epsilon);
  const keep = g.binary("lt", g.rand(seed, stream), prob);
  return g.where(keep, rescale ? g.div(d, prob) : d, 0);
}

/** TIES sign election: γ = +1 where Σ w_i·τ_i ≥ 0, else −1 (mergekit's "sum" consensus). */
export function electSign(g: Graph, weighted: readonly Node[]): Node {
  return g.where(g.binary("ge", sumOf(g, weighted), 0), 1, -1);
}

/**
 * TIES disjoint merge: Σ over agreeing experts (sign(w_i·τ_i) = γ; zeros never
 * agree) of w_i·τ_i, divided by the sum of the agreeing w_i when `normalize`
 * (left undivided where that sum is 0, as mergekit does).
 */
export function disjointMean(
  g: Graph, weighted: readonly Node[], weights: readonly number[], gamma: Node, normalize: boolean,
): Node {
  const agree = weighted.map((wt) => g.binary("eq", g.sign(wt), gamma));
  const num = sumOf(g, weighted.map((wt, i) => g.where(agree[i], wt, 0)));
  if (!normalize) return num;
  const den = sumOf(g, agree.map((a, i) => (weights[i] === 1 ? a : g.where(a, weights[i], 0))));
  return g.where(g.binary("eq", den, 0), num, g.div(num, den));
}

/** Divide by Σw (left as is when |Σw| < 1e-8, as mergekit does). */
export function normalizeBy(g: Graph, x: Node, weights: readonly number[]): Node {
  // the float32 sum of the float32 weights, in list order (mergekit's weights.sum() of a float32 tensor)
  const total = weights.reduce((s, w) => Math.fround(s + Math.fround(w)), 0);
  return Math.abs(total) < 1e-8 || total === 1 ? x : g.div(x, total);
}

/** b + λ·δ. */
export const applyDelta = (g: Graph, b: Node, delta: Node, lambda: number): Node => g.add(b, scale(g, delta, lambda));

// ---------------------------------------------------------------- per-tensor statistics

/** The sum of x over the whole tensor, or over each row along `axis` (a row value, ir.ts). */
export const sumOver = (g: Graph, x: Node, axis?: Axis): Node => (axis === undefined ? g.sum(x) : g.reduceAlong("sum", x, axis));

/**
 * Σ a·b over the elements whose float32 product is finite (an Inf in a layernorm does not poison the tensor);
 * with `axis`, one sum per row (torch's `dim=-1` or `dim=0`).
 */
export function finiteDot(g: Graph, a: Node, b: Node, axis?: Axis): Node {
  const p = g.mul(a, b);
  return sumOver(g, g.where(g.unary("isfinite", p), p, 0), axis);
}

/** ‖a‖₂ over the finite squares (per row with `axis`). */
export const norm = (g: Graph, a: Node, axis?: Axis): Node => g.unary("sqrt", finiteDot(g, a, a, axis));

/** cos(a, b) = a·b / max(‖a‖‖b‖, eps), clamped to [−1, 1] (mergekit's model_stock form); per row with `axis`. */
export function cosine(g: Graph, a: Node, b: Node, eps = 1e-6, axis?: Axis): Node {
  const c = g.div(finiteDot(g, a, b, axis), g.binary("max", g.mul(norm(g, a, axis), norm(g, b, axis)), eps));
  return g.binary("min", g.binary("max", c, -1), 1);
}

/**
 * q-quantile of the values by nearest rank: the m-th largest with
 * m = 1 + round((1 − q)(n − 1)); q = 1 is the max, q = 0 the min, NaNs ignored.
 */
export const quantile = (g: Graph, a: Node, q: number, n: number): Node =>
  g.kth(a, 1 + Math.round((1 - q) * (Math.max(n, 1) - 1)));
