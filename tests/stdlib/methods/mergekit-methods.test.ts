/**
 * nuslerp, karcher, arcee_fusion and model_stock(filter_wise) against mergekit's OWN merge code:
 * data/mergekit-cases.json holds random float32 inputs (with edge cases: parallel and opposite
 * vectors and rows, zero vectors, 1-D tensors, one-row and one-column matrices, 3-D tensors) and the
 * output of mergekit's Task.execute for each (mergekit_cases.py imports mergekit's modules on Debian's
 * torch; the commit is in the file). Committed because CI cannot fetch mergekit; with MERGEKIT_SRC set
 * (a checkout of that commit) and python3-torch installed, the file is regenerated here and must be
 * identical. Every output must be within MAX_ULPS float32 ulps of mergekit's at the tensor's scale
 * (the conformance suite's measure); each method's worst case is printed.
 * The same methods are bit-identical for any chunk size and worker count.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { modelFromArrays, type MemoryTensor, type ModelValue } from "../../../engine/index.js";
import type { Value } from "../../../core/values.js";
import { repoRoot, tempDir } from "../../helpers.js";
import { computeF32, run } from "./harness.js";

interface Case {
  name: string;
  method: "nuslerp" | "karcher" | "arcee_fusion" | "model_stock";
  params: Record<string, unknown>;
  shape: number[];
  inputs: Record<string, number[]>;
  out: number[];
}

const dataFile = path.join(repoRoot, "tests/stdlib/methods/data/mergekit-cases.json");
const data = JSON.parse(fs.readFileSync(dataFile, "utf8")) as { mergekit_commit: string; cases: Case[] };

/**
 * Allowed distance from mergekit, in float32 ulps at the tensor's largest |value|. nuslerp and
 * model_stock round the same float32 operations as torch (differences: float64 vs float32 sums, which
 * model_stock's t = N·c/(1 + (N − 1)·c) amplifies: ≤ 4, as docs/methods.md says for model_stock);
 * karcher iterates on float64 coefficients where mergekit rounds a float32 vector every step
 * (docs/methods.md); arcee_fusion selects the same elements and copies them exactly.
 */
const MAX_ULPS: Record<Case["method"], number> = { nuslerp: 2, model_stock: 4, karcher: 4, arcee_fusion: 1 };

function model(label: string, shape: number[], values: number[]): ModelValue {
  const store = new Map<string, MemoryTensor>([["t", { shape, dtype: "F32", data: Float32Array.from(values) }]]);
  return modelFromArrays(store, label);
}

function call(c: Case): ModelValue {
  const m = (k: string) => model(`${c.name}:${k}`, c.shape, c.inputs[k]);
  const xs = Object.keys(c.inputs).filter((k) => /^x\d+$/.test(k)).sort().map(m);
  switch (c.method) {
    case "nuslerp":
      return run("nuslerp", { xs, base: c.inputs.base ? m("base") : undefined, weights: c.params.weights as Value, row_wise: c.params.row_wise as boolean, flatten: c.params.flatten as boolean });
    case "karcher":
      return run("karcher", { xs, max_iter: c.params.max_iter as number, tol: c.params.tol as number });
    case "arcee_fusion":
      return run("arcee_fusion", { base: m("base"), x: m("x") });
    case "model_stock":
      return run("model_stock", { xs, base: m("base"), filter_wise: c.params.filter_wise as boolean });
  }
}

/** max |got − want| in float32 ulps at the largest |want| (NaN/Inf must agree exactly). */
function ulps(got: Float32Array, want: number[]): number {
  let scale = 0;
  let d = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(want[i]) || !Number.isFinite(got[i])) {
      if (!Object.is(got[i], want[i]) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) return Infinity;
      continue;
    }
    scale = Math.max(scale, Math.abs(want[i]));
    d = Math.max(d, Math.abs(got[i] - want[i]));
  }
  const ulp = scale === 0 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(scale)) - 23);
  return d / ulp;
}

