// ties="index": mergekit's magnitude trim — exactly m = floor(k·n) elements kept, ties at the threshold
// broken by position (lowest index first: a stable descending argsort, what mergekit's code gives with
// torch.sort(stable=True)); the default keeps every tie. Streamed in chunks and on workers, bitwise equal.
import { describe, expect, it } from "vitest";
import { materializeArrays } from "../../engine/exec/index.js";
import { mapTensors, modelFromArrays } from "../../engine/model.js";
import { trimByIndex, trim } from "../../stdlib/methods/steps.js";
import { rng } from "../helpers.js";

/** The reference: stable argsort of |d| descending, keep the first m (NaN never kept). */
function reference(d: Float32Array, k: number): Float32Array {
  const n = d.length;
  const m = Math.min(Math.max(Math.floor(k * n), 1), n);
  const order = [...d.keys()].filter((i) => !Number.isNaN(d[i])).sort((a, b) => Math.abs(d[b]) - Math.abs(d[a]) || a - b);
  const out = new Float32Array(n);
  for (const i of order.slice(0, m)) out[i] = d[i];
  return out;
}

/** Values on a coarse grid: most magnitudes are tied with others (as bf16 task vectors are). */
function tiedValues(n: number, seed: number, levels: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (Math.floor(r() * levels) - levels / 2) / 8);
}

describe('trim(ties="index")', () => {
  const cases: Array<[number, number, number]> = [[1000, 0.3, 7], [10_000, 0.05, 11], [9000, 0.5, 3], [5000 * 4, 0.2, 40]];
  for (const [n, k, levels] of cases) {
    it(`n=${n}, k=${k}, ${levels} magnitude levels: exactly floor(k·n) kept, lowest index first among ties`, async () => {
      const d = tiedValues(n, n + levels, levels);
      const want = reference(d, k);
      const model = modelFromArrays(new Map([["w.weight", { shape: [n], dtype: "F32" as const, data: d }]]));
      for (const [chunkSize, workers] of [[n, 0], [777, 0], [512, 2]]) {
        const out = await materializeArrays(mapTensors([model], (g, [x], t) => trimByIndex(g, x, k, t.numel)), { chunkSize, workers });
        const got = out["w.weight"].data as Float32Array;
        expect([...got]).toEqual([...want]);
        expect(got.filter((x) => x !== 0).length).toBe(want.filter((x) => x !== 0).length);
      }
      // the paper's rule keeps every tie: at least as many
      const all = await materializeArrays(mapTensors([model], (g, [x], t) => trim(g, x, k, t.numel)), { workers: 0 });
      const kept = (all["w.weight"].data as Float32Array).filter((x) => x !== 0).length;
      expect(kept).toBeGreaterThanOrEqual(want.filter((x) => x !== 0).length);
    });
  }
});
