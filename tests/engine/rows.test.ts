// Row statistics (sumAlong / maxAlong / minAlong over axis -1 or 0, ir.ts): equal to an independent
// per-row computation written here, equal to evaluateNaive bit for bit, and bit-identical for any chunk
// size (chunks that split rows, a chunk per element) and worker count.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateNaive, Graph, type Axis, type Node } from "../../engine/ir.js";
import { loadModel, mapTensors, type ModelValue } from "../../engine/model.js";
import { materializeArrays } from "../../engine/exec/index.js";
import { explainPlan } from "../../engine/plan.js";
import { tempDir } from "../helpers.js";
import { firstMismatch, referenceInputs, rng, roundTo, writeCheckpoint, type TestTensor } from "./util.js";

let dir: string;
beforeAll(() => {
  dir = tempDir("mergelab-rows-");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const shapes: Record<string, number[]> = { "a.matrix": [37, 11], "b.cube": [3, 5, 7], "c.vector": [29], "d.scalar": [], "e.onerow": [1, 13], "f.onecol": [9, 1] };

function randomModel(name: string, seed: number): ModelValue {
  const r = rng(seed);
  const tensors: Record<string, TestTensor> = {};
  for (const [t, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors[t] = { dtype: "F32", shape, values: roundTo("F32", Float32Array.from({ length: n }, () => (r() - 0.5) * 3)) };
  }
  writeCheckpoint(path.join(dir, name), tensors, { "config.json": "{}" });
  return loadModel(path.join(dir, name));
}

/**
 * A per-row normalization and a softmax, built from row statistics:
 *   x / max(‖x‖_row, 1e-7)  +  softmax_row(y)  +  (row min of x)·(row value of axis-0 sum of y)
 * The last term mixes axes only through vectors (a row value of one axis times one of the other).
 */
function rowsRecipe(g: Graph, x: Node, y: Node): Node {
  const norm = g.unary("sqrt", g.reduceAlong("sum", g.mul(x, x), -1));
  const unit = g.div(x, g.unary("fround", g.binary("max", norm, 1e-7)));
  const e = g.unary("exp", g.sub(y, g.reduceAlong("max", y, -1)));
  const soft = g.div(e, g.unary("fround", g.reduceAlong("sum", e, -1)));
  const mixed = g.mul(g.mul(x, g.reduceAlong("min", x, -1)), g.reduceAlong("sum", y, 0));
  return g.add(g.add(unit, soft), mixed);
}

/** The same, by hand: explicit rows from the shape (no ir.ts code). */
function byHand(shape: number[], x: Float32Array, y: Float32Array): Float32Array {
  const n = x.length;
  const last = shape.length ? shape[shape.length - 1] : 1;
  const inner = shape.length ? n / shape[0] : 1;
  const rowsA = n / last;
  const f = Math.fround;
  const out = new Float32Array(n);
  const colSum = new Float64Array(inner);
  for (let i = 0; i < n; i++) colSum[i % inner] += y[i];
  for (let r = 0; r < rowsA; r++) {
    let ss = 0;
    let my = -Infinity;
    let mn = Infinity;
    for (let c = 0; c < last; c++) {
      const v = x[r * last + c];
      ss += f(v * v);
      my = Math.max(my, y[r * last + c]);
      mn = Math.min(mn, v);
    }
    const e = new Float32Array(last);
    let es = 0;
    for (let c = 0; c < last; c++) {
      e[c] = f(Math.exp(f(y[r * last + c] - my)));
      es += e[c];
    }
    const d = f(Math.max(Math.sqrt(ss), 1e-7));
    for (let c = 0; c < last; c++) {
      const i = r * last + c;
      const unit = f(x[i] / d);
      const soft = f(e[c] / f(es));
      const mixed = f(f(x[i] * mn) * colSum[i % inner]);
      out[i] = f(f(unit + soft) + mixed);
    }
  }
  return out;
}

describe("row statistics", () => {
  it("match a by-hand per-row computation and evaluateNaive, for any chunk size and worker count", async () => {
    const a = randomModel("rows-a", 11);
    const b = randomModel("rows-b", 12);
    const merged = mapTensors([a, b], (g, [x, y]) => rowsRecipe(g, x, y));
    const inputs = new Map<string, [Float32Array, Float32Array]>();
    const naive = new Map<string, Float32Array>();
    for (const name of Object.keys(shapes)) {
      const g = new Graph();
      const root = merged.recipe(g, name);
      const ins = [...referenceInputs(g, root).values()];
      inputs.set(name, [ins[0], ins[1]]);
      const numel = shapes[name].reduce((p, q) => p * q, 1);
      naive.set(name, evaluateNaive(root, { tensor: name, numel, shape: shapes[name], inputs: referenceInputs(g, root) }) as Float32Array);
    }
    for (const name of Object.keys(shapes)) {
      const [x, y] = inputs.get(name)!;
      expect(firstMismatch(naive.get(name)!, byHand(shapes[name], x, y)), name).toBeUndefined();
    }
    for (const cfg of [{ workers: 0, chunkSize: 1 }, { workers: 0, chunkSize: 5 }, { workers: 0, chunkSize: 1 << 20 }, { workers: 2, chunkSize: 4 }]) {
      const out = await materializeArrays(merged, cfg);
      for (const name of Object.keys(shapes)) {
        expect(firstMismatch(out[name].data as Float32Array, naive.get(name)!), `${name} ${JSON.stringify(cfg)}`).toBeUndefined();
      }
    }
  });

  it("a row value feeds a whole-tensor statistic; explain shows row reductions and per-row nodes", () => {
    const a = randomModel("rows-c", 13);
    const m = mapTensors([a], (g, [x]) => g.mul(x, g.reduce("sum", g.reduceAlong("max", x, -1 as Axis))));
    const text = explainPlan(m).explainText();
    expect(text).toMatch(/row reduce %\d+/);
    expect(text).toMatch(/maxAlong\(%\d+\)\s+\(per row, axis -1\)/);
    // the sum of row maxima is a whole-tensor scalar: its node is not per row
    expect(text).toMatch(/sum\(%\d+\)\s+\(scalar\)/);
  });

  it("mixing row values of the two axes in scalar arithmetic is refused", () => {
    const g = new Graph();
    const x = g.input(0, "t");
    expect(() => g.add(g.reduceAlong("sum", x, -1), g.reduceAlong("sum", x, 0))).toThrow(/mixes row values of axis -1 and 0/);
  });
});
