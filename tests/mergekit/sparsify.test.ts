/**
 * mergekit's numeric unit tests of its sparsifiers (tests/test_sparsify.py at the commit in
 * reference/data/expected.json), ported to mergelab's functions: the same inputs (a 128×64 standard
 * normal tensor, zeros replaced by 7), the same parameters, the same assertions, against `trim`,
 * `trim_outliers`, `magprune`, `drop` and `ties(..., rescale=true)`. Our code, not a copy of theirs;
 * where mergelab's function has a different contract the test says what it asserts instead.
 *
 *   mergekit                                   mergelab
 *   sparsify(method=magnitude, density)        trim(x, k=density, ties="index")
 *   sparsify(method=magnitude_outliers, γ)     trim_outliers(x, k=density, γ=γ)
 *   sparsify(method=della_magprune, ε)         magprune(x, k=density, ε=ε, rescale=true)
 *   sparsify(method=random)                    drop(x, p=1 − density, rescale=…)
 *   rescale_norm="l1" (magnitude)              ties([x], base=0, k=…, rescale=true): kept values scaled to x's L1 norm
 */
import { describe, expect, it } from "vitest";
import type { Value } from "../../core/values.js";
import type { ModelValue } from "../../engine/index.js";
import { MergelabError } from "../../core/errors.js";
import { compute, makeFixture, run, tiny } from "../stdlib/methods/harness.js";

const N = 128 * 64;

/** torch.randn(128, 64) stand-in: a seeded standard normal sample (xorshift + Box–Muller), float32, zeros → 7. */
function sampleTensor(seed = 1): number[] {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 2 ** 32;
  };
  const out: number[] = [];
  while (out.length < N) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    out.push(Math.fround(r * Math.cos(a)), Math.fround(r * Math.sin(a)));
  }
  return out.slice(0, N).map((x) => (x === 0 ? 7 : x));
}

const values = sampleTensor();
const x = tiny({ w: values }, "sample");
const zero = tiny({ w: new Array(N).fill(0) }, "zero");
const out = async (m: Value) => (await compute(m as ModelValue)).w!;
const nonzero = (a: ArrayLike<number>) => Array.from(a).filter((v) => v !== 0).length;
const l1 = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + Math.abs(v), 0);

describe("mergekit tests/test_sparsify.py, TestMagnitude", () => {
  it("test_full_density: density 1 returns the tensor unchanged", async () => {
    const got = await out(run("trim", { x, k: 1, ties: "index" }));
    expect(Array.from(got)).toEqual(values);
  });

  it("test_zero_density: density 0 is refused (mergekit asserts)", () => {
    expect(() => run("trim", { x, k: 0, ties: "index" })).toThrow(MergelabError);
  });

  it("test_partial_density: density 0.5 keeps exactly n // 2 elements", async () => {
    expect(nonzero(await out(run("trim", { x, k: 0.5, ties: "index" })))).toBe(Math.floor(N / 2));
    // and they are the largest magnitudes
    const kept = await out(run("trim", { x, k: 0.5, ties: "index" }));
    const threshold = Array.from(values, Math.abs).sort((a, b) => b - a)[N / 2 - 1]!;
    expect(Array.from(kept).every((v, i) => (Math.abs(values[i]!) >= threshold ? v === values[i] : v === 0))).toBe(true);
  });

  it("test_outliers: γ = γ₀·(1 − density) keeps exactly int(n·density) elements", async () => {
    for (const gamma0 of [0.1, 0.2, 0.5, 1.0]) {
      for (const density of [0.1, 0.3, 0.5, 0.6, 0.9, 1.0]) {
        const gamma = gamma0 * (1 - density);
        const got = await out(run("trim_outliers", { x, k: density, γ: gamma }));
        expect(nonzero(got), `γ₀ = ${gamma0}, density = ${density}`).toBe(Math.floor(N * density));
      }
    }
  });

  it("test_norm_rescale (l1): the kept half rescaled to the tensor's L1 norm, within 1%", async () => {
    const got = await out(run("ties", { xs: [x], base: zero, k: 0.5, ties: "index", rescale: true }));
    expect(nonzero(got)).toBe(N / 2);
    expect(Math.abs(l1(got) / l1(values) - 1)).toBeLessThan(0.01);
    // l2 and linf: mergelab offers mergekit's l1 rescale only (what its `rescale: true` uses for TIES)
  });

  it("test_della_magprune: density 0.5, ε 0.05, rescaled: no NaN, no Inf", async () => {
    const got = await out(run("magprune", { x, k: 0.5, ε: 0.05, seed: 0, rescale: true }));
    expect(Array.from(got).every(Number.isFinite)).toBe(true);
    // and it is a pruning: about half the elements survive (keep probabilities 0.45..0.55)
    expect(Math.abs(nonzero(got) / N - 0.5)).toBeLessThan(0.03);
  });
});

describe("mergekit tests/test_sparsify.py, TestBernoulli", () => {
  it("test_bernoulli_with_rescale: over many draws the mean L1 norm is the tensor's, within 1%", async () => {
    const draws = 200; // mergekit averages 1000 draws; 200 already put the mean within ~0.1%
    const dropped = run("drop", { x: new Array(draws).fill(x) as Value, p: 0.5, seed: 0, rescale: true }) as unknown as Value[];
    const total = await out(run("linear", { xs: dropped.map((d) => run("abs", { x: d })) as unknown as Value, weights: new Array(draws).fill(1), normalize: false }));
    expect(Math.abs(l1(total) / draws / l1(values) - 1)).toBeLessThan(0.01);
  });

  it("test_bernoulli_without_rescale: 0 < kept ≤ n, kept values unchanged", async () => {
    const got = await out(run("drop", { x, p: 0.5, seed: 0, rescale: false }));
    const kept = nonzero(got);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(N);
    expect(Array.from(got).every((v, i) => v === 0 || v === values[i])).toBe(true);
  });

  it("test_cpu_dtypes: float16, bfloat16 and float32 inputs", async () => {
    for (const dtype of ["F16", "BF16", "F32"] as const) {
      const f = makeFixture(dtype, 1, 3);
      const got = await compute(run("drop", { x: f.expertModels[0] as unknown as Value, p: 0.5, seed: 0, rescale: true }));
      for (const [name, a] of Object.entries(got)) {
        expect(Array.from(a).every(Number.isFinite), `${dtype} ${name}`).toBe(true);
        if (a.length >= 16) expect(nonzero(a), `${dtype} ${name}`).toBeLessThan(a.length);
      }
    }
  });
});
