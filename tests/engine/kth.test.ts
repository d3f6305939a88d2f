// kth = exact radix select on float32 bits (two histogram passes), against the sorting reference and
// hand-written expectations, on adversarial data, for chunk sizes from 1 element to the whole tensor.
import { describe, expect, it } from "vitest";
import { Graph, kthLargestNaive } from "../../engine/ir.js";
import { modelFromArrays } from "../../engine/model.js";
import { evaluateScalars } from "../../engine/exec/index.js";
import { sameScalar } from "./util.js";

async function kth(values: number[], ms: number[], chunkSize: number): Promise<number[]> {
  const data = Float32Array.from(values);
  const model = modelFromArrays(new Map([["t", { shape: [data.length], dtype: "F32" as const, data }]]));
  const [r] = await evaluateScalars([model], (g: Graph, [x]) => Object.fromEntries(ms.map((m, i) => [`k${i}`, g.kth(x, m)])), { chunkSize, workers: 0 });
  return ms.map((_, i) => r.values[`k${i}`]);
}

const sub = 1e-40; // float32 subnormal (as stored: Math.fround(1e-40))
const CASES: Array<{ name: string; values: number[]; expect: Array<[number, number]> }> = [
  { name: "many ties", values: [2, 1, 2, 0, 1, 2, 1, 0, 2], expect: [[1, 2], [4, 2], [5, 1], [7, 1], [8, 0], [9, 0]] },
  { name: "all equal", values: Array(100).fill(0.5), expect: [[1, 0.5], [50, 0.5], [100, 0.5]] },
  { name: "NaNs ignored, m clamped to the non-NaN count", values: [NaN, 3, NaN, -1, NaN], expect: [[1, 3], [2, -1], [3, -1], [100, -1]] },
  { name: "all NaN", values: [NaN, NaN], expect: [[1, NaN], [2, NaN]] },
  { name: "±Inf", values: [Infinity, -Infinity, 0, 5, -Infinity], expect: [[1, Infinity], [2, 5], [3, 0], [4, -Infinity], [5, -Infinity]] },
  { name: "-0 and 0 are one value, reported as +0", values: [-0, 0, -0, -1, 1], expect: [[1, 1], [2, 0], [3, 0], [4, 0], [5, -1]] },
  { name: "subnormals order between 0 and the smallest normals", values: [Math.fround(sub), -Math.fround(sub), 0, 1e-45, 1.2e-38, -1.2e-38], expect: [[1, Math.fround(1.2e-38)], [2, Math.fround(sub)], [3, Math.fround(1e-45)], [4, 0], [5, -Math.fround(sub)], [6, Math.fround(-1.2e-38)]] },
  { name: "m rounds and clamps: 0 → 1, 2.5 → 3, -7 → 1, NaN → NaN", values: [4, 3, 2, 1], expect: [[0, 4], [2.5, 2], [-7, 4], [1e9, 1], [NaN, NaN]] },
  { name: "values differing only in low mantissa bits (the second radix pass)", values: [1, Math.fround(1 + 2 ** -23), Math.fround(1 + 2 ** -22), Math.fround(1 + 3 * 2 ** -23)], expect: [[1, Math.fround(1 + 3 * 2 ** -23)], [2, Math.fround(1 + 2 ** -22)], [3, Math.fround(1 + 2 ** -23)], [4, 1]] },
  { name: "empty tensor", values: [], expect: [[1, NaN]] },
];

describe("kth radix select", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const ms = c.expect.map(([m]) => m);
      const want = c.expect.map(([, v]) => v);
      const ref = ms.map((m) => kthLargestNaive(Float32Array.from(c.values), m));
      for (let i = 0; i < ms.length; i++) expect(sameScalar(ref[i], want[i]), `reference m=${ms[i]}: ${ref[i]} vs ${want[i]}`).toBe(true);
      for (const chunk of [1, 3, 1 << 22]) {
        const got = await kth(c.values, ms, chunk);
        for (let i = 0; i < ms.length; i++) expect(sameScalar(got[i], want[i]), `chunk ${chunk}, m=${ms[i]}: ${got[i]} vs ${want[i]}`).toBe(true);
      }
    });
  }

  it("random data with heavy ties: every m from 1 to n agrees with the sorting reference", async () => {
    const values = Array.from({ length: 257 }, (_, i) => [0, -0, 1.5, -1.5, NaN, Infinity, 2 ** -130, (i * 7919) % 13][i % 8]);
    const ms = Array.from({ length: 260 }, (_, i) => i + 1);
    const got = await kth(values, ms, 17);
    ms.forEach((m, i) => expect(sameScalar(got[i], kthLargestNaive(Float32Array.from(values), m)), `m=${m}`).toBe(true));
    expect(Object.is(got[ms.findIndex((_, i) => got[i] === 0)], 0)).toBe(true);
  });
});