describe(`nuslerp, karcher, arcee_fusion, model_stock(filter_wise) vs mergekit ${data.mergekit_commit.slice(0, 12)}'s own code`, () => {
  it("has cases of every method and edge case", () => {
    const names = data.cases.map((c) => c.name).join("\n");
    for (const m of ["nuslerp", "karcher", "arcee_fusion", "model_stock"]) expect(data.cases.filter((c) => c.method === m).length, m).toBeGreaterThanOrEqual(6);
    for (const edge of ["parallel", "zero", "[10]", "[1, 8]", "[4, 3, 5]"]) expect(names).toContain(edge);
  });

  const worst = new Map<string, { ulps: number; name: string }>();
  for (const c of data.cases) {
    it(c.name, async () => {
      const got = (await computeF32(call(c))).t;
      const u = ulps(got, c.out);
      const w = worst.get(c.method);
      if (!w || u > w.ulps) worst.set(c.method, { ulps: u, name: c.name });
      expect(u, `${c.name}: ${u} ulps from mergekit`).toBeLessThanOrEqual(MAX_ULPS[c.method]);
    });
  }

  it("prints the worst case of each method", () => {
    const lines = [...worst].map(([m, w]) => `${m}: ${w.ulps.toFixed(2)} float32 ulps (${w.name})`);
    process.stdout.write(`\nmax distance from mergekit's own code:\n${lines.join("\n")}\n`);
    expect(worst.size).toBe(4);
  });

  it("bit-identical for any chunk size and worker count", async () => {
    const picks = ["nuslerp [4, 3, 5] base rw=True fl=False", "nuslerp [6, 10] rw=False fl=False", "karcher 3 models iter=10", "arcee_fusion [3, 4, 6]", "model_stock [3, 4, 5] 3 experts filter_wise"];
    for (const name of picks) {
      const c = data.cases.find((x) => x.name === name)!;
      expect(c, name).toBeDefined();
      const whole = (await computeF32(call(c))).t;
      for (const cfg of [{ workers: 0, chunkSize: 1 }, { workers: 0, chunkSize: 7 }, { workers: 2, chunkSize: 4 }]) {
        const got = (await computeF32(call(c), cfg)).t;
        expect(Buffer.from(got.buffer).equals(Buffer.from(whole.buffer)), `${name} ${JSON.stringify(cfg)}`).toBe(true);
      }
    }
  });
});

describe("argument checks", () => {
  const m = (label: string) => model(label, [2, 3], [1, 2, 3, 4, 5, 6]);
  it("nuslerp takes exactly two models (plus an optional base), as mergekit", () => {
    expect(() => run("nuslerp", { xs: [m("a"), m("b"), m("c")] })).toThrow(/nuslerp merges exactly two models \(got 3\)/);
    expect(() => run("nuslerp", { xs: [m("a")] })).toThrow(/nuslerp merges exactly two models \(got 1\)/);
     expect(() => run("nuslerp", { xs: [m("a"), m("b")], t: 0.3, weights: [1, 2] })).toThrow(/give t or weights, not both/);
  });
  it("nuslerp's t: 0.5 by default, equal to weights [w, w], and weights [1, 3] are t = 0.75", async () => {
    const [a, b] = [m("a"), model("b", [2, 3], [6, -5, 4, 3, -2, 1])];
    const t = async (args: Record<string, Value>) => Array.from((await computeF32(run("nuslerp", { xs: [a, b], ...args }))).t);
    expect(await t({})).toEqual(await t({ t: 0.5 }));
    expect(await t({ weights: [2, 2] })).toEqual(await t({ t: 0.5 }));
    expect(await t({ weights: [1, 3] })).toEqual(await t({ t: 0.75 }));
    expect(await t({ weights: [1, 3] })).not.toEqual(await t({ t: 0.5 }));
  });
  it("karcher of one model is that model, bit for bit (mergekit returns it)", async () => {
    const a = m("a");
    expect(Array.from((await computeF32(run("karcher", { xs: [a] }))).t)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

const src = process.env.MERGEKIT_SRC;
/** A python3 with torch and numpy (Debian's is /usr/bin/python3; a pyenv shim may come first on PATH). */
const py = ["python3", "/usr/bin/python3"].find((exe) => spawnSync(exe, ["-c", "import torch, numpy"], { encoding: "utf8" }).status === 0);
describe.skipIf(!src || !py)("the committed references are mergekit's output (MERGEKIT_SRC set)", () => {
  it("mergekit_cases.py regenerates data/mergekit-cases.json exactly", () => {
    const out = path.join(tempDir("mergelab-mk-cases-"), "cases.json");
    const r = spawnSync(py!, [path.join(repoRoot, "tests/stdlib/methods/mergekit_cases.py"), out], { encoding: "utf8", env: { ...process.env, MERGEKIT_COMMIT: data.mergekit_commit } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, "utf8")).cases).toEqual(data.cases);
  });
});
