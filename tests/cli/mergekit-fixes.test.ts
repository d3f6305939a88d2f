/**
 * mergekit semantics the YAML path used to get silently wrong (issue #11), each checked against what
 * mergekit's planner does (mergekit/plan.py, merge.py; the conformance suite in tests/mergekit compares
 * the same configs with mergekit's own outputs), plus mergekit-yaml's command-line habits.
 */
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers.js";
import { mergekitToScript } from "../../cli/mergekit.js";
import { fixtureWorkspace, readTensors } from "./checkpoints.js";

let work: string;
beforeAll(() => {
  work = fixtureWorkspace("mergelab-mkfix-");
});

const write = (name: string, text: string) => {
  fs.writeFileSync(path.join(work, name), text);
  return name;
};
const run = (...args: string[]) => runCli(args, { cwd: work });

describe("the YAML path agrees with mergekit's planner", () => {
  it("linear: a base_model not among the models is merged in with the global weight", () => {
    const yml = write("lin-base.yml", "models:\n  - model: models/f16\n    parameters: {weight: 0.5}\n  - model: models/f32.safetensors\n    parameters: {weight: 0.3}\nmerge_method: linear\nbase_model: models/bf16\nparameters: {weight: 0.2}\n");
    const script = mergekitToScript(fs.readFileSync(path.join(work, yml), "utf8"), { file: yml, outDir: "OUT" });
    expect(script).toContain("merged = linear([f16, f32, base], weights=[0.5, 0.3, 0.2], normalize=true)");
    expect(script).toContain('base = load("models/bf16")');
    // without a weight for it mergekit fails (its weight is None): an error at base_model, not a silent drop
    const noWeight = write("lin-base-noweight.yml", "models:\n  - model: models/f16\n    parameters: {weight: 0.5}\n  - model: models/f32.safetensors\n    parameters: {weight: 0.3}\nmerge_method: linear\nbase_model: models/bf16\n");
    const r = run("run", noWeight, "out-noweight");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lin-base-noweight\.yml:7:\d+: error: base_model is not one of the models: mergekit adds it/);
  });

  it("slices: a per-model filter matches input layer names, a global one output layer names", () => {
    const yml = write(
      "slice-filters.yml",
      [
        "slices:",
        "  - sources:",
        "      - {model: models/f16, layer_range: [0, 1]}",
        "      - {model: models/f32.safetensors, layer_range: [0, 1]}",
        "  - sources:",
        "      - model: models/f16",
        "        layer_range: [1, 2]",
        "        parameters:",
        "          weight: [{filter: layers.1., value: 0.9}, {value: 0.5}]",
        "      - {model: models/f32.safetensors, layer_range: [1, 2]}",
        "merge_method: slerp",
        "base_model: models/f16",
        "parameters:",
        "  t: [{filter: layers.1., value: 0.8}, {filter: layers.0., value: 0.1}, {value: 0.5}]",
        "  weight: 1",
        "",
      ].join("\n"),
    );
    const script = mergekitToScript(fs.readFileSync(path.join(work, yml), "utf8"), { file: yml, outDir: "OUT" });
    // slice 1 holds output layer 0: t's "layers.0." entry applies there, "layers.1." cannot
    expect(script).toContain('part1 = slerp(slice(base, 0, 1), slice(f32, 0, 1), t=match({"layers.0.": 0.1}, default=0.5))');
    // slice 2 holds output layer 1, the slice's own layer 0
    expect(script).toContain('part2 = slerp(slice(base, 1, 2), slice(f32, 1, 2), t=match({"layers.0.": 0.8}, default=0.5))');
  });

  it("no dtype over bfloat16 + float32 models: linear writes float32 (torch's promotion), as mergekit does", () => {
    const yml = write("mixed.yml", "models:\n  - model: models/bf16\n    parameters: {weight: 0.5}\n  - model: models/f32.safetensors\n    parameters: {weight: 0.5}\nmerge_method: linear\n");
    const r = run("run", yml, "out-mixed", "--quiet");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const dtypes = new Set([...readTensors(path.join(work, "out-mixed")).values()].map((t) => t.dtype));
    expect([...dtypes]).toEqual(["F32"]);
    expect(JSON.parse(fs.readFileSync(path.join(work, "out-mixed/config.json"), "utf8")).torch_dtype).toBe("float32");
  });

  it("a stack's config.json says how many layers were written, and torch_dtype what dtype", () => {
    const yml = write("stack.yml", "slices:\n  - sources: [{model: models/f16, layer_range: [0, 2]}]\n  - sources: [{model: models/f16, layer_range: [0, 2]}]\n  - sources: [{model: models/f16, layer_range: [1, 2]}]\nmerge_method: passthrough\ndtype: bfloat16\n");
    const r = run("run", yml, "out-stack", "--quiet");
    expect(r.stderr).toBe("");
    const cfg = JSON.parse(fs.readFileSync(path.join(work, "out-stack/config.json"), "utf8"));
    expect(cfg.num_hidden_layers).toBe(5);
    expect(cfg.torch_dtype).toBe("bfloat16");
    expect(cfg.vocab_size).toBe(32); // the rest is the source's
  });

  it("della's epsilon error points at the epsilon: setting", () => {
    const yml = write("della-eps.yml", "models:\n  - model: models/f16\n    parameters: {weight: 1, density: 0.5}\n  - model: models/bf16\n    parameters: {weight: 1, density: 0.5}\nmerge_method: della\nbase_model: models/f32.safetensors\nparameters:\n  epsilon: 1.35\n");
    const r = run("run", yml, "out-della");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^della-eps\.yml:9:12: error: .*ε/);
  });
});

describe("mergekit-yaml's command line", () => {
  const cfg = () => write("copy.yml", "models:\n  - model: models/f16\nmerge_method: passthrough\n");

  it("--cuda, --lazy-unpickle, --lora-merge-cache are accepted with a one-line note each", () => {
    const r = run("run", cfg(), "out-flags", "--cuda", "--lazy-unpickle", "--lora-merge-cache", "/tmp/x", "--allow-crimes", "--copy-tokenizer");
    expect(r.code).toBe(0);
    const notes = r.stderr.split("\n").filter((l) => l.startsWith("mergelab: note: "));
    expect(notes).toHaveLength(3);
    expect(notes[0]).toContain("--cuda: mergelab has no GPU backend");
  });

  it("--out-shard-size (mergekit's K/M/B) shards the output; --overwrite replaces it", () => {
    const r = run("run", cfg(), "out-shards", "--out-shard-size", "1K", "--quiet");
    expect(r.stderr).toBe("");
    const files = fs.readdirSync(path.join(work, "out-shards")).filter((f) => f.endsWith(".safetensors"));
    expect(files.length).toBeGreaterThan(1);
    expect(run("run", cfg(), "out-shards", "--quiet").code).toBe(1);
    const again = run("run", cfg(), "out-shards", "--quiet", "--overwrite");
    expect(again.stderr).toBe("");
    expect(fs.readdirSync(path.join(work, "out-shards"))).toContain("model.safetensors");
  });

  it("mergelab run SCRIPT OUT does not ignore OUT", () => {
    write("s.mlab", 'm = load("models/f16")\nsave(m, "out-s")\n');
    const r = run("run", "s.mlab", "elsewhere");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/OUT is for mergekit configs/);
    expect(fs.existsSync(path.join(work, "out-s"))).toBe(false);
  });
});
