// The independently written fixtures decode to expected.json's values.
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { allocF32, openCheckpoint, useSimd } from "../../io/index.js";
import { expected, fixtures } from "../helpers.js";

const parse = (s: string) => (s === "inf" ? Infinity : s === "-inf" ? -Infinity : s === "nan" ? NaN : Number(s));
const sameValue = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

describe.each(["tiny-llama-bf16-sharded", "tiny-llama-f16", "tiny-llama-f32.safetensors", "mixed-int-buffer.safetensors"])("fixture %s", (name) => {
  const want = expected[name] as Record<string, { shape: number[]; sum_f64: number; first_raw: string[] }>;

  it("has exactly the expected tensors and shapes", () => {
    const c = openCheckpoint(path.join(fixtures, name));
    expect(c.tensors.map((t) => t.name).sort()).toEqual(Object.keys(want).sort());
    for (const t of c.tensors) expect(t.shape).toEqual(want[t.name].shape);
    expect(c.stats.rangeReads).toBe(0);
  });

  it.each([["SIMD", true], ["scalar", false]] as const)("decodes every tensor (%s): sum of finite values and the first six (inf, -inf, -0, subnormal)", (_, simd) => {
    useSimd(simd);
    onTestFinished(() => useSimd(true));
    const c = openCheckpoint(path.join(fixtures, name));
    for (const t of c.tensors) {
      const v = c.readF32(t.name, 0, t.numel);
      let sum = 0;
      for (const x of v) if (Number.isFinite(x)) sum += x;
      expect(sum, t.name).toBeCloseTo(want[t.name].sum_f64, 9);
      want[t.name].first_raw.forEach((s, i) => {
        if (!sameValue(v[i], parse(s))) throw new Error(`${name} ${t.name}[${i}] = ${v[i]}, want ${s}`);
      });
    }
    c.close();
  });

  it("decodes the same in chunks of any size, into plain or allocF32 buffers, as in one read", () => {
    const c = openCheckpoint(path.join(fixtures, name));
    for (const t of c.tensors) {
      const whole = c.readF32(t.name, 0, t.numel);
      for (const [size, buf] of [[7, new Float32Array(7)], [40, allocF32(40)], [t.numel, allocF32(t.numel)]] as const) {
        const chunked = new Float32Array(t.numel);
        for (let s = 0; s < t.numel; s += size) chunked.set(c.readF32(t.name, s, Math.min(size, t.numel - s), buf), s);
        expect(Buffer.from(chunked.buffer).equals(Buffer.from(whole.buffer)), `${t.name} in chunks of ${size}`).toBe(true);
      }
    }
  });
});

describe("fixture details", () => {
  it("bf16: -0 keeps its sign and the f32 subnormal 1e-40 decodes to bf16 0x0001 = 2^-133", () => {
    const c = openCheckpoint(path.join(fixtures, "tiny-llama-bf16-sharded"));
    const v = c.readF32("model.layers.0.input_layernorm.weight", 0, 6);
    expect(Object.is(v[3], -0)).toBe(true);
    expect(v[4]).toBe(2 ** -133);
    expect(Array.from(c.readRaw("model.layers.0.input_layernorm.weight", 8, 2))).toEqual([0x01, 0x00]);
    expect(c.files.map((f) => path.basename(f.path))).toEqual([1, 2, 3].map((i) => `model-0000${i}-of-00003.safetensors`));
    expect(c.indexMetadata.total_size).toBe(c.tensors.reduce((s, t) => s + t.byteLength, 0));
    for (const f of c.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("I64 position_ids are carried through bit-exact as raw bytes", () => {
    const c = openCheckpoint(path.join(fixtures, "mixed-int-buffer.safetensors"));
    const t = c.tensor("position_ids");
    expect(t.dtype).toBe("I64");
    const raw = c.readRaw("position_ids", 0, t.byteLength);
    const ints = new BigInt64Array(raw.buffer, raw.byteOffset, t.numel);
    expect(Array.from(ints)).toEqual(Array.from({ length: 16 }, (_, i) => BigInt(i)));
    expect(c.stats).toEqual({ rangeReads: 1, bytesRead: 128 });
  });

  it("tensors are listed in natural name order, with absolute offsets inside their files", () => {
    const c = openCheckpoint(path.join(fixtures, "tiny-llama-f16"));
    expect(c.tensors.map((t) => t.name)).toEqual([
      "lm_head.weight", "model.embed_tokens.weight",
      "model.layers.0.input_layernorm.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.self_attn.q_proj.weight",
      "model.layers.1.input_layernorm.weight", "model.layers.1.mlp.up_proj.weight", "model.layers.1.self_attn.q_proj.weight",
      "model.norm.weight",
    ]);
    for (const t of c.tensors) {
      expect(t.offset).toBeGreaterThanOrEqual(8 + c.files[0].headerLength);
      expect(t.offset + t.byteLength).toBeLessThanOrEqual(c.files[0].size);
    }
  });
});
