/**
 * Independent float64 references of the merge methods: plain loops over
 * Float64Array, written from docs/methods.md, sharing nothing with the
 * production graph builders except the counter-based generator (randKey /
 * randAt from ir.ts), so random masks are the same draws.
 */
import { randAt, randKey } from "../../../engine/ir.js";

export type Vec = Float64Array;

const zeros = (n: number) => new Float64Array(n);
const map = (n: number, f: (j: number) => number) => Float64Array.from({ length: n }, (_, j) => f(j));

export function taskVectors(base: Vec, xs: Vec[]): Vec[] {
  return xs.map((x) => map(x.length, (j) => x[j] - base[j]));
}

const keepCount = (k: number, n: number) => Math.min(Math.max(Math.floor(k * n), 1), n);

/** m-th largest |d| by sorting a copy (descending). */
function kthLargestAbs(d: Vec, m: number): number {
  const a = Array.from(d, Math.abs).sort((x, y) => y - x);
  return a[Math.min(Math.max(m, 1), a.length) - 1];
}

export function trim(d: Vec, k: number): Vec {
  if (k >= 1) return d;
  const thr = kthLargestAbs(d, keepCount(k, d.length));
  return map(d.length, (j) => (Math.abs(d[j]) >= thr ? d[j] : 0));
}

export function dareDrop(d: Vec, p: number, seed: number, stream: string, tensor: string, rescale = true): Vec {
  if (p <= 0) return d;
  const key = randKey(seed, stream, tensor);
  return map(d.length, (j) => (randAt(key, j) < 1 - p ? (rescale ? d[j] / (1 - p) : d[j]) : 0));
}

export function breadcrumbs(d: Vec, k: number, gamma: number): Vec {
  const n = d.length;
  const m = keepCount(k, n);
  const top = Math.min(Math.floor(gamma * n), n - m);
  const lo = kthLargestAbs(d, top + m);
  const hi = top >= 1 ? kthLargestAbs(d, top) : Infinity;
  return map(n, (j) => (Math.abs(d[j]) >= lo && Math.abs(d[j]) < hi ? d[j] : 0));
}

/** DELLA with the documented rank: B = min(n, 32) equal-count buckets of |d| (exact ranks for n ≤ 32). */
export function della(d: Vec, k: number, eps: number, seed: number, stream: string, tensor: string, rescale = true): Vec {
  const n = d.length;
  const B = Math.min(n, 32);
  const asc = Array.from(d, Math.abs).sort((x, y) => x - y);
  const key = randKey(seed, stream, tensor);
  return map(n, (j) => {
    const a = Math.abs(d[j]);
    let rank = 0.5;
    if (B > 1) {
      let bucket = 0;
      for (let b = 1; b < B; b++) if (a >= asc[Math.ceil((b * n) / B)]) bucket++;
      rank = bucket / (B - 1);
    }
    const prob = k - eps + 2 * eps * rank;
    return randAt(key, j) < prob ? (rescale ? d[j] / prob : d[j]) : 0;
  });
}

export function sumConsensus(taus: Vec[], w: number[], normalize: boolean): Vec {
  const n = taus[0].length;
  const total = w.reduce((s, x) => s + x, 0);
  const div = normalize && Math.abs(total) >= 1e-8 ? total : 1;
  return map(n, (j) => taus.reduce((s, t, i) => s + w[i] * t[j], 0) / div);
}

export function tiesConsensus(taus: Vec[], w: number[], normalize: boolean): Vec {
  const n = taus[0].length;
  return map(n, (j) => {
    const u = taus.map((t, i) => w[i] * t[j]);
    const gamma = u.reduce((s, x) => s + x, 0) >= 0 ? 1 : -1;
    let num = 0;
    let den = 0;
    u.forEach((x, i) => {
      if (Math.sign(x) === gamma) {
        num += x;
        den += w[i];
      }
    });
    return normalize && den !== 0 ? num / den : num;
  });
}

export interface GtaRef {
  sparsify: "none" | "trim" | "drop" | "breadcrumbs" | "della";
  consensus: "sum" | "ties";
  k?: number; p?: number; gamma?: number; epsilon?: number; lambda?: number;
  weights?: number[]; normalize: boolean; seed?: number; rescale?: boolean;
}

export function gta(base: Vec, xs: Vec[], tensor: string, o: GtaRef): Vec {
  const w = o.weights ?? xs.map(() => 1);
  const taus = taskVectors(base, xs).map((d, i) => {
    switch (o.sparsify) {
      case "none": return d;
      case "trim": return trim(d, o.k ?? 0.2);
      case "drop": return dareDrop(d, o.p ?? 0.9, o.seed ?? 0, `drop/${i}`, tensor, o.rescale ?? true);
      case "breadcrumbs": return breadcrumbs(d, o.k ?? 0.2, o.gamma ?? 0.01);
      case "della": return della(d, o.k ?? 0.2, o.epsilon ?? 0.15, o.seed ?? 0, `della/${i}`, tensor, o.rescale ?? true);
    }
  });
  const delta = o.consensus === "sum" ? sumConsensus(taus, w, o.normalize) : tiesConsensus(taus, w, o.normalize);
  const lambda = o.lambda ?? 1;
  return map(base.length, (j) => base[j] + lambda * delta[j]);
}

export function linear(xs: Vec[], w: number[], normalize: boolean): Vec {
  return sumConsensus(xs, w, normalize);
}

const dotF = (a: Vec, b: Vec) => a.reduce((s, x, j) => (Number.isFinite(x * b[j]) ? s + x * b[j] : s), 0);

export function slerp(a: Vec, b: Vec, t: number): Vec {
  const na = Math.sqrt(dotF(a, a));
  const nb = Math.sqrt(dotF(b, b));
  const c = dotF(a, b) / ((na > 1e-8 ? na : 1) * (nb > 1e-8 ? nb : 1));
  let w0: number, w1: number;
  if (Math.abs(c) > 0.9995) {
    w0 = 1 - t;
    w1 = t;
  } else {
    const theta = Math.acos(c);
    w0 = Math.sin((1 - t) * theta) / Math.sin(theta);
    w1 = Math.sin(t * theta) / Math.sin(theta);
  }
  return map(a.length, (j) => w0 * a[j] + w1 * b[j]);
}

export function modelStock(base: Vec, xs: Vec[]): Vec {
  const ds = taskVectors(base, xs);
  const cos: number[] = [];
  for (let i = 0; i < ds.length; i++) {
    for (let j = i + 1; j < ds.length; j++) {
      const c = dotF(ds[i], ds[j]) / Math.max(Math.sqrt(dotF(ds[i], ds[i])) * Math.sqrt(dotF(ds[j], ds[j])), 1e-6);
      cos.push(Math.min(Math.max(c, -1), 1));
    }
  }
  const c = cos.reduce((s, x) => s + x, 0) / cos.length;
  const N = xs.length;
  const t = (N * c) / (1 + (N - 1) * c);
  return map(base.length, (j) => t * (xs.reduce((s, x) => s + x[j], 0) / N) + (1 - t) * base[j]);
}

export { zeros };
