// Schedules: layers([...]) interpolation over the layer index in tensor names, match({...}) first-key-wins.
import { describe, expect, it } from "vitest";
import { countLayers, layerIndex, layers, match, resolveParam, tensorContext } from "../../engine/param-schedule.js";
import { MergelabError } from "../../core/errors.js";

const ctx = (name: string, numLayers = 5) => tensorContext(name, [2, 3], numLayers);

describe("layer index", () => {
  it("reads layers.N., h.N., blocks.N.; none outside the stack", () => {
    expect(layerIndex("model.layers.12.mlp.up_proj.weight")).toBe(12);
    expect(layerIndex("transformer.h.3.attn.c_attn.weight")).toBe(3);
    expect(layerIndex("blocks.0.norm.weight")).toBe(0);
    expect(layerIndex("model.embed_tokens.weight")).toBeUndefined();
    expect(layerIndex("model.layers_norm.weight")).toBeUndefined();
    expect(countLayers(["model.layers.0.w", "model.layers.9.w", "lm_head.weight"])).toBe(10);
    expect(tensorContext("model.layers.2.w", [4, 5], 3)).toEqual({ name: "model.layers.2.w", shape: [4, 5], numel: 20, layer: 2, numLayers: 3 });
  });
});

describe("layers([...])", () => {
  it("interpolates linearly from the first to the last layer", () => {
    const s = layers([0, 0.5, 1]);
    // 5 layers: positions 0, .5, 1, 1.5, 2 along [0, 0.5, 1]
    expect([0, 1, 2, 3, 4].map((l) => s.at(ctx(`model.layers.${l}.w`)))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(layers([1, 3]).at(ctx("model.layers.1.w", 3))).toBe(2);
  });
  it("every tensor outside the layer stack takes the first value (mergekit's plan.py evaluates them at t = 0)", () => {
    const s = layers([0.2, 0.9]);
    expect(s.at(ctx("model.embed_tokens.weight"))).toBe(0.2);
    expect(s.at(ctx("transformer.wte.weight"))).toBe(0.2);
    expect(s.at(ctx("model.norm.weight"))).toBe(0.2);
    expect(s.at(ctx("lm_head.weight"))).toBe(0.2);
    expect(s.at(ctx("pooler.dense.weight"))).toBe(0.2);
  });
  it("a one-layer stack takes the last value (mergekit's plan_slice: t = 1 when num_layers = 1)", () => {
    expect(layers([0.1, 0.9]).at(ctx("model.layers.0.w", 1))).toBe(0.9);
    expect(layers([0.1, 0.5, 0.9]).at(ctx("encoder.layer.0.output.dense.weight", 1))).toBe(0.9);
  });
  it("BERT-style names (encoder.layer.N.) are layers", () => {
    expect(layerIndex("encoder.layer.11.attention.self.query.weight")).toBe(11);
    expect(layerIndex("bert.encoder.layer.2.output.LayerNorm.bias")).toBe(2);
    expect(countLayers(["embeddings.word_embeddings.weight", "encoder.layer.0.x", "encoder.layer.3.x", "pooler.dense.weight"])).toBe(4);
    expect(layers([0, 1]).at(ctx("encoder.layer.2.output.dense.weight", 3))).toBe(1);
  });
  it("one value is constant; describes itself; rejects bad values", () => {
    expect(layers([0.7]).at(ctx("model.layers.3.w"))).toBe(0.7);
    expect(layers([0.7]).at(ctx("model.layers.0.w", 1))).toBe(0.7);
    expect(layers([0, 0.5, 1]).describe()).toBe("layers([0, 0.5, 1])");
    expect(() => layers([])).toThrow(MergelabError);
  });
});

describe("match({...}, default)", () => {
  it("the first key contained in the name wins, else the default", () => {
    const s = match({ self_attn: 0.3, mlp: 0.1, "layers.1.": 0.9 }, 0.2);
    expect(s.at(ctx("model.layers.1.self_attn.q_proj.weight"))).toBe(0.3);
    expect(s.at(ctx("model.layers.1.mlp.up_proj.weight"))).toBe(0.1);
    expect(s.at(ctx("model.layers.1.input_layernorm.weight"))).toBe(0.9);
    expect(s.at(ctx("model.norm.weight"))).toBe(0.2);
    expect(resolveParam(s, ctx("lm_head.weight"))).toBe(0.2);
    expect(resolveParam(0.4, ctx("lm_head.weight"))).toBe(0.4);
    expect(s.describe()).toBe('match({"self_attn": 0.3, "mlp": 0.1, "layers.1.": 0.9}, default=0.2)');
  });
  it("values may be schedules", () => {
    const s = match({ mlp: layers([0, 1]) }, 0.5);
    expect(s.at(ctx("model.layers.4.mlp.w"))).toBe(1);
    expect(s.at(ctx("model.layers.4.attn.w"))).toBe(0.5);
  });
});
