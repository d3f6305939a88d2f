// The executor (fused, chunked, parallel) against the reference evaluator evaluateNaive, bit for bit,
// on random graphs over real safetensors files (f32, f16, bf16; 0-d to 3-d), for several chunk sizes and worker counts.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Graph, evaluateNaive, type Node } from "../../engine/ir.js";
import { loadModel, mapTensors, type ModelValue } from "../../engine/model.js";
import { evaluateScalars, materializeArrays, saveModel } from "../../engine/exec/index.js";
import type { TensorContext } from "../../engine/param-schedule.js";
import { openCheckpoint } from "../../io/index.js";
import { tempDir } from "../helpers.js";
import { randomGraph, tensorValues, SHAPES } from "./random-graph.js";
import { firstMismatch, reference, referenceInputs, rng, roundTo, sameScalar, writeCheckpoint, type TestTensor } from "./util.js";

let dir: string;
let model: ModelValue;
let inputs: ModelValue[];
let statsFn: (g: Graph, inputs: Node[], t: TensorContext) => Record<string, Node>;

beforeAll(() => {
  dir = tempDir("mergelab-conf-");
  const r = rng(42);
  (["F32", "F16", "BF16"] as const).forEach((dtype, m) => {
    const tensors: Record<string, TestTensor> = {};
    SHAPES.forEach((shape, i) => {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors[`model.layers.${i}.w`] = { dtype, shape, values: roundTo(dtype, tensorValues(r, n, i % 2 === 0)) };
    });
    writeCheckpoint(path.join(dir, `m${m}`), tensors);
  });
  inputs = [0, 1, 2].map((m) => loadModel(path.join(dir, `m${m}`)));
  model = mapTensors(inputs, (g, inputs, t) => randomGraph(g, inputs, t).root, { label: "random" });
  statsFn = (g, inputs, t) => Object.fromEntries(randomGraph(g, inputs, t).scalars.map((s, i) => [`s${i}`, s]));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const CONFIGS = [
  { workers: 0, chunkSize: 1 },
  { workers: 0, chunkSize: 3 },
  { workers: 0, chunkSize: 1001 },
  { workers: 0, chunkSize: 1 << 22 },
  { workers: 1, chunkSize: 7 },
  { workers: 2, chunkSize: 5 },
  { workers: 2, chunkSize: 1 << 22 },
];

describe("executor = evaluateNaive, bitwise", () => {
  it("the random graphs exercise every kind of node", () => {
    const ops = new Set<string>();
    for (const name of model.tensors.keys()) {
      const g = new Graph();
      const visit = (n: Node) => {
        ops.add(n.op);
        n.src.forEach(visit);
      };
      visit(model.recipe(g, name));
    }
    for (const op of ["input", "rand", "where", "kth", "sum", "max", "min", "abs", "add", "mul"]) expect(ops).toContain(op);
  });

  for (const cfg of CONFIGS) {
    it(`vectors: workers=${cfg.workers}, chunk=${cfg.chunkSize}`, async () => {
      const out = await materializeArrays(model, cfg);
      expect(Object.keys(out)).toEqual([...model.tensors.keys()]);
      for (const name of model.tensors.keys()) {
        const want = reference(model, name);
        const got = out[name].data as Float32Array;
        const wantVec = typeof want === "number" ? new Float32Array(got.length).fill(want) : want;
        expect(firstMismatch(got, wantVec), name).toBeUndefined();
      }
    });
  }

  for (const cfg of [CONFIGS[0], CONFIGS[2], CONFIGS[4]]) {
    it(`scalars (reduce, kth, nested): workers=${cfg.workers}, chunk=${cfg.chunkSize}`, async () => {
      const results = await evaluateScalars(inputs, statsFn, cfg);
      expect(results.map((r) => r.tensor)).toEqual([...model.tensors.keys()]);
      let checked = 0;
      for (const { tensor, values } of results) {
        const g = new Graph();
        const stats = statsFn(g, inputs.map((m) => m.recipe(g, tensor)), model.context(tensor));
        const shape = model.tensors.get(tensor)!.shape;
        const numel = shape.reduce((a, b) => a * b, 1);
        for (const [k, node] of Object.entries(stats)) {
          const want = evaluateNaive(node, { tensor, numel, shape, inputs: referenceInputs(g, node) }) as number;
          expect(sameScalar(values[k], want), `${tensor} ${k}: ${values[k]} vs ${want}`).toBe(true);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(50);
    });
  }

  it("saved in each input dtype: the file holds the reference rounded to that dtype (workers=2, chunk=11)", async () => {
    for (const dtype of ["bf16", "f16", "f32"] as const) {
      const out = path.join(dir, `out-${dtype}`);
      const summary = await saveModel(model, out, { dtype, workers: 2, chunkSize: 11 });
      expect(summary.tensors).toBe(SHAPES.length);
      const c = openCheckpoint(out);
      for (const name of model.tensors.keys()) {
        const t = c.tensor(name);
        expect(t.dtype).toBe(dtype.toUpperCase());
        const want = reference(model, name);
        const wantVec = typeof want === "number" ? new Float32Array(t.numel).fill(want) : want;
        expect(firstMismatch(c.readF32(name, 0, t.numel), roundTo(t.dtype, wantVec)), name).toBeUndefined();
      }
      c.close();
    }
  });
});
