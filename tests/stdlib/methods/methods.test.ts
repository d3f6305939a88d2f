/**
 * Every method against (1) small cases computed by hand and (2) an independent
 * float64 reference (reference.ts) on random tensors of shapes 0-d..3-d, with
 * inputs stored as F32, F16 and BF16 safetensors files.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layers, match } from "../../../engine/index.js";
import { randAt, randKey } from "../../../engine/ir.js";
import type { Value } from "../../../core/values.js";
import * as ref from "./reference.js";
import { compute, makeFixture, run, tiny, values, worstError, type Fixture } from "./harness.js";
import { SHAPES, type TestDType } from "./st.js";

const NAMES = Object.keys(SHAPES);
const TOL = 2e-6;

describe("hand-computed cases", () => {
  const base = tiny({ w: [0, 0, 0, 0] }, "base");

  it("ties: trim (ties at the threshold kept), elect, disjoint mean", async () => {
    // d1 = [1, −2, 3, −0.5], k = 0.5 → m = 2, threshold 2 → τ1 = [0, −2, 3, 0]
    // d2 = [−1, 1, 1, 2], threshold 1 (tied ×3, all kept) → τ2 = [−1, 1, 1, 2]
    // Σ = [−1, −1, 4, 2] → γ = [−, −, +, +]; agreeing means: [−1, −2, (3+1)/2, 2]
    const x1 = tiny({ w: [1, -2, 3, -0.5] }, "x1");
    const x2 = tiny({ w: [-1, 1, 1, 2] }, "x2");
    const out = await compute(run("ties", { xs: [x1, x2], base, k: 0.5 }));
    expect(Array.from(out.w)).toEqual([-1, -2, 2, 2]);
    const half = await compute(run("ties", { xs: [x1, x2], base, k: 0.5, lambda: 0.5, normalize: false }));
    expect(Array.from(half.w)).toEqual([-0.5, -1, 2, 1]);
  });

  it("task_arithmetic and linear", async () => {
    const b = tiny({ w: [1, 1] }, "b");
    const ta = await compute(run("task_arithmetic", { xs: [tiny({ w: [2, 0] }, "x"), tiny({ w: [3, 5] }, "y")], base: b, λ: 0.5 }));
    expect(Array.from(ta.w)).toEqual([2.5, 2.5]); // 1 + 0.5·([1, −1] + [2, 4])
    const lin = await compute(run("linear", { xs: [tiny({ w: [0, 4] }, "x"), tiny({ w: [4, 0] }, "y")], weights: [1, 3] }));
    expect(Array.from(lin.w)).toEqual([3, 1]); // (1·[0, 4] + 3·[4, 0]) / 4
    const avg = await compute(run("average", { xs: [tiny({ w: [0, 4] }, "x"), tiny({ w: [4, 0] }, "y")] }));
    expect(Array.from(avg.w)).toEqual([2, 2]);
  });

  it("breadcrumbs: drops the γ·n largest and keeps the next k·n", async () => {
    const b = tiny({ w: new Array(10).fill(0) }, "b");
    const x = tiny({ w: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }, "x");
    const out = await compute(run("breadcrumbs", { xs: [x], base: b, k: 0.3, γ: 0.1 }));
    expect(Array.from(out.w)).toEqual([0, 0, 0, 0, 0, 0, 7, 8, 9, 0]);
    // γ·n < 1 drops nothing from the top (mergekit drops everything there)
    const none = await compute(run("breadcrumbs", { xs: [x], base: b, k: 0.3, γ: 0.05 }));
    expect(Array.from(none.w)).toEqual([0, 0, 0, 0, 0, 0, 0, 8, 9, 10]);
  });

  it("breadcrumbs_ties and dare_ties: the sparsifier, then the TIES vote", async () => {
    const b = tiny({ w: new Array(10).fill(0) }, "b");
    const up = tiny({ w: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }, "up");
    const down = tiny({ w: [-10, -9, -8, -7, -6, -5, -4, -3, -2, -1] }, "down");
    // k = 0.3, γ = 0.1: up keeps [.., 7, 8, 9, 0], down keeps [0, −9, −8, −7, 0, ..]; no overlap, so each wins its own
    const bt = await compute(run("breadcrumbs_ties", { xs: [up, down], base: b, k: 0.3, γ: 0.1 }));
    expect(Array.from(bt.w)).toEqual([0, -9, -8, -7, 0, 0, 7, 8, 9, 0]);
    // dare_ties, p = 0.5: d̂ = 2d where kept; vote on the sum of the kept values, mean of the agreeing ones
    const dt = await compute(run("dare_ties", { xs: [up, down], base: b, p: 0.5, seed: 3 }));
    const keep = (i: number) => (j: number) => randAt(randKey(3, `drop/${i}`, "w"), j) < 0.5;
    const want = Array.from({ length: 10 }, (_, j) => {
      const u = [keep(0)(j) ? 2 * (j + 1) : 0, keep(1)(j) ? 2 * (j - 10) : 0];
      const gamma = u[0] + u[1] >= 0 ? 1 : -1;
      const agree = u.filter((v) => Math.sign(v) === gamma);
      return agree.length ? agree.reduce((s, v) => s + v, 0) / agree.length : 0;
    });
    expect(Array.from(dt.w)).toEqual(want);
    expect(want.some((v, j) => v !== 0 && v !== 2 * (j + 1))).toBe(true); // the vote picked "down" somewhere
  });

  it("dare_linear: kept elements are d/(1 − p), exactly where rand < 1 − p", async () => {
    const n = 64;
    const b = tiny({ w: new Array(n).fill(0) }, "b");
    const x = tiny({ w: Array.from({ length: n }, (_, i) => i + 1) }, "x");
    const out = await compute(run("dare_linear", { xs: [x], base: b, p: 0.75, seed: 11 }));
    const key = randKey(11, "drop/0", "w");
    const want = Array.from({ length: n }, (_, i) => (randAt(key, i) < 0.25 ? (i + 1) * 4 : 0));
    expect(Array.from(out.w)).toEqual(want);
    const kept = want.filter((v) => v !== 0).length;
    expect(kept).toBeGreaterThan(4); // ~16 of 64
    expect(kept).toBeLessThan(32);
  });

  it("della: keep probability k ± ε by magnitude rank, kept values rescaled by 1/P", async () => {
    // |d| ranks: 0.1→0, 0.2→1, 0.3→2, 0.4→3 → P = 0.2 + 0.6·rank/3 = [0.2, 0.8, 0.6, 0.4];
    // d/P = [0.5, −0.5, 0.5, 0.5]
    const b = tiny({ w: [0, 0, 0, 0] }, "b");
    const x = tiny({ w: [0.1, -0.4, 0.3, 0.2] }, "x");
    const P = [0.2, 0.8, 0.6, 0.4];
    const key = randKey(5, "della/0", "w");
    const out = await compute(run("della_linear", { xs: [x], base: b, k: 0.5, ε: 0.3, seed: 5 }));
    const want = [0.5, -0.5, 0.5, 0.5].map((v, i) => (randAt(key, i) < P[i] ? v : 0));
    expect(Array.from(out.w).map((v) => Math.round(v * 1e6) / 1e6)).toEqual(want);
  });

  it("slerp of orthogonal unit vectors at t = 0.5 is (√½, √½); model_stock by the angle", async () => {
    const a = tiny({ w: [1, 0] }, "a");
    const b = tiny({ w: [0, 1] }, "b");
    const s = await compute(run("slerp", { a, b, t: 0.5 }));
    expect(s.w[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(s.w[1]).toBeCloseTo(Math.SQRT1_2, 6);
    // d1 = [1, 0], d2 = [1, 1]: c = 1/√2, t = 2c/(1 + c) = 0.828427…; mean = [1, 0.5]
    const ms = await compute(run("model_stock", { xs: [tiny({ w: [1, 0] }, "x1"), tiny({ w: [1, 1] }, "x2")], base: tiny({ w: [0, 0] }, "o") }));
    const t = (2 * Math.SQRT1_2) / (1 + Math.SQRT1_2);
    expect(ms.w[0]).toBeCloseTo(t, 6);
    expect(ms.w[1]).toBeCloseTo(t / 2, 6);
  });

  it("passthrough scales, and schedules resolve per tensor", async () => {
    const x = tiny({ "model.layers.0.w": [2, 4], "model.layers.1.w": [2, 4] }, "x");
    const out = await compute(run("passthrough", { x, scale: layers([1, 0.5]) }));
    expect(Array.from(out["model.layers.0.w"])).toEqual([2, 4]);
    expect(Array.from(out["model.layers.1.w"])).toEqual([1, 2]);
  });

  it("bad arguments are MergelabErrors naming the parameter", () => {
    const x = tiny({ w: [1] }, "x");
    expect(() => run("ties", { xs: [x], base: x, k: 1.5 })).toThrow(/k must be in \(0, 1\], got 1.5/);
    expect(() => run("ties", { xs: [x], base: x, weights: [1, 2] })).toThrow(/weights has 2 values for 1 models/);
    expect(() => run("model_stock", { xs: [x], base: x })).toThrow(/at least 2 experts/);
    expect(() => run("della", { xs: [x], base: x, k: 0.1, ε: 0.2 })).toThrow(/k − ε/);
    expect(() => run("ties", { xs: [x], base: x, scope: "layer" })).toThrow(/scope must be one of/);
    try {
      run("dare_ties", { xs: [x], base: x, p: -0.1 });
      expect.unreachable();
    } catch (e) {
      expect((e as { details: { param: string } }).details.param).toBe("p");
    }
  });
});

interface Case {
  name: string;
  args: (f: Fixture) => Record<string, Value | undefined>;
  ref: (f: Fixture, tensor: string) => Float64Array;
}

const xs = (f: Fixture, tensor: string) => f.experts.map((_, i) => values(f, i, tensor));
const b = (f: Fixture, tensor: string) => values(f, "base", tensor);
const W = [1, 0.5, 2];

const gtaCase = (name: string, extra: Record<string, Value>, o: ref.GtaRef): Case => ({
  name: `${name} ${JSON.stringify(extra)}`,
  args: (f) => ({ xs: f.expertModels, base: f.baseModel, ...extra }),
  ref: (f, tensor) => ref.gta(b(f, tensor), xs(f, tensor), tensor, o),
});

const CASES: Case[] = [
  { name: "linear", args: (f) => ({ xs: f.expertModels, weights: W }), ref: (f, t) => ref.linear(xs(f, t), W, true) },
  { name: "linear normalize=false", args: (f) => ({ xs: f.expertModels, weights: W, normalize: false }), ref: (f, t) => ref.linear(xs(f, t), W, false) },
  { name: "average", args: (f) => ({ xs: f.expertModels }), ref: (f, t) => ref.linear(xs(f, t), [1, 1, 1], true) },
  gtaCase("task_arithmetic", { λ: 0.7, weights: W }, { sparsify: "none", consensus: "sum", lambda: 0.7, weights: W, normalize: false }),
  gtaCase("ties", { k: 0.3, λ: 1.2, weights: W }, { sparsify: "trim", consensus: "ties", k: 0.3, lambda: 1.2, weights: W, normalize: true }),
  gtaCase("ties", { k: 0.5, normalize: false }, { sparsify: "trim", consensus: "ties", k: 0.5, normalize: false }),
  {
    name: 'ties k=match({"self_attn": 0.5}, default=0.25)',
    args: (f) => ({ xs: f.expertModels, base: f.baseModel, k: match({ self_attn: 0.5 }, 0.25) }),
    ref: (f, t) => ref.gta(b(f, t), xs(f, t), t, { sparsify: "trim", consensus: "ties", k: t.includes("self_attn") ? 0.5 : 0.25, normalize: true }),
  },
  gtaCase("dare_linear", { p: 0.5, seed: 3, weights: W }, { sparsify: "drop", consensus: "sum", p: 0.5, seed: 3, weights: W, normalize: false }),
  gtaCase("dare_ties", { p: 0.3, seed: 5, λ: 0.8 }, { sparsify: "drop", consensus: "ties", p: 0.3, seed: 5, lambda: 0.8, normalize: true }),
  gtaCase("breadcrumbs", { k: 0.5, γ: 0.1 }, { sparsify: "breadcrumbs", consensus: "sum", k: 0.5, gamma: 0.1, normalize: false }),
  gtaCase("breadcrumbs_ties", { k: 0.6, γ: 0.05, weights: W }, { sparsify: "breadcrumbs", consensus: "ties", k: 0.6, gamma: 0.05, weights: W, normalize: true }),
  gtaCase("della", { k: 0.5, ε: 0.2, seed: 4 }, { sparsify: "della", consensus: "ties", k: 0.5, epsilon: 0.2, seed: 4, normalize: true }),
  gtaCase("della_linear", { k: 0.4, ε: 0.1, seed: 9, λ: 0.5 }, { sparsify: "della", consensus: "sum", k: 0.4, epsilon: 0.1, seed: 9, lambda: 0.5, normalize: false }),
  { name: "slerp t=0.3", args: (f) => ({ a: f.expertModels[0], b: f.expertModels[1], t: 0.3 }), ref: (f, t) => ref.slerp(values(f, 0, t), values(f, 1, t), 0.3) },
  {
    name: "slerp t=layers([0, 1])",
    args: (f) => ({ a: f.baseModel, b: f.expertModels[2], t: layers([0, 1]) }),
    // layer index l of 3 layers → t = l/2; model.norm (outside the stack) → the first value, as mergekit's gradients
    ref: (f, t) => ref.slerp(b(f, t), values(f, 2, t), t === "model.norm.weight" ? 0 : Number(/layers\.(\d)/.exec(t)![1]) / 2),
  },
  { name: "model_stock", args: (f) => ({ xs: f.expertModels, base: f.baseModel }), ref: (f, t) => ref.modelStock(b(f, t), xs(f, t)) },
  { name: "passthrough scale=0.25", args: (f) => ({ x: f.expertModels[1], scale: 0.25 }), ref: (f, t) => values(f, 1, t).map((v) => v * 0.25) },
];

for (const dtype of ["F32", "F16", "BF16"] as TestDType[]) {
  describe(`against the float64 reference, ${dtype} inputs`, () => {
    let f: Fixture;
    beforeAll(() => {
      f = makeFixture(dtype);
    });
    afterAll(() => fs.rmSync(f.dir, { recursive: true, force: true }));

    for (const c of CASES) {
      it(c.name, async () => {
        const out = await compute(run(c.name.split(" ")[0], c.args(f)));
        expect(Object.keys(out).sort()).toEqual([...NAMES].sort());
        for (const tensor of NAMES) {
          const want = c.ref(f, tensor);
          expect(out[tensor].length, tensor).toBe(want.length);
          const w = worstError(out[tensor], want, TOL);
          expect(w, `${tensor} at ${w.at}: ${w.got} vs ${w.want}`).toEqual({ excess: 0, at: -1, got: 0, want: 0 });
        }
      });
    }

    it('ties scope="model": one threshold per expert over all its tensors', async () => {
      const k = 0.3;
      const out = await compute(run("ties", { xs: f.expertModels, base: f.baseModel, k, scope: "model" }));
      // reference: each expert's threshold is the m-th largest |d| over the concatenation of its tensors
      const thresholds = f.experts.map((_, i) => {
        const all = NAMES.flatMap((t) => Array.from(ref.taskVectors(b(f, t), [values(f, i, t)])[0], Math.abs)).sort((p, q) => q - p);
        return all[Math.min(Math.max(Math.floor(k * all.length), 1), all.length) - 1];
      });
      for (const tensor of NAMES) {
        const taus = ref.taskVectors(b(f, tensor), xs(f, tensor)).map((d, i) => d.map((v) => (Math.abs(v) >= thresholds[i] ? v : 0)));
        const delta = ref.tiesConsensus(taus, [1, 1, 1], true);
        const want = b(f, tensor).map((v, j) => v + delta[j]);
        const w = worstError(out[tensor], want, TOL);
        expect(w, `${tensor} at ${w.at}: ${w.got} vs ${w.want}`).toEqual({ excess: 0, at: -1, got: 0, want: 0 });
      }
    });
  });
}
