/**
 * Properties every method must have, checked on random checkpoints:
 * λ = 0 gives the base; one expert with k = 1 gives that expert; the order of
 * experts does not matter; DARE with p = 0 is task arithmetic; slerp's ends;
 * outputs bit-identical across worker counts and chunk sizes.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../../engine/index.js";
import { saveModel } from "../../../engine/exec/index.js";
import type { Value } from "../../../core/values.js";
import { tempDir } from "../../helpers.js";
import { computeF32, makeFixture, run, worstError, type Fixture } from "./harness.js";
import { readSafetensors, writeSafetensors } from "./st.js";

const GTA = ["task_arithmetic", "ties", "dare_linear", "dare_ties", "breadcrumbs", "breadcrumbs_ties", "della", "della_linear"];
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

let bf: Fixture;
let f32: Fixture;
beforeAll(() => {
  bf = makeFixture("BF16", 3, 7);
  f32 = makeFixture("F32", 3, 8);
});
afterAll(() => {
  for (const f of [bf, f32]) fs.rmSync(f.dir, { recursive: true, force: true });
});

describe("properties", () => {
  for (const method of GTA) {
    it(`${method}: λ = 0 gives the base, bit for bit`, async () => {
      const out = await computeF32(run(method, { xs: f32.expertModels, base: f32.baseModel, λ: 0 }));
      const base = await computeF32(f32.baseModel);
      for (const name of Object.keys(base)) expect(bits(out[name]), name).toEqual(bits(base[name]));
    });
  }

  for (const method of ["ties", "breadcrumbs_ties", "breadcrumbs", "della", "della_linear", "task_arithmetic"]) {
    it(`${method}: one expert with k = 1 gives that expert (bitwise on bf16 inputs, where x − b and b + d are exact)`, async () => {
      const args: Record<string, Value> = { xs: [bf.expertModels[1]], base: bf.baseModel, k: 1, γ: 0 };
      if (method === "task_arithmetic") { delete args.k; delete args.γ; }
      if (method === "ties") delete args.γ;
      if (method.startsWith("della")) { delete args.γ; args.ε = 0; } // keep probability k ± ε = 1
      const out = await computeF32(run(method, args));
      const want = await computeF32(bf.expertModels[1]);
      for (const name of Object.keys(want)) expect(bits(out[name]), name).toEqual(bits(want[name]));
    });
  }

  it("ties: one expert with k = 1 gives that expert within one float32 rounding on f32 inputs", async () => {
    const out = await computeF32(run("ties", { xs: [f32.expertModels[0]], base: f32.baseModel, k: 1 }));
    const want = await computeF32(f32.expertModels[0]);
    for (const name of Object.keys(want)) expect(worstError(out[name], want[name], 2 ** -23).excess, name).toBe(0);
  });

  for (const method of ["linear", "task_arithmetic", "ties", "breadcrumbs", "breadcrumbs_ties", "model_stock"]) {
    it(`${method}: the order of experts does not matter`, async () => {
      const [a, b, c] = f32.expertModels;
      const args = (xs: unknown[]) => ({ xs: xs as Value, ...(method === "linear" ? {} : { base: f32.baseModel }) });
      // two experts: every sum is commutative, so the result is bit-identical
      const ab = await computeF32(run(method, args([a, b])));
      const ba = await computeF32(run(method, args([b, a])));
      for (const name of Object.keys(ab)) expect(bits(ab[name]), name).toEqual(bits(ba[name]));
      // three experts: equal up to float32 summation order
      const abc = await computeF32(run(method, args([a, b, c])));
      const cab = await computeF32(run(method, args([c, a, b])));
      for (const name of Object.keys(abc)) expect(worstError(abc[name], cab[name], 1e-6).excess, name).toBe(0);
    });
  }

  it("dare with p = 0 equals task arithmetic (and dare_ties equals ties with k = 1), bitwise", async () => {
    const xs = f32.expertModels;
    const ta = await computeF32(run("task_arithmetic", { xs, base: f32.baseModel, λ: 0.6, weights: [1, 2, 0.5] }));
    const dl = await computeF32(run("dare_linear", { xs, base: f32.baseModel, p: 0, λ: 0.6, weights: [1, 2, 0.5], seed: 3 }));
    for (const name of Object.keys(ta)) expect(bits(dl[name]), name).toEqual(bits(ta[name]));
    const ties = await computeF32(run("ties", { xs, base: f32.baseModel, k: 1 }));
    const dt = await computeF32(run("dare_ties", { xs, base: f32.baseModel, p: 0 }));
    for (const name of Object.keys(ties)) expect(bits(dt[name]), name).toEqual(bits(ties[name]));
  });

  it("slerp at t = 0 and t = 1 gives the ends, bitwise", async () => {
    const [a, b] = f32.expertModels;
    const [A, B] = [await computeF32(a), await computeF32(b)];
    const s0 = await computeF32(run("slerp", { a, b, t: 0 }));
    const s1 = await computeF32(run("slerp", { a, b, t: 1 }));
    for (const name of Object.keys(A)) {
      expect(bits(s0[name]), name).toEqual(bits(A[name]));
      expect(bits(s1[name]), name).toEqual(bits(B[name]));
    }
  });

  it("different seeds give different DARE masks; the same seed the same", async () => {
    const m = (seed: number) => computeF32(run("dare_ties", { xs: f32.expertModels, base: f32.baseModel, p: 0.5, seed }));
    const [a, b, c] = [await m(1), await m(1), await m(2)];
    const name = "model.layers.2.mlp.down_proj.weight";
    expect(bits(a[name])).toEqual(bits(b[name]));
    expect(bits(a[name])).not.toEqual(bits(c[name]));
  });
});

describe("determinism across workers and chunk sizes", () => {
  let dir: string;
  beforeAll(() => {
    // tensors larger than the chunk sizes below, so chunking really splits them
    dir = tempDir("mergelab-determinism-");
    const big: Record<string, { shape: number[]; values: Float64Array }> = {};
    const shapes: Record<string, number[]> = { "model.layers.0.w": [61, 97], "model.layers.1.w": [4099], "model.norm.weight": [33] };
    const make = (seed: number) => {
      let s = seed;
      const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1;
      for (const [n, shape] of Object.entries(shapes)) {
        const numel = shape.reduce((x, y) => x * y, 1);
        big[n] = { shape, values: Float64Array.from({ length: numel }, () => Math.fround(next())) };
      }
      return { ...big };
    };
    writeSafetensors(path.join(dir, "base.safetensors"), make(1), "F32");
    for (let i = 0; i < 3; i++) writeSafetensors(path.join(dir, `x${i}.safetensors`), make(10 + i), "F32");
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const configs = [
    { workers: 0, chunkSize: undefined },
    { workers: 0, chunkSize: 1000 },
    { workers: 1, chunkSize: 777 },
    { workers: 2, chunkSize: 4096 },
    { workers: 2, chunkSize: 100 },
  ];
  const cases: Array<[string, Record<string, Value>]> = [
    ["ties", { k: 0.2 }],
    ["ties", { k: 0.1, scope: "model" }],
    ["dare_ties", { p: 0.9, seed: 4 }],
    ["della", { k: 0.3, ε: 0.1, seed: 2 }],
    ["breadcrumbs_ties", { k: 0.3, γ: 0.02 }],
    ["model_stock", {}],
  ];
  for (const [method, extra] of cases) {
    it(`${method} ${JSON.stringify(extra)}: identical files for ${configs.length} worker/chunk settings`, async () => {
      const xs = [0, 1, 2].map((i) => loadModel(path.join(dir, `x${i}.safetensors`)));
      const base = loadModel(path.join(dir, "base.safetensors"));
      const outputs: string[] = [];
      for (const [i, c] of configs.entries()) {
        const out = path.join(dir, `out-${method}-${i}`);
        await saveModel(run(method, { xs, base, ...extra }), out, { workers: c.workers, chunkSize: c.chunkSize, overwrite: true });
        const t = readSafetensors(path.join(out, "model.safetensors"));
        outputs.push(Object.keys(t).sort().map((n) => `${n}:${t[n].bytes.toString("base64")}`).join("|"));
      }
      for (const o of outputs.slice(1)) expect(o === outputs[0]).toBe(true);
    });
  }
});
