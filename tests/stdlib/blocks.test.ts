/**
 * Building blocks: each one's values on small hand-computed cases, and the
 * built-in methods rewritten as compositions of blocks give the same bits.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { combine, layers, type ModelValue, type Node } from "../../engine/index.js";
import { lookup as registryLookup } from "../../stdlib/registry.js";
import { defineMethod } from "../../stdlib/define.js";
import { invoke } from "../../stdlib/methods/define.js";
import type { Value } from "../../core/values.js";
import { check, Session } from "../../dsl/index.js";
import { isModel } from "../../engine/model.js";
import { fixtures } from "../helpers.js";
import { compute, computeF32, makeFixture, run, tiny, type Fixture } from "./methods/harness.js";

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const list = (v: unknown) => v as ModelValue[];
const add = (a: ModelValue | number, b: ModelValue | number) => combine("+", a, b) as ModelValue;
const mul = (a: ModelValue | number, b: ModelValue | number) => combine("*", a, b) as ModelValue;

describe("blocks on hand-computed cases", () => {
  const x = tiny({ w: [3, -1, 0, 2, -4] }, "x");
  const y = tiny({ w: [1, 1, 1, 1, 1] }, "y");

  it("sign, abs, clamp, where", async () => {
    expect(Array.from((await compute(run("sign", { x }))).w)).toEqual([1, -1, 0, 1, -1]);
    expect(Array.from((await compute(run("abs", { x }))).w)).toEqual([3, 1, 0, 2, 4]);
    expect(Array.from((await compute(run("clamp", { x, min: -2, max: 2.5 }))).w)).toEqual([2.5, -1, 0, 2, -2]);
    expect(Array.from((await compute(run("where", { cond: x, a: y, b: -7 }))).w)).toEqual([1, 1, -7, 1, 1]);
    expect(() => run("clamp", { x, min: 3, max: 1 })).toThrow(/min 3 is above max 1/);
    expect(run("where", { cond: 1, a: 2, b: 3 })).toBe(2);
  });

  it("sin and acos: float32 of Math.sin/Math.acos per element, plain numbers give numbers", async () => {
    const v = tiny({ w: [1, -1, 0, 0.5, 2] }, "v");
    expect(Array.from((await compute(run("acos", { x: v }))).w)).toEqual([0, Math.fround(Math.PI), Math.fround(Math.PI / 2), Math.fround(Math.PI / 3), NaN]);
    const s = (await compute(run("sin", { x: tiny({ w: [0, Math.PI / 6, -Math.PI / 2] }, "r") }))).w;
    expect(Array.from(s)).toEqual([0, Math.fround(Math.sin(Math.fround(Math.PI / 6))), -1]);
    expect(run("sin", { x: Math.PI / 2 })).toBe(1);
    expect(run("acos", { x: -1 })).toBe(Math.PI);
  });

  it("magprune at k = ε (keep probability 0 at the lowest rank) drops there, never divides by 0 into the output", async () => {
    const d = tiny({ w: [0.5, -4, 3, -2, 1, 0.25, -6, 8] }, "d");
    for (const [k, eps] of [[0.3, 0.3], [0.5, 0.5]]) {
      for (const seed of [0, 1, 2]) {
        const w = (await compute(run("magprune", { x: d, k, ε: eps, seed, rescale: true }))).w;
        expect(w.every(Number.isFinite), `k=${k} ε=${eps} seed=${seed}: ${Array.from(w)}`).toBe(true);
        expect(w[5], "the smallest |d| has keep probability 0").toBe(0);
      }
    }
  });

  it("abs, sign, clamp, where on plain numbers are the numeric functions, in the language", async () => {
    const s = new Session({ cwd: fixtures, options: { workers: 0 } });
    const value = async (code: string) => (await s.execute(code)).value;
    expect(await value("abs(-0.5)")).toBe(0.5);
    expect(await value("[abs(x) for x in [-2, 0, 3]]")).toEqual([2, 0, 3]);
    expect(await value("[sign(x) for x in [-2, 0, 3]]")).toEqual([-1, 0, 1]);
    expect(await value("clamp(7, min=0, max=1) + clamp(-3, min=-1)")).toBe(0);
    expect(await value("where(0, 1, 2) * 10 + where(-1, 3, 4)")).toBe(23);
    const m = await value('abs(load("tiny-llama-f32.safetensors") * -1)');
    expect(isModel(m)).toBe(true);
    expect(await check("k = abs(-0.5)\nm = ties([load(\"tiny-llama-f16\")], base=load(\"tiny-llama-f32.safetensors\"), k=k)", { cwd: fixtures })).toEqual([]);
  });

  it("per-tensor norm, dot, cosine, quantile fill the tensor", async () => {
    expect(Array.from((await compute(run("norm", { x }))).w)).toEqual(new Array(5).fill(Math.fround(Math.sqrt(30))));
    expect(Array.from((await compute(run("dot", { a: x, b: y }))).w)).toEqual(new Array(5).fill(0));
    const c = (await compute(run("tensor_cosine", { a: x, b: x }))).w;
    expect(c[0]).toBeCloseTo(1, 6);
    // sorted x: −4, −1, 0, 2, 3 → q = 0.5 is 0, q = 1 is 3, q = 0 is −4, q = 0.75 is 2
    for (const [q, v] of [[0.5, 0], [1, 3], [0, -4], [0.75, 2]]) {
      expect((await compute(run("quantile", { x, q }))).w[2], `q=${q}`).toBe(v);
    }
  });

  it("trim and drop map over lists; task_vectors subtracts the base", async () => {
    const base = tiny({ w: [1, 1, 1, 1, 1] }, "b");
    const tvs = list(run("task_vectors", { xs: [x, y], base }));
    expect(Array.from((await compute(tvs[0])).w)).toEqual([2, -2, -1, 1, -5]);
    const trimmed = list(run("trim", { x: tvs, k: 0.4 })); // m = 2: keep |d| ≥ 2 (three tie at 2: kept)
    expect(Array.from((await compute(trimmed[0])).w)).toEqual([2, -2, 0, 0, -5]);
    expect(Array.from((await compute(trimmed[1])).w)).toEqual([0, 0, 0, 0, 0]); // y − b = 0: m = 2 largest of zeros
    const dropped = list(run("drop", { x: [x, x], p: 0.5, seed: 1 }));
    const [d0, d1] = [await compute(dropped[0]), await compute(dropped[1])];
    for (const v of [...d0.w, ...d1.w]) expect([0, 6, -2, 4, -8]).toContain(v);
    expect(Array.from(d0.w)).not.toEqual(Array.from(d1.w)); // list items draw from their own streams
  });

  it("elect_sign and disjoint_mean", async () => {
    const t1 = tiny({ w: [1, -2, 3, 0] }, "t1");
    const t2 = tiny({ w: [-3, 1, 1, 0] }, "t2");
    expect(Array.from((await compute(run("elect_sign", { xs: [t1, t2] }))).w)).toEqual([-1, -1, 1, 1]);
    expect(Array.from((await compute(run("disjoint_mean", { xs: [t1, t2] }))).w)).toEqual([-3, -2, 2, 0]);
    expect(Array.from((await compute(run("disjoint_mean", { xs: [t1, t2], weights: [3, 1] }))).w)).toEqual([3 / 3, -6 / 3, (9 + 1) / 4, 0]);
  });
});

describe("methods are compositions of blocks, bit for bit", () => {
  let f: Fixture;
  beforeAll(() => {
    f = makeFixture("F32", 3, 21);
  });
  afterAll(() => fs.rmSync(f.dir, { recursive: true, force: true }));

  async function same(a: ModelValue, b: ModelValue): Promise<void> {
    const [x, y] = [await computeF32(a), await computeF32(b)];
    expect(Object.keys(x).sort()).toEqual(Object.keys(y).sort());
    for (const name of Object.keys(x)) expect(bits(x[name]), name).toEqual(bits(y[name]));
  }

  it("ties = base + λ·disjoint_mean(trim(task_vectors), elect_sign(…))", async () => {
    const weights: Value = [1, 0.5, 2];
    const tv = list(run("trim", { x: run("task_vectors", { xs: f.expertModels, base: f.baseModel }) as Value, k: 0.3 }));
    const composed = add(f.baseModel, mul(0.7, run("disjoint_mean", { xs: tv, sign: run("elect_sign", { xs: tv, weights }), weights })));
    await same(run("ties", { xs: f.expertModels, base: f.baseModel, k: 0.3, λ: 0.7, weights }), composed);
  });

  it("dare_ties = base + disjoint_mean(drop(task_vectors, p, seed), elect_sign(…))", async () => {
    const tv = list(run("drop", { x: run("task_vectors", { xs: f.expertModels, base: f.baseModel }) as Value, p: 0.8, seed: 9 }));
    const composed = add(f.baseModel, run("disjoint_mean", { xs: tv, sign: run("elect_sign", { xs: tv }) }));
    await same(run("dare_ties", { xs: f.expertModels, base: f.baseModel, p: 0.8, seed: 9 }), composed);
  });

  it("task_arithmetic = base + λ·(w₀·d₀ + w₁·d₁ + w₂·d₂)", async () => {
    const w = [0.5, 1, 1.5];
    const tv = list(run("task_vectors", { xs: f.expertModels, base: f.baseModel }));
    const sum = tv.map((d, i) => (w[i] === 1 ? d : mul(w[i], d))).reduce((a, b) => add(a, b));
    await same(run("task_arithmetic", { xs: f.expertModels, base: f.baseModel, λ: 0.4, weights: w }), add(f.baseModel, mul(0.4, sum)));
  });

  it("breadcrumbs_ties = base + disjoint_mean(trim_outliers(task_vectors, k, γ))", async () => {
    const tv = list(run("trim_outliers", { x: run("task_vectors", { xs: f.expertModels, base: f.baseModel }) as Value, k: 0.4, γ: 0.05 }));
    await same(run("breadcrumbs_ties", { xs: f.expertModels, base: f.baseModel, k: 0.4, γ: 0.05 }), add(f.baseModel, run("disjoint_mean", { xs: tv })));
  });

  it("della = base + λ·disjoint_mean(magprune(task_vectors, k, ε, seed))", async () => {
    const tv = list(run("magprune", { x: run("task_vectors", { xs: f.expertModels, base: f.baseModel }) as Value, k: 0.4, ε: 0.2, seed: 5 }));
    const composed = add(f.baseModel, mul(0.9, run("disjoint_mean", { xs: tv })));
    await same(run("della", { xs: f.expertModels, base: f.baseModel, k: 0.4, ε: 0.2, seed: 5, λ: 0.9 }), composed);
  });

  /**
   * slerp from blocks: ‖x‖ ≤ 1e-8 counts as 1, written where(clamp(‖x‖ − 1e-8, min=0), ‖x‖, 1)
   * (nonzero exactly when ‖x‖ > 1e-8); likewise |c| > 0.9995.
   */
  function slerpComposed(a: ModelValue, b: ModelValue, t: number): { out: ModelValue; parallel: ModelValue } {
    const unitNorm = (x: ModelValue) => {
      const n = run("norm", { x });
      return run("where", { cond: run("clamp", { x: combine("-", n, 1e-8) as ModelValue, min: 0 }), a: n, b: 1 });
    };
    const c = combine("/", run("dot", { a, b }), mul(unitNorm(a), unitNorm(b))) as ModelValue;
    const parallel = run("clamp", { x: combine("-", run("abs", { x: c }), 0.9995) as ModelValue, min: 0 });
    const theta = run("acos", { x: c });
    const sinTheta = run("sin", { x: theta });
    const thetaT = mul(theta, t);
    const s0 = combine("/", run("sin", { x: combine("-", theta, thetaT) as ModelValue }), sinTheta) as ModelValue;
    const s1 = combine("/", run("sin", { x: thetaT }), sinTheta) as ModelValue;
    const w0 = run("where", { cond: parallel, a: 1 - t, b: s0 });
    const w1 = run("where", { cond: parallel, a: t, b: s1 });
    return { out: add(mul(a, w0), mul(b, w1)), parallel };
  }

  for (const dtype of ["F32", "F16", "BF16"] as const) {
    it(`slerp = sin((1−t)θ)/sin θ·a + sin(tθ)/sin θ·b from norm, dot, where, clamp, abs, acos, sin (${dtype})`, async () => {
      const g = makeFixture(dtype, 2, 31);
      const near = makeFixture(dtype, 2, 32, 0.002); // experts nearly parallel: the lerp branch
      try {
        for (const fx of [g, near]) {
          const [a, b] = fx.expertModels;
          for (const t of [0, 0.3, 0.5, 0.85, 1]) {
            const { out } = slerpComposed(a, b, t);
            await same(run("slerp", { a, b, t }), out);
          }
        }
        // both branches were taken: some tensor of `g` uses the angle, some tensor of `near` the lerp
        const flags = async (fx: Fixture) => Object.values(await computeF32(slerpComposed(fx.expertModels[0], fx.expertModels[1], 0.5).parallel)).map((v) => v[0] !== 0);
        expect((await flags(g)).some((p) => !p)).toBe(true);
        expect((await flags(near)).some((p) => p)).toBe(true);
        // a layers() schedule: each tensor equals the composition at its own t
        const sched = layers([0.1, 0.6, 0.9]);
        const [a, b] = g.expertModels;
        const got = await computeF32(run("slerp", { a, b, t: sched }));
        const byT = new Map<number, Record<string, Float32Array>>();
        for (const name of Object.keys(got)) {
          const t = sched.at(a.context(name));
          if (!byT.has(t)) byT.set(t, await computeF32(slerpComposed(a, b, t).out));
          expect(bits(got[name]), `${name} at t = ${t}`).toEqual(bits(byT.get(t)![name]));
        }
        expect(byT.size).toBeGreaterThan(1);
      } finally {
        for (const fx of [g, near]) fs.rmSync(fx.dir, { recursive: true, force: true });
      }
    });
  }

  it("model_stock = t·average + (1 − t)·base with t = N·c/(1 + (N − 1)·c) from the pairwise cosines", async () => {
    const d = list(run("task_vectors", { xs: f.expertModels, base: f.baseModel }));
    const cos = (i: number, j: number) => run("tensor_cosine", { a: d[i], b: d[j] });
    const c = combine("/", add(add(cos(0, 1), cos(0, 2)), cos(1, 2)), 3) as ModelValue;
    const t = combine("/", mul(3, c), add(1, mul(2, c))) as ModelValue;
    const composed = add(mul(t, run("average", { xs: f.expertModels })), mul(combine("-", 1, t) as ModelValue, f.baseModel));
    await same(run("model_stock", { xs: f.expertModels, base: f.baseModel }), composed);
  });

  for (const dtype of ["F16", "BF16"] as const) {
    it(`model_stock of two experts = its composition, bitwise (${dtype})`, async () => {
      const fx = makeFixture(dtype, 2, 41);
      try {
        const [d0, d1] = list(run("task_vectors", { xs: fx.expertModels, base: fx.baseModel }));
        const c = combine("/", run("tensor_cosine", { a: d0, b: d1 }), 1) as ModelValue;
        const t = combine("/", mul(2, c), add(1, mul(1, c))) as ModelValue;
        const composed = add(mul(t, run("average", { xs: fx.expertModels })), mul(combine("-", 1, t) as ModelValue, fx.baseModel));
        await same(run("model_stock", { xs: fx.expertModels, base: fx.baseModel }), composed);
      } finally {
        fs.rmSync(fx.dir, { recursive: true, force: true });
      }
    });
  }

  it("ties composition differs when a step is left out (the comparison can fail)", async () => {
    const tv = list(run("task_vectors", { xs: f.expertModels, base: f.baseModel }));
    const untrimmed = add(f.baseModel, run("disjoint_mean", { xs: tv }));
    const [a, b] = [await computeF32(run("ties", { xs: f.expertModels, base: f.baseModel, k: 0.3 })), await computeF32(untrimmed)];
    const name = "model.layers.2.mlp.down_proj.weight";
    expect(bits(a[name])).not.toEqual(bits(b[name]));
  });
});

