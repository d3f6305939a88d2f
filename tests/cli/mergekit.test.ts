/**
 * mergekit configs (tests/cli/mergekit/*.yml) over copies of the tiny-llama
 * fixtures: `mergelab from-mergekit` prints the expected script, and running
 * that script gives bit-for-bit the same tensors as `mergelab run config.yml`.
 */
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { expected, repoRoot, runCli } from "../helpers.js";
import { mergekitToScript, translateMergekit } from "../../cli/mergekit.js";
import { CheckpointWriter, openCheckpoint } from "../../io/index.js";
import { formatError } from "../../cli/format.js";
import { run as runVerb } from "../../cli/commands/run.js";
import { MergelabError } from "../../core/errors.js";
import { fixtureWorkspace, floats, readTensors, tensorDifferences } from "./checkpoints.js";

const configs = path.join(repoRoot, "tests/cli/mergekit");

/** Key lines of each config's script (OUT is the output directory given). */
const EXPECT: Record<string, Array<string | RegExp>> = {
  "linear.yml": ["merged = linear([bf16, f16, f32], weights=[1, 1, 1], normalize=true)", 'save(merged, "OUT", dtype="f32")'],
  "linear-unnormalized.yml": [
    "merged = linear([f16, f32], weights=[0.5, 0.5], normalize=false)",
    "# dtype: float16: mergekit computes in it; mergelab computes in float32\n",
    'save(merged, "OUT", dtype="bf16")',
  ],
  "task-arithmetic.yml": ['base = load("models/f32.safetensors")', "merged = task_arithmetic([bf16, f16], base=base, weights=[0.3, 0.7], λ=0.8, normalize=false)"],
  "ties.yml": [
    'merged = ties([bf16, f16], base=base, weights=[0.6, 0.4], k=0.5, ties="index", λ=1, normalize=true)',
    "# int8_mask: ignored",
    "# tokenizer_source: base: the output copies the base model's config and tokenizer files",
    'save(merged, "OUT", dtype="bf16")',
  ],
  "ties-gradient-filter.yml": ['weights=[match({"mlp": 0.2}, default=1), 0.5], k=layers([0.2, 0.8]), ties="index", λ=1, normalize=true)'],
  "dare-ties.yml": [
    'merged = dare_ties([bf16, f16], base=base, weights=[0.5, 0.5], p=0.3, λ=match({"self_attn": layers([1, 0.5])}, default=0.9), normalize=false, rescale=true, seed=0)',
    "# density d (fraction kept) is written as p = 1 - d",
    /^# .*seeded counter-based generator \(seed=0\)/m,
    /^# .*rescales the task vector to its L1 norm/m,
  ],
  "dare-linear.yml": ["merged = dare_linear([bf16, f16], base=base, weights=[1, 3], p=0.5, λ=1, normalize=true, rescale=false, seed=0)"],
  "breadcrumbs.yml": ["merged = breadcrumbs([bf16, f16], base=base, weights=[0.5, 0.5], k=0.6, γ=0.1, λ=1, normalize=false)", /^# .*gamma·n < 1/m],
  "breadcrumbs-ties.yml": ["k=1, γ=0, λ=1, normalize=false)", "# density 1: mergekit keeps the whole task vector"],
  "della.yml": ["merged = della([bf16, f16], base=base, weights=[1, 1], k=0.5, ε=0.1, λ=1.1, normalize=true, rescale=true, seed=0)", /^# .*ranks within each row/m],
  "della-linear.yml": ["merged = della_linear([bf16, f16], base=base, weights=[0.5, 0.5], k=0.4, ε=0.2, λ=1, normalize=false, rescale=true, seed=0)"],
  "slerp.yml": [
    'merged = slerp(slice(base, 0, 2), slice(f16, 0, 2), t=match({"self_attn": layers([0, 0.5, 0.3, 0.7, 1]), "mlp": layers([1, 0.5, 0.7, 0.3, 0])}, default=0.5))',
    /^# .*computed in float32 whatever the dtype/m,
  ],
  "slerp-models.yml": ['base = load("models/f16")', "merged = slerp(base, bf16, t=0.3)"],
  "model-stock.yml": ["merged = model_stock([bf16, f16], base=base)"],
  "passthrough-frankenmerge.yml": ["merged = stack([slice(f32, 0, 2), slice(f16, 1, 2)])", "# stack(): output layers are renumbered consecutively"],
  "passthrough-scale.yml": ['merged = passthrough(f16, scale=match({"self_attn": 0}, default=1))'],
  "dare-ties-per-model.yml": [
    "tv = [\n  drop(task_vector(bf16, base), p=0.2, seed=0, rescale=true),\n  drop(task_vector(f16, base), p=0.6, seed=1, rescale=true),\n]\n",
    "merged = base + 0.9 * disjoint_mean(tv, weights=[0.6, 0.4], normalize=false)",
  ],
  "breadcrumbs-per-model.yml": [
    "  trim_outliers(task_vector(bf16, base), k=0.5, γ=0.05),\n  trim_outliers(task_vector(f16, base), k=layers([0.3, 0.6]), γ=0.1),\n",
    "merged = base + 1 * linear(tv, weights=[1, 2], normalize=true)",
  ],
  "ties-slices.yml": [
    'part1 = ties([slice(bf16, 0, 1), slice(f16, 0, 1)], base=slice(base, 0, 1), weights=[1, 1], k=0.7, ties="index", λ=1, normalize=true)',
    'part2 = ties([slice(bf16, 1, 2), slice(f16, 1, 2)], base=slice(base, 1, 2), weights=[0.5, 2], k=0.3, ties="index", λ=1, normalize=true)',
    "merged = stack([part1, part2])",
  ],
};

let work: string;
beforeAll(() => {
  work = fixtureWorkspace("mergelab-mergekit-");
  process.chdir(work); // the run verb resolves paths against the working directory
});

describe("mergekit configs: from-mergekit script == running the YAML, bitwise", () => {
  const files = fs.readdirSync(configs).filter((f) => f.endsWith(".yml")).sort();

  it("covers at least a dozen configs, each with expectations", () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
    expect(Object.keys(EXPECT).sort()).toEqual(files);
  });

  for (const file of files) {
    it(file, async () => {
      const yml = path.join(configs, file);
      const name = file.replace(/\.yml$/, "");
      const script = mergekitToScript(fs.readFileSync(yml, "utf8"), { file: yml, outDir: "OUT" });
      for (const line of EXPECT[file]) {
        if (typeof line === "string") expect(script).toContain(line);
        else expect(script).toMatch(line);
      }
      fs.writeFileSync(path.join(work, `${name}.mlab`), script.replace('save(merged, "OUT"', `save(merged, "${name}-script"`));
      // the run verb in this process (the CLI spawns below cover the process boundary once)
      expect(await runVerb([yml, `${name}-yaml`, "--quiet"])).toBe(0);
      expect(await runVerb([`${name}.mlab`, "--quiet"])).toBe(0);
      const a = readTensors(path.join(work, `${name}-yaml`));
      const b = readTensors(path.join(work, `${name}-script`));
      expect(a.size).toBeGreaterThanOrEqual(9);
      expect(tensorDifferences(a, b)).toEqual([]);
    });
  }

  it("through the CLI: from-mergekit prints the script, and both runs give the in-process tensors", () => {
    const yml = path.join(configs, "dare-ties.yml");
    const printed = runCli(["from-mergekit", yml, "cli-script"], { cwd: work });
    expect(printed.stderr).toBe("");
    expect(printed.code).toBe(0);
    expect(printed.stdout).toBe(mergekitToScript(fs.readFileSync(yml, "utf8"), { file: yml, outDir: "cli-script" }));
    fs.writeFileSync(path.join(work, "cli.mlab"), printed.stdout);
    const viaYaml = runCli(["run", yml, "cli-yaml", "--quiet"], { cwd: work });
    expect(viaYaml.stderr).toBe("");
    expect(viaYaml.code).toBe(0);
    const viaScript = runCli(["run", "cli.mlab", "--quiet"], { cwd: work });
    expect(viaScript.stderr).toBe("");
    expect(viaScript.code).toBe(0);
    const inProcess = readTensors(path.join(work, "dare-ties-yaml"));
    expect(tensorDifferences(readTensors(path.join(work, "cli-yaml")), inProcess)).toEqual([]);
    expect(tensorDifferences(readTensors(path.join(work, "cli-script")), inProcess)).toEqual([]);
  });
});

/** "inf", "-inf", "nan" as expected.json spells them. */
const decode = (s: string) => (s === "inf" ? Infinity : s === "-inf" ? -Infinity : s === "nan" ? NaN : Number(s));

describe("mergekit configs: what the outputs hold", () => {
  it("linear with equal weights is the average of the three fixtures", () => {
    const out = path.join(work, "linear-yaml");
    const avg = expected["average-of-three"] as Record<string, { first_raw: string[] }>;
    expect(Object.keys(avg).length).toBe(9);
    for (const [name, e] of Object.entries(avg)) {
      const got = floats(out, name);
      e.first_raw.forEach((s, i) => {
        const want = decode(s);
        if (!Number.isFinite(want)) expect(got[i]).toBe(want);
        else expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
      });
    }
  });

  it("a passthrough frankenmerge renumbers layers: f32's 0–1, then f16's layer 1 as layer 2", () => {
    const out = readTensors(path.join(work, "passthrough-frankenmerge-yaml"));
    const f32 = readTensors(path.join(work, "models/f32.safetensors"));
    expect([...out.keys()].filter((n) => n.includes("layers.2.")).length).toBe(3);
    expect(out.has("model.layers.3.mlp.up_proj.weight")).toBe(false);
    for (const t of ["input_layernorm", "mlp.up_proj", "self_attn.q_proj"]) {
      expect(out.get(`model.layers.0.${t}.weight`)!.raw.equals(f32.get(`model.layers.0.${t}.weight`)!.raw)).toBe(true);
      expect(out.get(`model.layers.1.${t}.weight`)!.raw.equals(f32.get(`model.layers.1.${t}.weight`)!.raw)).toBe(true);
      // f16 → f32 is exact: layer 2 is f16's layer 1, value for value
      expect([...floats(path.join(work, "passthrough-frankenmerge-yaml"), `model.layers.2.${t}.weight`)]).toEqual([
        ...floats(path.join(work, "models/f16"), `model.layers.1.${t}.weight`),
      ]);
    }
    // embeddings from the first slice, final norm and lm_head from the last (mergekit's rule)
    expect(out.get("model.embed_tokens.weight")!.raw.equals(f32.get("model.embed_tokens.weight")!.raw)).toBe(true);
    expect([...floats(path.join(work, "passthrough-frankenmerge-yaml"), "lm_head.weight")]).toEqual([...floats(path.join(work, "models/f16"), "lm_head.weight")]);
  });

  it("the building-block spelling used for per-model densities is the method itself when the values agree", async () => {
    const yaml = (d2: number) =>
      `models:\n  - model: models/bf16\n    parameters: {weight: 0.7, density: 0.5}\n  - model: models/f16\n    parameters: {weight: 0.3, density: ${d2}}\n` +
      "merge_method: ties\nbase_model: models/f32.safetensors\nparameters: {lambda: 0.8}\n";
    const blocks = mergekitToScript(yaml(0.25), { outDir: "blocks" }).replace('k=0.25, ties="index")', 'k=0.5, ties="index")');
    expect(blocks).toContain("merged = base + 0.8 * disjoint_mean(tv, weights=[0.7, 0.3], normalize=true)");
    const method = mergekitToScript(yaml(0.5), { outDir: "method" });
    expect(method).toContain('merged = ties([bf16, f16], base=base, weights=[0.7, 0.3], k=0.5, ties="index", λ=0.8, normalize=true)');
    fs.writeFileSync(path.join(work, "blocks.mlab"), blocks);
    fs.writeFileSync(path.join(work, "method.mlab"), method);
    expect(await runVerb(["blocks.mlab", "--quiet"])).toBe(0);
    expect(await runVerb(["method.mlab", "--quiet"])).toBe(0);
    expect(tensorDifferences(readTensors(path.join(work, "blocks")), readTensors(path.join(work, "method")))).toEqual([]);
  });

  it("passthrough scale with a filter zeroes self_attn and copies the rest", () => {
    const out = readTensors(path.join(work, "passthrough-scale-yaml"));
    const f16 = readTensors(path.join(work, "models/f16"));
    for (const [name, t] of out) {
      if (name.includes("self_attn")) expect(floats(path.join(work, "passthrough-scale-yaml"), name).every((x) => x === 0)).toBe(true);
      else expect(t.raw.equals(f16.get(name)!.raw)).toBe(true);
    }
  });

  it("the output is a normal directory: config copied from the base, a model card", () => {
    const out = path.join(work, "slerp-models-yaml");
    expect(JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8")).model_type).toBe("llama");
    const card = fs.readFileSync(path.join(out, "README.md"), "utf8");
    expect(card).toMatch(/^---\n/);
    expect(card).toContain("- mergelab");
    expect(card).toContain("merge_method: slerp"); // the mergekit config it came from
  });
});

describe("mergekit configs: the script's names", () => {
  it("a variable per model path, never shadowing the language's names", () => {
    const yaml = "models:\n  - model: x/tv\n    parameters: {weight: 1}\n  - model: y/load\n    parameters: {weight: 1}\n" +
      "  - model: z/9b-it\n    parameters: {weight: 1}\n  - model: w/load/\n    parameters: {weight: 2}\nmerge_method: linear\n";
    const script = mergekitToScript(yaml, { outDir: "o" });
    expect(script).toContain('tv_model = load("x/tv")\nload_model = load("y/load")\nm_9b_it = load("z/9b-it")\nload_model_2 = load("w/load/")\n');
    expect(script).toContain("merged = linear([tv_model, load_model, m_9b_it, load_model_2], weights=[1, 1, 1, 2], normalize=true)\n");
  });
});

/** `file:line:col: error: message` of translating `yaml`. */
function translateError(yaml: string): string {
  try {
    mergekitToScript(yaml, { file: "config.yml" });
  } catch (e) {
    if (e instanceof MergelabError) return formatError(e);
    throw e;
  }
  throw new Error("expected an error");
}

describe("mergekit configs: errors point at the YAML line", () => {
  const two = "models:\n  - model: a\n    parameters:\n      weight: 1\n  - model: b\n    parameters:\n      weight: 1\n";
  const cases: Array<[string, string, RegExp]> = [
    ["a method mergekit does not have", "models:\n  - model: a\nmerge_method: average_all\n", /^config\.yml:3:15: error: merge_method 'average_all' is not a merge method mergelab knows; it translates: linear, /],
    ["a misspelt method", "models:\n  - model: a\nmerge_method: tiez\n", /^config\.yml:3:15: error: .*\(did you mean 'ties'\?\)/],
    ["a tokens: entry from a model not merged", `${two}merge_method: linear\ntokenizer:\n  source: union\n  tokens:\n    "<x>":\n      source: models/other\n`, /^config\.yml:13:15: error: token source 'models\/other' is not one of the merged models/],
    ["a tokenizer source that is not a merged model", `${two}merge_method: linear\ntokenizer_source: models/other\n`, /^config\.yml:9:19: error: tokenizer source 'models\/other' is not one of the merged models/],
    ["a chat_template that is not a string", `${two}merge_method: linear\nchat_template: [chatml]\n`, /^config\.yml:9:16: error: chat_template: expected auto, a built-in template name/],
    ["a missing weight", "models:\n  - model: a\n    parameters:\n      weight: 1\n  - model: b\nmerge_method: ties\nbase_model: base\n", /^config\.yml:5:5: error: 'weight' is required for ties/],
    ["an unknown top-level key", "models:\n  - model: a\nmerge_methd: ties\n", /^config\.yml:3:1: error: unknown key 'merge_methd' \(did you mean 'merge_method'\?\)/],
    ["an unknown parameter", "models:\n  - model: a\n    parameters:\n      wieght: 1\nmerge_method: linear\n", /^config\.yml:4:7: error: unknown parameter 'wieght' \(did you mean 'weight'\?\)/],
    ["invalid YAML", "models:\n  - model: a\n   parameters: x\nmerge_method: linear\n", /^config\.yml:3:\d+: error: invalid YAML: bad indentation/],
    ["a reversed layer_range", "slices:\n  - sources:\n      - model: a\n        layer_range: [4, 2]\nmerge_method: passthrough\n", /^config\.yml:4:22: error: layer_range must be \[START, END\]/],
    ["a malformed LoRA reference", "models:\n  - model: org/model+\n    parameters: {weight: 1}\nmerge_method: linear\n", /^config\.yml:2:12: error: 'org\/model\+': expected MODEL\+LORA/],
    ["a filtered t without a default", "models:\n  - model: a\n  - model: b\nmerge_method: slerp\nbase_model: a\nparameters:\n  t:\n    - filter: mlp\n      value: 0.3\n", /^config\.yml:7:3: error: t: add a default entry/],
    ["slerp of three models", "models:\n  - model: a\n  - model: b\n  - model: c\nmerge_method: slerp\nbase_model: a\nparameters: {t: 0.5}\n", /^config\.yml:1:1: error: slerp merges exactly two models/],
    ["both models and slices", "models:\n  - model: a\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 1]\nmerge_method: passthrough\n", /^config\.yml:3:1: error: give either 'models' or 'slices', not both/],
    ["an unsupported dtype", `${two}merge_method: linear\ndtype: int8\n`, /^config\.yml:9:8: error: dtype: "int8" is not a dtype mergelab writes/],
  ];
  for (const [what, yaml, message] of cases) {
    it(what, () => expect(translateError(yaml)).toMatch(message));
  }

  it("when running, a model path that does not exist is reported at its YAML line", () => {
    const yaml = "models:\n  - model: models/f16\n    parameters: {weight: 1}\n  - model: models/nope\n    parameters: {weight: 1}\nmerge_method: linear\n";
    expect(() => mergekitToScript(yaml, { file: "c.yml", checkPathsIn: work })).toThrow(/models\/nope: no such checkpoint/);
    const e = (() => {
      try {
        mergekitToScript(yaml, { file: "c.yml", checkPathsIn: work });
      } catch (err) {
        return formatError(err as MergelabError);
      }
    })();
    expect(e).toMatch(/^c\.yml:4:12: error: models\/nope: no such checkpoint/);
    expect(mergekitToScript(yaml, { file: "c.yml" })).toContain('nope = load("models/nope")'); // printing does not look at the disk
  });

  it("the CLI prints the located error, no stack, and writes nothing", () => {
    const bad = path.join(work, "bad.yml");
    fs.writeFileSync(bad, "models:\n  - model: models/f16\n    parameters:\n      weight: 1\nmerge_method: linear\ntokenizer:\n  tokens:\n    x: {force: true}\n");
    for (const args of [["run", bad, "bad-out"], ["from-mergekit", bad]]) {
      const r = runCli(args, { cwd: work });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:8:\\d+: error: token 'x': needs a source: .*mergekit cannot build it either\n$`));
      expect(r.stdout).toBe("");
    }
    expect(fs.existsSync(path.join(work, "bad-out"))).toBe(false);
  });
});

describe("errors found when checking the translated script are reported at the YAML line", () => {
  /** models/odd.safetensors: the f32 fixture with layer 1's up_proj stored as [8, 12] instead of [12, 8]. */
  function writeOddCheckpoint(): void {
    const src = openCheckpoint(path.join(work, "models/f32.safetensors"));
    try {
      const shape = (t: { name: string; shape: readonly number[] }) => (t.name === "model.layers.1.mlp.up_proj.weight" ? [...t.shape].reverse() : [...t.shape]);
      const w = CheckpointWriter.create(path.join(work, "models/odd.safetensors"), src.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: shape(t) })), { overwrite: true });
      for (const t of src.tensors) w.writeRaw(t.name, 0, src.readRaw(t.name, 0, t.byteLength));
      w.commit();
    } finally {
      src.close();
    }
  }
  const yaml = [
    "models:",
    "  - model: models/f16",
    "    parameters: {weight: 1}",
    "  - model: models/odd.safetensors",
    "    parameters: {weight: 1}",
    "merge_method: linear",
    "",
  ].join("\n");
  const message = "tensor 'model.layers.1.mlp.up_proj.weight': shape [12, 8] in models/f16 but [8, 12] in models/odd.safetensors";

  it("a shape mismatch points at the entry of the model whose tensor disagrees", () => {
    writeOddCheckpoint();
    const yml = path.join(work, "odd.yml");
    fs.writeFileSync(yml, yaml);
    const r = runCli(["run", yml, "odd-out"], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${yml}:4:12: error: ${message}\n  - model: models/odd.safetensors\n           ^\n`);
    expect(r.stdout).toBe("");
    expect(fs.existsSync(path.join(work, "odd-out"))).toBe(false);
    const checked = runCli(["check", yml], { cwd: work });
    expect(checked.code).toBe(1);
    expect(checked.stderr).toBe(r.stderr);
  });

  it("the line map: load lines at their model entry, the merge at merge_method, the blamed model by the message", () => {
    const t = translateMergekit(yaml, { file: "c.yml" });
    const lines = t.script.split("\n");
    const at = (needle: string, msg = "boom") => {
      const line = lines.findIndex((l) => l.startsWith(needle)) + 1;
      expect(line).toBeGreaterThan(0);
      const loc = t.locate({ file: "c.yml", line, col: 1 }, msg);
      return `${loc.line}:${loc.col}`;
    };
    expect(at('odd = load("models/odd.safetensors")')).toBe("4:12");
    expect(at('f16 = load("models/f16")')).toBe("2:12");
    expect(at("merged = linear(")).toBe("6:15");
    expect(at("merged = linear(", message)).toBe("4:12");
    expect(at("merged = linear(", "tensor 'x' is in models/odd.safetensors but missing from models/f16")).toBe("4:12");
    expect(at("save(merged")).toBe("6:15");
  });
});
