// LoRA adapters as lazy models: base + scale·B·A computed chunk by chunk, against a dense float64 reference,
// independent of chunk size and workers, and a merge of two adapters equal to the merge of them materialised.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { combine, loadModel, materializeArrays, modelFromArrays, type ModelValue } from "../../engine/index.js";
import { loraModel } from "../../engine/lora.js";
import { build, denseBA } from "../io/peft-files.js";
import { tempDir } from "../helpers.js";

const targets: Array<[string, string, number, number, boolean]> = [
  ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj", 16, 2, false],
  ["model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj", 8, 4, false],
  ["model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.up_proj", 16, 2, false],
  ["model.embed_tokens.weight", "model.embed_tokens", 16, 2, true],
];

const bits = (a: Float32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe("LoRA adapters as lazy models", () => {
  it("base + (α/r)·B·A on every target, the saved lm_head, the rest of the base unchanged", async () => {
    const dir = tempDir();
    const { base, adapter } = build(dir, {});
    const m = loraModel(loadModel(path.join(dir, "base")), path.join(dir, "adapter"), "adapter");
    expect(m.label).toMatch(/\+adapter$/);
    const out = await materializeArrays(m, { chunkSize: 7, workers: 0 });
    for (const [target, module, alpha, r, emb] of targets) {
      const A = adapter[`base_model.model.${module}.${emb ? "lora_embedding_A" : "lora_A.weight"}`];
      const B = adapter[`base_model.model.${module}.${emb ? "lora_embedding_B" : "lora_B.weight"}`];
      const ref = denseBA(A, B, emb);
      const got = out[target].data as Float32Array;
      const W = base[target].data;
      for (let i = 0; i < W.length; i++) {
        const want = W[i] + (alpha / r) * ref[i];
        expect(Math.abs(got[i] - want), `${target}[${i}]`).toBeLessThanOrEqual(4 * 2 ** -23 * Math.max(1, Math.abs(want), (alpha / r) * Math.abs(ref[i])));
      }
    }
    expect(bits(out["lm_head.weight"].data).equals(bits(adapter["base_model.model.lm_head.weight"].data))).toBe(true);
    expect(bits(out["model.layers.1.mlp.up_proj.weight"].data).equals(bits(base["model.layers.1.mlp.up_proj.weight"].data))).toBe(false);
  });

  it("bit-identical for any chunk size and worker count", async () => {
    const dir = tempDir();
    build(dir, { use_rslora: true });
    const m = loraModel(loadModel(path.join(dir, "base")), path.join(dir, "adapter"), "adapter");
    const a = await materializeArrays(m, { chunkSize: 5, workers: 0 });
    const b = await materializeArrays(m, { chunkSize: 1 << 16, workers: 2 });
    for (const name of Object.keys(a)) expect(bits(a[name].data).equals(bits(b[name].data)), name).toBe(true);
  });

  it("a merge of two lazy adapters equals the same merge of them materialised first", async () => {
    const d1 = tempDir();
    const d2 = tempDir();
    build(d1, {}, 7);
    build(d2, { lora_alpha: 4 }, 11); // another adapter, the same base (seed 7 builds the base first)
    const base = loadModel(path.join(d1, "base"));
    const e1 = loraModel(base, path.join(d1, "adapter"), "a1");
    const e2 = loraModel(base, path.join(d2, "adapter"), "a2");
    // task arithmetic: base + 0.5·((e1 − base) + (e2 − base))
    const merge = (x: ModelValue, y: ModelValue, b: ModelValue) =>
      combine("+", b, combine("*", 0.5, combine("+", combine("-", x, b), combine("-", y, b)) as ModelValue) as ModelValue) as ModelValue;
    const lazy = await materializeArrays(merge(e1, e2, base), { chunkSize: 4, workers: 0 });
    const dense = (arrays: Awaited<ReturnType<typeof materializeArrays>>, label: string) =>
      modelFromArrays(new Map(Object.entries(arrays).map(([k, v]) => [k, { shape: v.shape, dtype: v.dtype, data: v.data }])), label);
    const m1 = dense(await materializeArrays(e1), "m1");
    const m2 = dense(await materializeArrays(e2), "m2");
    const mb = dense(await materializeArrays(base), "mb");
    const eager = await materializeArrays(merge(m1, m2, mb));
    for (const name of Object.keys(eager)) expect(bits(lazy[name].data).equals(bits(eager[name].data)), name).toBe(true);
  });

  it("an adapter for another model is refused before any compute, naming the tensor", () => {
    const dir = tempDir();
    build(dir, {});
    const other = tempDir();
    build(other, {});
    // base without the layer-1 up_proj the adapter targets
    const base = loadModel(path.join(dir, "base"));
    const cut = modelFromArrays(new Map([["model.embed_tokens.weight", { shape: [11, 6], dtype: "F32" as const, data: new Float32Array(66) }]]), "small");
    expect(() => loraModel(cut, path.join(other, "adapter"), "adapters/x")).toThrow(/adapters\/x \(LoRA adapter\) on small: the adapter targets 'model\.layers\.0\.mlp\.up_proj\.weight', which the base model does not have/);
    expect(() => loraModel(base, path.join(dir, "nope"), "adapters/nope")).toThrow(/adapters\/nope: not a PEFT adapter/);
  });
});
