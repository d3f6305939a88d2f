/**
 * The public API as a user gets it: the BUILT package imported by name
 * ("mergelab", through package.json "exports"), by `import` and by `require`
 * (tslab loads packages with require). A tiny `mx` merge of two fixture models
 * in memory gives the float64 average of the two, computed here from the
 * fixture files with io (the same check as expected.json's
 * average-of-three, for two models).
 */
import path from "node:path";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { decodeToF32, openCheckpoint } from "../io/index.js";
import { fixtures, repoRoot } from "./helpers.js";

type Api = typeof import("../index.js");
const F16 = path.join(fixtures, "tiny-llama-f16");
const F32 = path.join(fixtures, "tiny-llama-f32.safetensors");

/** Every float tensor of a checkpoint, decoded to float64 values. */
function decoded(p: string): Map<string, { shape: number[]; values: Float64Array }> {
  const c = openCheckpoint(p);
  try {
    const out = new Map<string, { shape: number[]; values: Float64Array }>();
    for (const t of c.tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const f = new Float32Array(n);
      decodeToF32(t.dtype, c.readRaw(t.name, 0, t.byteLength), n, f);
      out.set(t.name, { shape: [...t.shape], values: Float64Array.from(f) });
    }
    return out;
  } finally {
    c.close();
  }
}

/** The float64 mean of the two fixtures, tensor by tensor, and the sum of its finite values (as in expected.json). */
function averageOfTwo(): Map<string, { shape: number[]; values: Float64Array; sum: number }> {
  const a = decoded(F16);
  const b = decoded(F32);
  const out = new Map<string, { shape: number[]; values: Float64Array; sum: number }>();
  for (const [name, x] of a) {
    const y = b.get(name)!;
    const values = x.values.map((v, i) => (v + y.values[i]!) / 2);
    out.set(name, { shape: x.shape, values, sum: values.reduce((s, v) => (Number.isFinite(v) ? s + v : s), 0) });
  }
  return out;
}

const NAMES = [
  "parse", "check", "plan", "run", "Session", "mx", "createMx", "ScriptError",
  "loadModel", "saveModel", "materialize", "modelFromTensors", "mapTensors", "explainPlan", "ModelValue",
  "Schedule", "layers", "match", "defineMethod", "openCheckpoint", "CheckpointWriter", "plot", "MergelabError",
  "Table", "Dict", "VERSION", "display", "tf", "initRuntime",
] as const;

async function mergeOfTwo(api: Api): Promise<void> {
  const mx = api.createMx(new api.Session({ cwd: fixtures, options: { workers: 0 } }));
  const a = api.loadModel(F16);
  const merged = await mx`linear([${a}, load("tiny-llama-f32.safetensors")], weights=[1, 1])`;
  expect(merged).toBeInstanceOf(api.ModelValue);
  const tensors = await api.materialize(merged as InstanceType<Api["ModelValue"]>, { workers: 0 });
  const want = averageOfTwo();
  expect(Object.keys(tensors).sort()).toEqual([...want.keys()].sort());
  for (const [name, w] of want) {
    const got = tensors[name]!;
    expect(got.shape, name).toEqual(w.shape);
    const values = got.dataSync() as Float32Array;
    let sum = 0;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(w.values[i]!)) {
        expect(values[i], `${name}[${i}]`).toBe(w.values[i]); // ±Inf stays, Inf + −Inf is NaN
        continue;
      }
      sum += values[i]!;
      // float32 arithmetic on exactly decoded inputs: within one float32 rounding of the float64 mean
      expect(Math.abs(values[i]! - w.values[i]!), `${name}[${i}]`).toBeLessThanOrEqual(Math.abs(w.values[i]!) * 2 ** -23 + 1e-12);
    }
    expect(sum, name).toBeCloseTo(w.sum, 4);
  }
}

describe("the built package, imported by name", () => {
  it("import('mergelab') exports the language, engine, io and method APIs", async () => {
    const api = (await import("mergelab")) as unknown as Api;
    for (const n of NAMES) expect(api[n], n).toBeDefined();
    expect(typeof api.engine.evaluateNaive).toBe("function");
    expect(typeof api.io.decodeToF32).toBe("function");
    expect(api.parse("m = 1 +").diagnostics.length).toBeGreaterThan(0);
  });

  it("import('mergelab'): an mx merge of two fixtures is their average", async () => {
    await mergeOfTwo((await import("mergelab")) as unknown as Api);
  });

  it("require('mergelab') (what tslab does): the same API and the same merge", async () => {
    const api = createRequire(import.meta.url)("mergelab") as Api;
    for (const n of NAMES) expect(api[n], n).toBeDefined();
    expect(createRequire(import.meta.url).resolve("mergelab")).toBe(path.join(repoRoot, "dist/index.js"));
    await mergeOfTwo(api);
  });
});
