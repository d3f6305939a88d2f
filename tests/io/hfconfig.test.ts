// config.json facts: the architecture guard (mergekit's allow_crimes) and tied embeddings (transformers' tie_word_embeddings).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { architectureMismatches, checkArchitectures, configLayerCount, isTied, readHfConfig, tiedHead } from "../../io/hfconfig.js";
import { MergelabError } from "../../core/errors.js";
import { fixtures, tempDir } from "../helpers.js";

const llama = { model_type: "llama", architectures: ["LlamaForCausalLM"], hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 2, num_hidden_layers: 2, vocab_size: 32 };
const mistral = { ...llama, model_type: "mistral", architectures: ["MistralForCausalLM"] };

describe("architecture guard", () => {
  it("equal architectures pass; Llama vs Mistral with equal shapes is refused, naming both models and the field", () => {
    expect(() => checkArchitectures([{ label: "a", config: llama }, { label: "b", config: { ...llama } }])).not.toThrow();
    let err: unknown;
    try {
      checkArchitectures([{ label: "models/llama", config: llama }, { label: "mistralai/Mistral-7B-v0.1", config: mistral }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MergelabError);
    expect((err as Error).message).toBe(
      "architecture mismatch: models/llama has model_type = llama but mistralai/Mistral-7B-v0.1 has mistral (and architectures); refusing to merge different architectures (--allow-crimes, mergekit's allow_crimes, merges them anyway)",
    );
    expect(() => checkArchitectures([{ label: "a", config: llama }, { label: "b", config: mistral }], { allowCrimes: true })).not.toThrow();
  });

  it("hidden size, head counts and layer counts under each architecture's key (gpt2's n_embd, n_head, n_layer)", () => {
    const gpt2 = { model_type: "gpt2", n_embd: 768, n_head: 12, n_layer: 12 };
    const m = architectureMismatches([{ label: "a", config: gpt2 }, { label: "b", config: { ...gpt2, n_head: 16, n_layer: 24 } }]);
    expect(m.map((x) => [x.field, x.key, x.va, x.vb])).toEqual([["num_attention_heads", "n_head", 12, 16], ["num_hidden_layers", "n_layer", 12, 24]]);
    expect(() => checkArchitectures([{ label: "x", config: llama }, { label: "y", config: { ...llama, num_key_value_heads: 1 } }])).toThrow(/x has num_key_value_heads = 2 but y has 1/);
    expect(() => checkArchitectures([{ label: "x", config: llama }, { label: "y", config: { ...llama, hidden_size: 16 } }])).toThrow(/x has hidden_size = 8 but y has 16/);
    // a stack of layers from models of different depth: layer counts are not compared
    expect(() => checkArchitectures([{ label: "x", config: llama }, { label: "y", config: { ...llama, num_hidden_layers: 4 } }], { fields: ["model_type", "hidden_size"] })).not.toThrow();
  });

  it("models without config.json are not compared; multimodal configs are read from text_config", () => {
    expect(architectureMismatches([{ label: "a", config: undefined }, { label: "b", config: llama }])).toEqual([]);
    const mm = { model_type: "llava", text_config: { hidden_size: 16, num_hidden_layers: 3 } };
    expect(configLayerCount(mm)).toBe(3);
    expect(architectureMismatches([{ label: "a", config: mm }, { label: "b", config: { ...mm, text_config: { hidden_size: 8, num_hidden_layers: 3 } } }])
      .map((x) => x.key)).toEqual(["text_config.hidden_size"]);
  });

  it("reads config.json next to a checkpoint; a broken one is a located error", () => {
    expect(readHfConfig(path.join(fixtures, "tiny-llama-f16"))).toMatchObject({ model_type: "llama", num_hidden_layers: 2 });
    const dir = tempDir();
    expect(readHfConfig(dir)).toBeUndefined();
    fs.writeFileSync(path.join(dir, "config.json"), "{oops");
    expect(() => readHfConfig(dir)).toThrow(/config\.json: not valid JSON/);
  });
});

describe("tied embeddings", () => {
  const names = (...n: string[]) => new Set(n);
  it("no lm_head and tie_word_embeddings (or transformers' default true): the head reads the embeddings", () => {
    expect(tiedHead({ tie_word_embeddings: true }, names("model.embed_tokens.weight", "model.norm.weight"))).toEqual({ head: "lm_head.weight", embed: "model.embed_tokens.weight" });
    expect(tiedHead({ model_type: "qwen2" }, names("model.embed_tokens.weight"))).toEqual({ head: "lm_head.weight", embed: "model.embed_tokens.weight" });
    expect(tiedHead({ model_type: "gpt2" }, names("transformer.wte.weight"))).toEqual({ head: "lm_head.weight", embed: "transformer.wte.weight" });
    expect(tiedHead({ model_type: "gpt_neox", tie_word_embeddings: true }, names("gpt_neox.embed_in.weight"))).toEqual({ head: "embed_out.weight", embed: "gpt_neox.embed_in.weight" });
  });
  it("an untied config, a present head, or no config: nothing is tied", () => {
    expect(tiedHead({ tie_word_embeddings: false }, names("model.embed_tokens.weight"))).toBeUndefined();
    expect(tiedHead({ tie_word_embeddings: true }, names("model.embed_tokens.weight", "lm_head.weight"))).toBeUndefined();
    expect(tiedHead(undefined, names("model.embed_tokens.weight"))).toBeUndefined();
    expect(isTied({ text_config: { tie_word_embeddings: false } })).toBe(false);
  });
});
