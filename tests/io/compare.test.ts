// Cross-model checks from headers: missing names, shape mismatches, dtype mixes that matter.
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { assertCompatible, compareCheckpoints, ioCounters, openCheckpoint } from "../../io/index.js";
import { fixtures, tempDir } from "../helpers.js";
import { rawSafetensors } from "./st-files.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, header: Record<string, { dtype: string; shape: number[] }>): string {
  let pos = 0;
  const sizes: Record<string, number> = { F32: 4, BF16: 2, F16: 2, I64: 8 };
  const h: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(header)) {
    const n = v.shape.reduce((a, b) => a * b, 1) * sizes[v.dtype];
    h[k] = { ...v, data_offsets: [pos, pos + n] };
    pos += n;
  }
  const p = path.join(dir, name);
  fs.writeFileSync(p, rawSafetensors(h, new Uint8Array(pos)));
  return p;
}

describe("compareCheckpoints", () => {
  it("the three tiny-llama fixtures (BF16, F16, F32) agree; their float dtype mix is noted but does not matter", () => {
    const ckpts = ["tiny-llama-bf16-sharded", "tiny-llama-f16", "tiny-llama-f32.safetensors"].map((n) => openCheckpoint(path.join(fixtures, n)));
    const before = ioCounters.dataReads;
    const r = assertCompatible(ckpts);
    expect(r.missing).toEqual([]);
    expect(r.shapeMismatches).toEqual([]);
    expect(r.mixedDtypes).toHaveLength(9);
    expect(r.mixedDtypes.every((d) => !d.matters)).toBe(true);
    expect(r.mixedDtypes[0].dtypes.map((d) => d.dtype)).toEqual(["BF16", "F16", "F32"]);
    expect(ioCounters.dataReads).toBe(before);
  });

  it("reports a missing tensor naming the tensor and both checkpoints", () => {
    const a = openCheckpoint(file("a.safetensors", { w: { dtype: "F32", shape: [2] }, extra: { dtype: "F32", shape: [1] } }));
    const b = openCheckpoint(file("b.safetensors", { w: { dtype: "F32", shape: [2] } }));
    expect(compareCheckpoints([a, b]).missing).toEqual([{ tensor: "extra", presentIn: a.path, missingFrom: b.path }]);
    expect(() => assertCompatible([a, b])).toThrow(`tensor 'extra' is in ${a.path} but missing from ${b.path}`);
    expect(() => assertCompatible([b, a])).toThrow(`tensor 'extra' is in ${a.path} but missing from ${b.path}`);
  });

  it("reports a shape mismatch naming the tensor and both files", () => {
    const a = openCheckpoint(file("a.safetensors", { w: { dtype: "F32", shape: [2, 3] } }));
    const b = openCheckpoint(file("b.safetensors", { w: { dtype: "F32", shape: [3, 2] } }));
    expect(() => assertCompatible([a, b])).toThrow(`tensor 'w': shape [2, 3] in ${a.path} but [3, 2] in ${b.path}`);
  });

  it("a float tensor in one model and an integer tensor in another matters", () => {
    const a = openCheckpoint(file("a.safetensors", { pos: { dtype: "I64", shape: [4] } }));
    const b = openCheckpoint(file("b.safetensors", { pos: { dtype: "F32", shape: [4] } }));
    const r = compareCheckpoints([a, b]);
    expect(r.mixedDtypes).toEqual([{ tensor: "pos", dtypes: [{ file: a.path, dtype: "I64" }, { file: b.path, dtype: "F32" }], matters: true }]);
    expect(() => assertCompatible([a, b])).toThrow(`tensor 'pos' has incompatible dtypes: I64 in ${a.path}, F32 in ${b.path}`);
  });
});
