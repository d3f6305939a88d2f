// The output config.json: layer count and torch_dtype set to what was written (mergekit merge.py _model_out_config).
import { describe, expect, it } from "vitest";
import { outputHfConfig, writtenFloatDtype } from "../../io/outconfig.js";

describe("outputHfConfig", () => {
  it("sets the layer count under the key the architecture uses", () => {
    expect(outputHfConfig({ model_type: "llama", num_hidden_layers: 4 }, { numLayers: 10 }).num_hidden_layers).toBe(10);
    const gpt2 = outputHfConfig({ model_type: "gpt2", n_layer: 4, n_embd: 8 }, { numLayers: 8 });
    expect(gpt2.n_layer).toBe(8);
    expect(gpt2).not.toHaveProperty("num_hidden_layers");
    const vl = outputHfConfig({ model_type: "llava", text_config: { num_hidden_layers: 32 } }, { numLayers: 40 });
    expect((vl.text_config as Record<string, unknown>).num_hidden_layers).toBe(40);
  });
  it("leaves the count alone without layers, and never touches the source object", () => {
    const src = { num_hidden_layers: 4, torch_dtype: "float32" };
    expect(outputHfConfig(src, { numLayers: 0 }).num_hidden_layers).toBe(4);
    expect(outputHfConfig(src, {}).torch_dtype).toBe("float32");
    outputHfConfig(src, { numLayers: 9, dtype: "BF16" });
    expect(src).toEqual({ num_hidden_layers: 4, torch_dtype: "float32" });
  });
  it("sets torch_dtype (and the newer dtype key when present) to the dtype written", () => {
    expect(outputHfConfig({ torch_dtype: "float32" }, { dtype: "BF16" }).torch_dtype).toBe("bfloat16");
    expect(outputHfConfig({}, { dtype: "F16" }).torch_dtype).toBe("float16");
    const both = outputHfConfig({ dtype: "float32", torch_dtype: "float32" }, { dtype: "BF16" });
    expect([both.dtype, both.torch_dtype]).toEqual(["bfloat16", "bfloat16"]);
  });
  it("one float dtype of the written tensors, ignoring integer buffers; none when mixed", () => {
    expect(writtenFloatDtype(["BF16", "I64", "BF16"])).toBe("BF16");
    expect(writtenFloatDtype(["BF16", "F32"])).toBeUndefined();
    expect(writtenFloatDtype(["I64"])).toBeUndefined();
  });
});

describe("per-layer config lists follow the layers written (issue #12)", () => {
  const types = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"];
  it("layer_types and no_rope_layers are remapped through the output's source layers", () => {
    const out = outputHfConfig({ num_hidden_layers: 4, layer_types: types, no_rope_layers: [1, 1, 1, 0] }, { numLayers: 6, layerSources: [0, 1, 2, 1, 2, 3] });
    expect(out.num_hidden_layers).toBe(6);
    expect(out.layer_types).toEqual(["sliding_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention", "full_attention"]);
    expect(out.no_rope_layers).toEqual([1, 1, 1, 1, 1, 0]);
  });
  it("a list that is not one entry per source layer, or sources past its end, are left alone", () => {
    expect(outputHfConfig({ num_hidden_layers: 4, layer_types: types.slice(0, 3) }, { numLayers: 2, layerSources: [0, 1] }).layer_types).toEqual(types.slice(0, 3));
    expect(outputHfConfig({ num_hidden_layers: 4, layer_types: types }, { numLayers: 2, layerSources: [0, 7] }).layer_types).toEqual(types);
  });
});
