/** slice() and stack(): layer surgery for frankenmerges (mergekit's slices), by renaming only. */
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { run, ScriptError } from "../../dsl/index.js";
import { sliceLayers, stackLayers } from "../../stdlib/stack.js";
import { loadModel } from "../../engine/model.js";
import { fixtureWorkspace } from "../cli/checkpoints.js";

let work: string;
beforeAll(() => {
  work = fixtureWorkspace("mergelab-stack-");
});

describe("slice and stack", () => {
  it("slice keeps layers start ≤ l < end, renumbered from 0, and the tensors outside the stack", () => {
    const m = loadModel(path.join(work, "models/f16"));
    const top = sliceLayers(m, 1, 2);
    expect([...top.tensors.keys()]).toEqual([
      "lm_head.weight",
      "model.embed_tokens.weight",
      "model.layers.0.input_layernorm.weight",
      "model.layers.0.mlp.up_proj.weight",
      "model.layers.0.self_attn.q_proj.weight",
      "model.norm.weight",
    ]);
    expect(top.numLayers).toBe(1);
  });

  it("stack renumbers consecutively: embeddings from the first, final norm and lm_head from the last", () => {
    const a = loadModel(path.join(work, "models/f16"));
    const b = loadModel(path.join(work, "models/f32.safetensors"));
    const s = stackLayers([a, sliceLayers(b, 0, 1), a]);
    expect(s.numLayers).toBe(5);
    expect(s.tensors.size).toBe(5 * 3 + 3);
    // the recipe of a renamed tensor is its source's: check where each comes from via carry()
    const from = (name: string) => (s.carry(name).source as { label: string }).label;
    expect(from("model.embed_tokens.weight")).toBe(a.inputs[0].label);
    expect(from("model.layers.2.mlp.up_proj.weight")).toBe(b.inputs[0].label);
    expect(s.carry("model.layers.2.mlp.up_proj.weight").tensor).toBe("model.layers.0.mlp.up_proj.weight");
    expect(s.carry("model.layers.4.mlp.up_proj.weight").tensor).toBe("model.layers.1.mlp.up_proj.weight");
    expect(from("lm_head.weight")).toBe(a.inputs[0].label);
  });

  it("a range past the model's layers is an error at the call", async () => {
    const err = await run('x = slice(load("models/f16"), 1, 3)\n', { cwd: work, file: "s.mlab" }).catch((e) => e);
    expect(err).toBeInstanceOf(ScriptError);
    expect((err as ScriptError).rendered).toMatch(/^s\.mlab:1:34: error: slice\(\S*f16, 1, 3\): the model has 2 layers \(0–1\)/);
  });
});
