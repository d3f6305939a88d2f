// The executor beyond single-tensor numerics: model-scope statistics, carried-through tensors,
// chunked reads (bounded memory), interrupts, the average of the fixtures, plans and explain.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InterruptedError, MergelabError } from "../../core/errors.js";
import { evaluateNaive, Graph, inputKey, kthLargestNaive } from "../../engine/ir.js";
import { combine, loadModel, mapTensors, modelFromArrays, type ModelValue } from "../../engine/model.js";
import { evaluateScalars, materialize, materializeArrays, saveModel } from "../../engine/exec/index.js";
import { explainPlan } from "../../engine/plan.js";
import { openCheckpoint } from "../../io/index.js";
import { expected, fixtures, tempDir } from "../helpers.js";
import { firstMismatch, referenceInputs, rng, roundTo, writeCheckpoint, type TestTensor } from "./util.js";

let dir: string;
beforeAll(() => {
  dir = tempDir("mergelab-exec-");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function randomModel(name: string, seed: number, shapes: Record<string, number[]>, dtype: TestTensor["dtype"] = "F32"): ModelValue {
  const r = rng(seed);
  const tensors: Record<string, TestTensor> = {};
  for (const [t, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors[t] = { dtype, shape, values: roundTo(dtype, Float32Array.from({ length: n }, () => Math.round((r() - 0.5) * 64) / 16)) };
  }
  writeCheckpoint(path.join(dir, name), tensors, { "config.json": `{"name": "${name}"}` });
  return loadModel(path.join(dir, name));
}

describe("model-scope statistics (kthModel)", () => {
  it("one threshold over all tensors of a model, equal to the sorting reference, for any workers and chunk size", async () => {
    const shapes: Record<string, number[]> = { "model.embed_tokens.weight": [50, 8], "model.layers.0.mlp.weight": [33, 7], "model.layers.1.mlp.weight": [129], "model.norm.weight": [] };
    const base = randomModel("ms-base", 1, shapes, "BF16");
    const expert = randomModel("ms-expert", 2, shapes, "F16");
    const total = Object.values(shapes).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
    const m = Math.floor(0.3 * total);
    const trim = mapTensors([base, expert], (g, [b, x]) => {
      const d = g.sub(x, b);
      return g.add(b, g.where(g.binary("ge", g.abs(d), g.kthModel("trim:expert", g.abs(d), m)), d, 0));
    });
    // reference: the m-th largest |d| over the concatenation of all tensors, then evaluateNaive per tensor
    const all: number[] = [];
    const refs = new Map<string, { g: Graph; root: ReturnType<ModelValue["recipe"]> }>();
    for (const name of Object.keys(shapes)) {
      const g = new Graph();
      const root = trim.recipe(g, name);
      refs.set(name, { g, root });
      const inputs = referenceInputs(g, root);
      const b = inputs.get(inputKey(0, name))!;
      const x = inputs.get(inputKey(1, name))!;
      for (let i = 0; i < b.length; i++) all.push(Math.abs(Math.fround(x[i] - b[i])));
    }
    const threshold = kthLargestNaive(Float32Array.from(all), m);
    const kept = all.filter((v) => v >= threshold).length;
    expect(kept).toBeGreaterThanOrEqual(m);
    for (const cfg of [{ workers: 0, chunkSize: 3 }, { workers: 0, chunkSize: 1 << 22 }, { workers: 2, chunkSize: 10 }]) {
      const out = await materializeArrays(trim, cfg);
      let keptOut = 0;
      for (const [name, { g, root }] of refs) {
        const numel = shapes[name].reduce((a, b) => a * b, 1);
        const want = evaluateNaive(root, { tensor: name, numel, inputs: referenceInputs(g, root), modelStats: new Map([["trim:expert", threshold]]) });
        expect(firstMismatch(out[name].data as Float32Array, want as Float32Array), `${name} ${JSON.stringify(cfg)}`).toBeUndefined();
        const b = referenceInputs(g, root).get(inputKey(0, name))!;
        keptOut += (out[name].data as Float32Array).filter((v, i) => v !== b[i]).length;
      }
      expect(keptOut).toBeLessThanOrEqual(kept);
    }
  });

  it("a key used with two different m is an error naming the key and the tensor", () => {
    const a = randomModel("ms-a", 3, { "x.0": [4], "x.1": [5] });
    const bad = mapTensors([a], (g, [x], t) => g.where(g.binary("ge", x, g.kthModel("k", x, t.numel)), x, 0));
    expect(() => explainPlan(bad)).toThrow(/model statistic 'k': m = 5 for tensor 'x.1' but 4 elsewhere/);
  });
});

describe("carried-through tensors, fixtures", () => {
  it("the I64 position_ids buffer is copied bit for bit while the float tensor is computed (workers 0 and 2)", async () => {
    const src = path.join(fixtures, "mixed-int-buffer.safetensors");
    const m = loadModel(src);
    const doubled = combine("*", m, 2) as ModelValue;
    const c = openCheckpoint(src);
    const ids = c.readRaw("position_ids", 0, c.tensor("position_ids").byteLength);
    const w = c.readF32("w", 0, 16);
    for (const workers of [0, 2]) {
      const out = path.join(dir, `mixed-${workers}`);
      await saveModel(doubled, out, { workers });
      const o = openCheckpoint(out);
      expect(o.tensor("position_ids").dtype).toBe("I64");
      expect(Buffer.from(o.readRaw("position_ids", 0, ids.length)).equals(Buffer.from(ids))).toBe(true);
      expect(o.tensor("w").dtype).toBe("F32");
      expect(Array.from(o.readF32("w", 0, 16))).toEqual(Array.from(w, (v) => Math.fround(v * 2)));
      o.close();
    }
    const arrays = await materializeArrays(doubled);
    expect(new BigInt64Array((arrays.position_ids.data as Uint8Array).slice().buffer)[15]).toBe(15n);
    c.close();
  });

  it("average of the three tiny-llama fixtures (BF16 sharded, F16, F32) matches expected.json; config files are copied", async () => {
    const names = ["tiny-llama-bf16-sharded", "tiny-llama-f16", "tiny-llama-f32.safetensors"];
    const models = names.map((n) => loadModel(path.join(fixtures, n)));
    const avg = mapTensors(models, (g, xs) => g.div(xs.reduce((a, x) => g.add(a, x)), xs.length), { label: "average" });
    const out = path.join(dir, "avg");
    const summary = await saveModel(avg, out, { dtype: "f32", workers: 2, chunkSize: 100 });
    expect(summary.tensors).toBe(models[0].tensors.size);
    expect(fs.existsSync(path.join(out, "config.json"))).toBe(true);
    const o = openCheckpoint(out);
    const want = expected["average-of-three"] as Record<string, { sum_f64: number; first_raw: string[] }>;
    for (const [name, e] of Object.entries(want)) {
      const t = o.tensor(name);
      const v = o.readF32(name, 0, t.numel);
      let sum = 0;
      for (const x of v) if (Number.isFinite(x)) sum += x;
      // float32 arithmetic against a float64 reference: relative tolerance
      expect(Math.abs(sum - e.sum_f64), name).toBeLessThan(1e-3 + 1e-5 * Math.abs(e.sum_f64));
      e.first_raw.map(Number).forEach((x, i) => {
        if (Number.isFinite(x)) expect(Math.abs(v[i] - x), `${name}[${i}]`).toBeLessThanOrEqual(1e-6 + 1e-6 * Math.abs(x));
      });
    }
    o.close();
  });

  it("in-memory models (modelFromArrays) run on worker threads too", async () => {
    const data = Float32Array.from({ length: 3000 }, (_, i) => (i % 17) - 8);
    const m = modelFromArrays(new Map([["w", { shape: [3000], dtype: "F32" as const, data }], ["ids", { shape: [2], dtype: "I32" as const, data: new Uint8Array(new Int32Array([7, 9]).buffer) }]]));
    const trimmed = mapTensors([m], (g, [x]) => g.where(g.binary("ge", g.abs(x), g.kth(g.abs(x), 500)), x, 0));
    const inline = await materializeArrays(trimmed, { workers: 0 });
    const threaded = await materializeArrays(trimmed, { workers: 2, chunkSize: 64 });
    expect(firstMismatch(threaded.w.data as Float32Array, inline.w.data as Float32Array)).toBeUndefined();
    expect(Array.from(new Int32Array((threaded.ids.data as Uint8Array).slice().buffer))).toEqual([7, 9]);
    // |x| ≥ 7 (the 500th largest |x| is 7: 706 elements have |x| ≥ 7)
    expect((inline.w.data as Float32Array).filter((v) => v !== 0).length).toBe(data.filter((v) => Math.abs(v) >= 7).length);
  });

  it("materialize gives tfjs tensors with the computed values", async () => {
    const m = loadModel(path.join(fixtures, "mixed-int-buffer.safetensors"));
    const t = await materialize(combine("+", m, 1) as ModelValue);
    expect(t.w.shape).toEqual([4, 4]);
    expect(t.w.dtype).toBe("float32");
    expect(t.position_ids.dtype).toBe("int32");
    expect(Array.from(t.position_ids.dataSync()).slice(0, 4)).toEqual([0, 1, 2, 3]);
    expect((t.w.dataSync() as Float32Array)[0]).toBe(Math.fround(Math.fround(0.5379368662834167) + 1));
  });
});

describe("bounded memory: chunked reads", () => {
  it("a tensor larger than the chunk is read in chunk-sized byte ranges, once per chunk per pass", async () => {
    const a = randomModel("big", 5, { w: [1000] });
    // three passes: kth high bits, kth low bits, apply
    const trim = mapTensors([a], (g, [x]) => g.where(g.binary("ge", g.abs(x), g.kth(g.abs(x), 100)), x, 0));
    const chunked = await saveModel(trim, path.join(dir, "big-chunked"), { chunkSize: 128, workers: 0 });
    expect(chunked.rangeReads).toBe(3 * Math.ceil(1000 / 128));
    expect(chunked.bytesRead).toBe(3 * 4000);
    const whole = await saveModel(trim, path.join(dir, "big-whole"), { chunkSize: 1000, workers: 0 });
    expect(whole.rangeReads).toBe(1);
    expect(whole.bytesRead).toBe(4000);
    const plan = explainPlan(trim, { chunkSize: 128 });
    expect(plan.bytesRead).toBe(3 * 4000);
    expect(plan.computeJobs[0].passes).toHaveLength(3);
    const x = openCheckpoint(path.join(dir, "big-chunked")).readF32("w", 0, 1000);
    const y = openCheckpoint(path.join(dir, "big-whole")).readF32("w", 0, 1000);
    expect(firstMismatch(x, y)).toBeUndefined();
  });
});

describe("interrupts", () => {
  for (const workers of [0, 2]) {
    it(`aborting mid-save throws InterruptedError and leaves neither output nor temp dir (workers=${workers})`, async () => {
      const shapes = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`model.layers.${i}.w`, [64, 64]]));
      const a = randomModel(`int-a-${workers}`, 7, shapes);
      const b = randomModel(`int-b-${workers}`, 8, shapes);
      const merged = combine("+", a, b) as ModelValue;
      const out = path.join(dir, `interrupted-${workers}`);
      const ac = new AbortController();
      let seen = 0;
      const run = saveModel(merged, out, {
        workers,
        chunkSize: 16,
        signal: ac.signal,
        progress: (p) => {
          seen = p.tensorsDone;
          if (p.tensorsDone >= 2) ac.abort();
        },
      });
      await expect(run).rejects.toBeInstanceOf(InterruptedError);
      expect(seen).toBeGreaterThanOrEqual(2);
      expect(seen).toBeLessThan(12);
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(dir).filter((n) => n.startsWith(`.interrupted-${workers}`))).toEqual([]);
    });
  }
});

