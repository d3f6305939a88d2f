/** Analysis functions: hand-computed small cases and a float64 reference on random checkpoints. */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { invoke } from "../../stdlib/methods/define.js";
import { specs } from "../../stdlib/analysis.js";
import { Table, UNKNOWN, type Value } from "../../core/values.js";
import { makeFixture, tiny, values, type Fixture } from "./methods/harness.js";
import { SHAPES } from "./methods/st.js";

const call = async (name: string, args: Record<string, Value>, dryRun = false) =>
  (await invoke(specs.find((s) => s.name === name)!, args, { dryRun })) as Table;

describe("hand-computed cases", () => {
  const base = tiny({ "model.layers.0.w": [0, 0, 0], "model.layers.1.w": [1, 1], "lm_head.weight": [0] }, "base");
  const x = tiny({ "model.layers.0.w": [1, 0, -2], "model.layers.1.w": [3, 1], "lm_head.weight": [Infinity] }, "x");
  const y = tiny({ "model.layers.0.w": [2, 5, 1], "model.layers.1.w": [-1, 1], "lm_head.weight": [4] }, "y");
  // task vectors (lm_head of x is Inf: skipped by the finite sums)
  // dx = [1, 0, −2 | 2, 0 | Inf], dy = [2, 5, 1 | −2, 0 | 4]

  it("cosine_matrix", async () => {
    const t = await call("cosine_matrix", { xs: [x, y], base });
    // dx·dy = 2 + 0 − 2 − 4 = −4; ‖dx‖² = 1 + 4 + 4 = 9; ‖dy‖² = 4 + 25 + 1 + 4 + 16 = 50
    expect(t.columns).toEqual(["model", "x", "y"]);
    expect(t.rows[0][0]).toBe("x");
    expect(t.rows[0][1]).toBeCloseTo(1, 12);
    expect(t.rows[0][2]).toBeCloseTo(-4 / Math.sqrt(9 * 50), 12);
    expect(t.rows[1][1]).toBeCloseTo(-4 / Math.sqrt(9 * 50), 12);
  });

  it("sign_conflicts", async () => {
    // both nonzero: elements 0, 2, 3 (layer 0: 1/2, −2/1; layer 1: 2/−2) and lm_head (Inf/4): 4; opposite: 2, 3 → 2/4
    const t = await call("sign_conflicts", { xs: [x, y], base });
    expect(t.rows).toEqual([["x", 0, 0.5], ["y", 0.5, 0]]);
  });

  it("layer_norms by layer and by tensor", async () => {
    const t = await call("layer_norms", { xs: [x, y], base });
    expect(t.columns).toEqual(["model", "layer", "norm"]);
    expect(t.rows).toEqual([["x", 0, Math.sqrt(5)], ["x", 1, 2], ["y", 0, Math.sqrt(30)], ["y", 1, 2]]);
    const byTensor = await call("layer_norms", { xs: [y], base, by: "tensor" });
    expect(byTensor.rows).toEqual([["y", "lm_head.weight", null, 4], ["y", "model.layers.0.w", 0, Math.sqrt(30)], ["y", "model.layers.1.w", 1, 2]]);
  });

  it("magnitude_histogram", async () => {
    // |dy| = 2, 5, 1, 2, 0, 4 → max 5, 5 bins of width 1: [0,1):1 [1,2):1 [2,3):2 [3,4):0 [4,5]:2
    const t = await call("magnitude_histogram", { xs: [y], base, bins: 5 });
    expect(t.columns).toEqual(["model", "bin_start", "bin_end", "count"]);
    expect(t.rows.map((r) => r[3])).toEqual([1, 1, 2, 0, 2]);
    expect(t.rows.map((r) => r[1])).toEqual([0, 1, 2, 3, 4]);
    // x: the Inf is not counted; |dx| = 1, 0, 2, 2, 0 → max 2, 2 bins: [0,1): 2, [1,2]: 3
    const tx = await call("magnitude_histogram", { xs: [x], base, bins: 2 });
    expect(tx.rows.map((r) => r[3])).toEqual([2, 3]);
  });

  it("a dry run reads nothing: the rows are unknown (UNKNOWN), a matrix keeps its labels", async () => {
    expect(await call("layer_norms", { xs: [x, y], base }, true)).toBe(UNKNOWN);
    const m = await call("cosine_matrix", { xs: [x, y], base }, true);
    expect(m.columns).toEqual(["model", "x", "y"]);
  });
});

describe("against a float64 reference on random checkpoints", () => {
  let f: Fixture;
  beforeAll(() => {
    f = makeFixture("BF16", 3, 33);
  });
  afterAll(() => fs.rmSync(f.dir, { recursive: true, force: true }));

  it("cosine_matrix and sign_conflicts", async () => {
    const names = Object.keys(SHAPES);
    const d = f.experts.map((_, i) => names.flatMap((n) => Array.from(values(f, i, n), (v, j) => v - values(f, "base", n)[j])));
    const cos = await call("cosine_matrix", { xs: f.expertModels, base: f.baseModel });
    const conf = await call("sign_conflicts", { xs: f.expertModels, base: f.baseModel });
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        const dot = d[i].reduce((s, v, e) => s + v * d[j][e], 0);
        const ni = Math.sqrt(d[i].reduce((s, v) => s + v * v, 0));
        const nj = Math.sqrt(d[j].reduce((s, v) => s + v * v, 0));
        expect(cos.rows[i][j + 1] as number).toBeCloseTo(dot / (ni * nj), 6);
        let both = 0;
        let opposite = 0;
        d[i].forEach((v, e) => {
          if (v !== 0 && d[j][e] !== 0) {
            both++;
            if (Math.sign(v) !== Math.sign(d[j][e])) opposite++;
          }
        });
        expect(conf.rows[i][j + 1]).toBe(i === j ? 0 : opposite / both);
      }
    }
  });
});
