// The generated pass functions: rand with the index's high word hoisted must equal ir.ts randAt,
// also for chunks past and across 2^32 (tensors that large exist: 8 × 4096 × 131072).
import { describe, expect, it } from "vitest";
import { randAt, randKey } from "../../engine/ir.js";
import { compilePass, generateSource } from "../../engine/exec/compile.js";
import type { PassSpec, SerialNode } from "../../engine/plan.js";

describe("generated pass code", () => {
  it("rand equals randAt for chunks below, at, across and above 2^32", () => {
    const nodes: SerialNode[] = [{ op: "rand", src: [], arg: { seed: 3, stream: "x" }, scalar: false }];
    const pass: PassSpec = { vectors: [0], inputs: [], reduces: [], kthHigh: [], kthLow: [], outputs: [0] };
    const fn = compilePass("test-rand", "0", nodes, pass, [0]);
    const key = randKey(3, "x", "t");
    for (const start of [0, 12345, 2 ** 32 - 5, 2 ** 32, 2 ** 33 - 3, 2 ** 40 + 7]) {
      const want = Array.from({ length: 10 }, (_, i) => Math.fround(randAt(key, start + i)));
      const run = (from: number, to: number, out: Float32Array) => fn([], [out], new Float64Array(1), new Float64Array(0), [], new Int32Array(0), new Float64Array([key]), start, from, to);
      const whole = new Float32Array(10); // one call (crosses 2^32 when start = 2^32 − 5)
      run(0, 10, whole);
      const sliced = new Float32Array(10);
      run(0, 5, sliced);
      run(5, 10, sliced);
      expect(Array.from(whole), `start ${start}`).toEqual(want);
      expect(Array.from(sliced), `start ${start}, sliced`).toEqual(want);
    }
  });

  it("counts of booleans skip the float32 rounding; real-valued sums keep it", () => {
    const nodes: SerialNode[] = [
      { op: "input", src: [], arg: { model: 0, tensor: "w" }, scalar: false },
      { op: "const", src: [], arg: 0, scalar: true },
      { op: "gt", src: [0, 1], arg: undefined, scalar: false },
      { op: "lt", src: [0, 1], arg: undefined, scalar: false },
      { op: "add", src: [2, 3], arg: undefined, scalar: false },
      { op: "add", src: [0, 4], arg: undefined, scalar: false },
    ];
    const src = generateSource(nodes, { vectors: [0, 2, 3, 4, 5], inputs: [0], reduces: [], kthHigh: [], kthLow: [], outputs: [0] }, [5]);
    expect(src).toContain("const v4 = v2 + v3;");
    expect(src).toContain("const v5 = Math.fround(v0 + v4);");
  });
});