describe("defineMethod", () => {
  it("registers a method the registry finds, with its params checked and schedules resolved", async () => {
    const spec = defineMethod({
      name: "halfway_test",
      doc: "b + t·(x − b)",
      example: "halfway_test(x, base=b, t=0.5)",
      params: [
        { name: "x", type: "model", required: true, doc: "expert" },
        { name: "base", type: "model", required: true, doc: "base" },
        { name: "t", type: ["number", "schedule"], default: 0.5, schedulable: true, range: { min: 0, max: 1 }, doc: "step" },
      ],
      compute: (g, { x, base }, _t, { t }) => g.add(base as Node, g.mul(g.sub(x as Node, base as Node), t as number)),
    });
    expect(registryLookup("halfway_test")).toBe(spec);
    expect(spec.category).toBe("method");
    const out = await compute(invoke(spec, { x: tiny({ w: [4, 8] }, "x"), base: tiny({ w: [0, 2] }, "b") }) as ModelValue);
    expect(Array.from(out.w)).toEqual([2, 5]);
    expect(() => invoke(spec, { x: tiny({ w: [1] }, "x"), base: tiny({ w: [1] }, "b"), t: 2 })).toThrow(/t must be in \[0, 1\], got 2/);
    expect(() => defineMethod({ ...spec, name: "bad name", compute: () => { throw new Error(); } })).toThrow(/not a valid name/);
  });
});
