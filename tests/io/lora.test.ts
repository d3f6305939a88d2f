// PEFT LoRA adapters in peft's save_pretrained layout: names, ranks, scales (alpha/r, rsLoRA, rank/alpha
// patterns), embedding and fan_in_fan_out deltas, against a dense base + scale·B·A computed here in float64.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openCheckpoint } from "../../io/index.js";
import { checkAdapterAgainstBase, loraDeltaChunk, openLoraAdapter, patternKey, readLoraFactors } from "../../io/lora.js";
import { MergelabError } from "../../core/errors.js";
import { rng, tempDir } from "../helpers.js";
import { build, denseBA, randn, writeF32, V, D, F, type T } from "./peft-files.js";

describe("PEFT LoRA adapters", () => {
  it("peft's get_pattern_key: a key matches a whole dotted suffix of the module name", () => {
    expect(patternKey(["layers.0.mlp.up_proj"], "model.layers.0.mlp.up_proj")).toBe("layers.0.mlp.up_proj");
    expect(patternKey(["layers.0.mlp.up_proj"], "model.layers.10.mlp.up_proj")).toBeUndefined();
    expect(patternKey(["up_proj"], "model.layers.3.mlp.up_proj")).toBe("up_proj");
    expect(patternKey(["p_proj"], "model.layers.3.mlp.up_proj")).toBeUndefined();
  });

  it("reads modules, ranks and scales from adapter_config.json and the tensor names", () => {
    const dir = tempDir();
    build(dir, {});
    const a = openLoraAdapter(path.join(dir, "adapter"));
    expect(a.baseModel).toBe("org/base");
    const got = [...a.modules.values()].map((m) => [m.target, m.kind, m.r, m.scale, m.transposed, m.shape]);
    expect(got.sort()).toEqual([
      ["model.embed_tokens.weight", "embedding", 2, 16 / 2, true, [V, D]],
      ["model.layers.0.mlp.up_proj.weight", "linear", 4, 8 / 4, false, [F, D]],
      ["model.layers.0.self_attn.q_proj.weight", "linear", 2, 16 / 2, false, [D, D]],
      ["model.layers.1.mlp.up_proj.weight", "linear", 2, 16 / 2, false, [F, D]],
    ].sort());
    expect([...a.replaced]).toEqual([["lm_head.weight", "base_model.model.lm_head.weight"]]);
  });

  it.each([
    ["alpha/r", {}, (alpha: number, r: number) => alpha / r],
    ["rsLoRA alpha/sqrt(r)", { use_rslora: true }, (alpha: number, r: number) => alpha / Math.sqrt(r)],
  ] as const)("base + scale·B·A (%s), chunk by chunk, equals the dense float64 product within float32 rounding", (_, cfg, scaleOf) => {
    const dir = tempDir();
    const { base, adapter } = build(dir, cfg);
    const a = openLoraAdapter(path.join(dir, "adapter"));
    const b = openCheckpoint(path.join(dir, "base"));
    checkAdapterAgainstBase(a, new Map(b.tensors.map((t) => [t.name, t])), "base");
    const cases: Array<[string, string, number, number, boolean]> = [
      ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj", 16, 2, false],
      ["model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj", 8, 4, false],
      ["model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.up_proj", 16, 2, false],
      ["model.embed_tokens.weight", "model.embed_tokens", 16, 2, true],
    ];
    for (const [target, module, alpha, r, emb] of cases) {
      const m = a.modules.get(target)!;
      expect(m.scale).toBe(scaleOf(alpha, r));
      const A = adapter[`base_model.model.${module}.${emb ? "lora_embedding_A" : "lora_A.weight"}`];
      const B = adapter[`base_model.model.${module}.${emb ? "lora_embedding_B" : "lora_B.weight"}`];
      const ref = denseBA(A, B, emb);
      const W = base[target].data;
      const { A: fa, B: fb } = readLoraFactors(a, m);
      // odd chunk sizes that straddle rows
      const n = W.length;
      const delta = new Float32Array(n);
      for (let s = 0; s < n; s += 5) loraDeltaChunk(m, fa, fb, s, Math.min(5, n - s), delta.subarray(s));
      const whole = loraDeltaChunk(m, fa, fb, 0, n, new Float32Array(n));
      expect(Buffer.from(delta.buffer).equals(Buffer.from(whole.buffer))).toBe(true);
      for (let i = 0; i < n; i++) {
        const want = W[i] + m.scale * ref[i];
        const got = Math.fround(W[i] + delta[i]);
        expect(Math.abs(got - want), `${target}[${i}]`).toBeLessThanOrEqual(4 * 2 ** -23 * Math.max(1, Math.abs(want), m.scale * Math.abs(ref[i])));
      }
    }
  });

  it("fan_in_fan_out (GPT-2 Conv1D weights stored [in, out]): the delta is (B·A)ᵀ", () => {
    const dir = tempDir();
    const next = rng(3);
    fs.mkdirSync(path.join(dir, "a"));
    const A = randn(next, [2, 5]);
    const B = randn(next, [7, 2]);
    writeF32(path.join(dir, "a", "adapter_model.safetensors"), {
      "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight": A,
      "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight": B,
    });
    fs.writeFileSync(path.join(dir, "a", "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 2, lora_alpha: 4, fan_in_fan_out: true, target_modules: ["c_attn"] }));
    const a = openLoraAdapter(path.join(dir, "a"));
    const m = a.modules.get("transformer.h.0.attn.c_attn.weight")!;
    expect(m.shape).toEqual([5, 7]);
    const { A: fa, B: fb } = readLoraFactors(a, m);
    const got = loraDeltaChunk(m, fa, fb, 0, 35, new Float32Array(35));
    const ref = denseBA(A, B, true);
    for (let i = 0; i < 35; i++) expect(got[i]).toBeCloseTo(2 * ref[i], 5);
  });

  it("refuses what it cannot apply, naming the adapter and the tensor", () => {
    const variant = (cfg: Record<string, unknown>, edit?: (dir: string) => void) => {
      const dir = tempDir();
      build(dir, cfg);
      edit?.(path.join(dir, "adapter"));
      try {
        const a = openLoraAdapter(path.join(dir, "adapter"));
        const b = openCheckpoint(path.join(dir, "base"));
        checkAdapterAgainstBase(a, new Map(b.tensors.map((t) => [t.name, t])), "base");
      } catch (e) {
        expect(e).toBeInstanceOf(MergelabError);
        return (e as Error).message;
      }
      return "accepted";
    };
    expect(variant({ use_dora: true })).toMatch(/adapter: a DoRA adapter/);
    expect(variant({ peft_type: "IA3" })).toMatch(/a IA3 adapter; only LoRA/);
    expect(variant({ rank_pattern: {} })).toMatch(/module 'model.layers.0.mlp.up_proj': rank 4 in the weights, 2 in adapter_config.json/);
    expect(variant({}, (d) => fs.renameSync(path.join(d, "adapter_model.safetensors"), path.join(d, "adapter_model.bin")))).toMatch(/only as a pickle \(adapter_model.bin\), refused/);
    expect(variant({}, (d) => {
      const c = openCheckpoint(path.join(d, "adapter_model.safetensors"));
      const keep: Record<string, T> = {};
      for (const t of c.tensors) if (!t.name.includes("q_proj.lora_B")) keep[t.name] = { shape: [...t.shape], data: c.readF32(t.name, 0, t.numel).slice() };
      c.close();
      writeF32(path.join(d, "adapter_model.safetensors"), keep);
    })).toMatch(/module 'model.layers.0.self_attn.q_proj' has lora_A but no lora_B/);
    expect(variant({}, (d) => {
      const c = openCheckpoint(path.join(d, "adapter_model.safetensors"));
      const keep: Record<string, T> = {};
      for (const t of c.tensors) keep[t.name.replace("layers.1.", "layers.5.")] = { shape: [...t.shape], data: c.readF32(t.name, 0, t.numel).slice() };
      c.close();
      writeF32(path.join(d, "adapter_model.safetensors"), keep);
    })).toMatch(/adapter \(LoRA adapter\) on base: the adapter targets 'model.layers.5.mlp.up_proj.weight', which the base model does not have/);
  });
});