describe("errors and explain", () => {
  it("name and shape mismatches name the tensor and both models", () => {
    const a = randomModel("err-a", 9, { "x.w": [4], "x.v": [2] });
    const b = randomModel("err-b", 10, { "x.w": [5], "x.v": [2] });
    const c = randomModel("err-c", 11, { "x.w": [4] });
    expect(() => combine("+", a, b)).toThrow(MergelabError);
    expect(() => combine("+", a, b)).toThrow(/tensor 'x\.w': shape \[4\] in .*err-a but \[5\] in .*err-b/);
    expect(() => combine("-", a, c)).toThrow(/tensor 'x\.v' is in .*err-a but missing from .*err-c/);
  });

  it("explain shows shared subexpressions once, the passes and the byte counts", () => {
    const a = randomModel("ex-a", 12, { "model.layers.0.w": [10], "model.layers.1.w": [10] });
    const b = randomModel("ex-b", 13, { "model.layers.0.w": [10], "model.layers.1.w": [10] });
    const tv = combine("-", b, a) as ModelValue;
    const m = mapTensors([a, tv, tv], (g, [x, d1, d2]) => g.add(x, g.where(g.binary("ge", g.abs(d1), g.kth(g.abs(d2), 3)), d1, 0)));
    const plan = explainPlan(m);
    const job = plan.computeJobs[0];
    expect(job.nodes.filter((n) => n.op === "sub")).toHaveLength(1); // d1 and d2 are one node
    expect(job.passes).toHaveLength(3);
    const text = plan.explainText();
    expect(text).toContain("2 tensors (2 computed, 0 carried through)");
    expect(text).toContain("(and 1 more with the same graph)");
    expect(text).toMatch(/pass 1: reads 2 input\(s\).*kth high bits/);
    expect(text).toMatch(/pass 3: .*write/);
    expect(plan.bytesRead).toBe(2 * 2 * 40);
    expect(plan.toMimeBundle()["text/html"]).toContain("<table");
  });

  it("a scalar recipe fills the tensor; progress counts every tensor and the bytes read", async () => {
    const a = randomModel("fill-a", 15, { "model.layers.0.w": [3, 4], "model.layers.1.w": [5] });
    const filled = mapTensors([a], (g, [x]) => g.div(g.sum(x), g.numel()));
    const seen: Array<{ done: number; total: number; bytes: number }> = [];
    const out = await materializeArrays(filled, { progress: (p) => seen.push({ done: p.tensorsDone, total: p.tensorsTotal, bytes: p.bytesRead }) });
    const c = openCheckpoint(path.join(dir, "fill-a"));
    const v = c.readF32("model.layers.0.w", 0, 12);
    const mean = Math.fround(v.reduce((s, x) => s + x, 0) / 12);
    expect(Array.from(out["model.layers.0.w"].data as Float32Array)).toEqual(new Array(12).fill(mean));
    expect(seen.map((p) => [p.done, p.total])).toEqual([[1, 2], [2, 2]]);
    expect(seen[1].bytes).toBe((12 + 5) * 4);
  });

  it("evaluateScalars streams per-tensor statistics in tensor order", async () => {
    const a = randomModel("sc-a", 14, { "model.layers.10.w": [7], "model.layers.2.w": [3, 3] });
    const res = await evaluateScalars([a], (g, [x]) => ({ sum: g.sum(x), n: g.numel(), top: g.kth(x, 1) }));
    expect(res.map((r) => r.tensor)).toEqual(["model.layers.2.w", "model.layers.10.w"]);
    const c = openCheckpoint(path.join(dir, "sc-a"));
    const v = c.readF32("model.layers.2.w", 0, 9);
    expect(res[0].values.n).toBe(9);
    expect(res[0].values.sum).toBe(v.reduce((s, x) => s + x, 0));
    expect(res[0].values.top).toBe(Math.max(...v));
  });
});

describe("model expressions", () => {
  it("a model doubled 40 times expands linearly (recipes are memoized per graph) and computes 2^40·x", async () => {
    const a = randomModel("deep", 16, { w: [3] });
    let m: ModelValue = a;
    for (let i = 0; i < 40; i++) m = combine("+", m, m) as ModelValue;
    const plan = explainPlan(m);
    expect(plan.computeJobs[0].nodes).toHaveLength(41);
    const out = await materializeArrays(m);
    const x = openCheckpoint(path.join(dir, "deep")).readF32("w", 0, 3);
    expect(Array.from(out.w.data as Float32Array)).toEqual(Array.from(x, (v) => Math.fround(v * 2 ** 40)));
  });
});
