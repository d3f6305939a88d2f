/**
 * mergekit's nuslerp, karcher, arcee_fusion and model_stock filter_wise in configs: the script
 * `from-mergekit` prints (the values mergekit would use, the base handled as mergekit's planner does),
 * and errors at the YAML line for what mergekit refuses. That the scripts compute mergekit's numbers,
 * and equal the YAML run bit for bit, is tests/mergekit/conformance.test.ts (t-nuslerp-*, t-karcher,
 * *-arcee-fusion, t-model-stock-filterwise).
 */
import { describe, expect, it } from "vitest";
import { mergekitToScript } from "../../cli/mergekit.js";
import { formatError } from "../../cli/format.js";
import { MergelabError } from "../../core/errors.js";

const script = (yaml: string) => mergekitToScript(yaml, { file: "config.yml", outDir: "OUT" });

function translateError(yaml: string): string {
  try {
    script(yaml);
  } catch (e) {
    if (e instanceof MergelabError) return formatError(e);
    throw e;
  }
  throw new Error("expected an error");
}

describe("mergekit methods: nuslerp, karcher, arcee_fusion, model_stock filter_wise", () => {
  it("nuslerp: two models, weights, row_wise/flatten, with and without a base", () => {
    const withBase = script(
      "models:\n  - model: a\n    parameters: {weight: 0.6}\n  - model: b\n    parameters: {weight: 0.4}\n" +
        "merge_method: nuslerp\nbase_model: c\nparameters: {nuslerp_row_wise: true, nuslerp_flatten: false}\n",
    );
    expect(withBase).toContain("merged = nuslerp([a, b], base=base, weights=[0.6, 0.4], row_wise=true, flatten=false)");
    // mergekit's defaults: row_wise false, flatten true; a gradient weight stays a schedule
    const noBase = script("models:\n  - model: a\n    parameters: {weight: [0, 1]}\n  - model: b\n    parameters: {weight: 0.5}\nmerge_method: nuslerp\n");
    expect(noBase).toContain("merged = nuslerp([a, b], weights=[layers([0, 1]), 0.5], row_wise=false, flatten=true)");
  });

  it("karcher: every model, the base included (mergekit's planner adds it), max_iter and tol", () => {
    const s = script(
      "models:\n  - model: a\n    parameters: {weight: 0.6}\n  - model: b\n    parameters: {weight: 0.4}\n" +
        "merge_method: karcher\nbase_model: c\nparameters: {max_iter: 5, tol: 1.0e-4}\n",
    );
    expect(s).toContain("merged = karcher([a, b, base], max_iter=5, tol=0.0001)");
    expect(s).toContain("# weight: ignored (mergekit's karcher weighs every model equally)");
    expect(script("models:\n  - model: a\n  - model: b\nmerge_method: karcher\n")).toContain("merged = karcher([a, b], max_iter=10, tol=0.00001)");
  });

  it("arcee_fusion: the base and the other model; without a dtype, written in float32 as mergekit writes it", () => {
    const s = script("models:\n  - model: a\n  - model: b\nmerge_method: arcee_fusion\nbase_model: a\n");
    expect(s).toContain("merged = arcee_fusion(base, b)");
    expect(s).toContain("# no dtype: mergekit writes arcee_fusion's result in float32 (its float32 mask promotes it)");
    expect(s).toContain('save(merged, "OUT", dtype="f32")');
    // with a dtype, the config's dtype (mergelab's rule: computed in float32, rounded once; docs/methods.md)
    expect(script("models:\n  - model: a\n  - model: b\nmerge_method: arcee_fusion\nbase_model: a\ndtype: bfloat16\n")).toContain('save(merged, "OUT", dtype="bf16")');
  });

  it("model_stock filter_wise: true", () => {
    const s = script("models:\n  - model: a\n  - model: b\nmerge_method: model_stock\nbase_model: c\nparameters: {filter_wise: true}\n");
    expect(s).toContain("merged = model_stock([a, b], base=base, filter_wise=true)");
    expect(script("models:\n  - model: a\n  - model: b\nmerge_method: model_stock\nbase_model: c\n")).toContain("merged = model_stock([a, b], base=base)\n");
  });

  it("what mergekit refuses is an error at the YAML line", () => {
    expect(translateError("models:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n  - model: c\n    parameters: {weight: 1}\nmerge_method: nuslerp\n"))
      .toMatch(/^config\.yml:\d+:\d+: error: nuslerp merges exactly two models besides base_model \(got 3\)/);
    expect(translateError("models:\n  - model: a\n  - model: b\n  - model: c\nmerge_method: arcee_fusion\nbase_model: a\n"))
      .toMatch(/^config\.yml:\d+:\d+: error: arcee_fusion merges exactly two models: base_model and one other/);
    expect(translateError("models:\n  - model: a\n  - model: b\nmerge_method: arcee_fusion\n")).toMatch(/^config\.yml:4:15: error: arcee_fusion needs 'base_model'/);
    expect(translateError("models:\n  - model: a\n  - model: b\nmerge_method: nuslerp\nparameters: {weight: 1, nuslerp_flatten: 1}\n")).toMatch(/^config\.yml:5:\d+: error: nuslerp_flatten: expected true or false/);
  });
});
