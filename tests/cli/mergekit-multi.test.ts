/**
 * mergekit config features beyond one merge: multi-document configs (mergekit-multi, scripts/multimerge.py:
 * several merges, later ones naming earlier ones as models) run as one script; a slice's own base_model;
 * a lambda gradient with per-model densities. Errors at FILE:LINE:COL of the document they are in.
 */
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers.js";
import { splitDocuments, translateMergekit } from "../../cli/mergekit.js";
import { formatError } from "../../cli/format.js";
import { MergelabError } from "../../core/errors.js";
import { fixtureWorkspace, readTensors, tensorDifferences } from "./checkpoints.js";

let work: string;
beforeAll(() => {
  work = fixtureWorkspace("mergelab-mkmulti-");
});

function translateError(yaml: string): string {
  try {
    translateMergekit(yaml, { file: "multi.yml" });
  } catch (e) {
    if (e instanceof MergelabError) return formatError(e);
    throw e;
  }
  return "(no error)";
}

const first = "name: first\nmerge_method: linear\nmodels:\n  - model: models/f16\n  - model: models/f32.safetensors\nparameters:\n  weight: 0.5\n";
const second = "name: second\nmerge_method: slerp\nbase_model: first\nmodels:\n  - model: models/bf16\nparameters:\n  t: 0.3\n";
const final = "merge_method: task_arithmetic\nbase_model: models/f32.safetensors\nmodels:\n  - model: second\n    parameters: {weight: 0.7}\n  - model: models/f16\n    parameters: {weight: 0.2}\ndtype: float32\n";

describe("multi-document configs (mergekit-multi)", () => {
  it("splits on --- lines; positions stay those of the file; comment-only documents are left out", () => {
    const docs = splitDocuments(`# header\n---\n${first}---\n${second}...\n`);
    expect(docs).toHaveLength(2);
    expect(docs[1].split("\n")[10]).toBe("name: second"); // line 11 of the file
    expect(docs[0].split("\n")[10]).toBe("");
    expect(splitDocuments(first)).toEqual([]);
    // one document that starts with (or ends with) a marker is still one document
    expect(splitDocuments(`---\n${first}`)).toHaveLength(1);
    expect(splitDocuments(`# c\n---\n${first}---\n# nothing\n`)).toHaveLength(1);
    for (const text of [`---\n${first}`, `# c\n---\n${first}---\n# nothing\n...\n`]) {
      expect(translateMergekit(text, { outDir: "OUT" }).script).toContain("merged = linear([f16, f32], weights=[0.5, 0.5], normalize=true)");
    }
    expect(translateError(`# c\n---\n${first.replace("weight: 0.5", "wieght: 0.5")}---\n`)).toMatch(/^multi\.yml:9:3: error: unknown parameter 'wieght'/);
  });

  it("one script: dependency order (a merge may come before the one it uses), named results in variables, the unnamed one saved", () => {
    const { script } = translateMergekit(`${final}---\n${second}---\n${first}`, { file: "multi.yml", outDir: "OUT" });
    const body = script.split("\n").filter((l) => !l.startsWith("#") && l !== "");
    expect(body).toEqual([
      'f16 = load("models/f16")',
      'f32 = load("models/f32.safetensors")',
      "merged = linear([f16, f32], weights=[0.5, 0.5], normalize=true)",
      "first = merged",
      'bf16 = load("models/bf16")',
      "merged = slerp(first, bf16, t=0.3)",
      "second = merged",
      'base = load("models/f32.safetensors")',
      'f16 = load("models/f16")',
      "merged = task_arithmetic([second, f16], base=base, weights=[0.7, 0.2], λ=1, normalize=false)",
      'save(merged, "OUT", dtype="f32")',
    ]);
  });

  it("--intermediate-dir saves each named merge to DIR/NAME; without an unnamed merge OUT is that directory", () => {
    const withDir = translateMergekit(`${first}---\n${final.replace("model: second", "model: first")}`, { outDir: "OUT", run: { intermediateDir: "inter" } }).script;
    expect(withDir).toContain(`save(merged, ${JSON.stringify(path.join("inter", "first"))}, overwrite=true)`);
    const allNamed = translateMergekit(`${first}---\n${second}`, { outDir: "OUT" }).script;
    expect(allNamed).toContain(`save(merged, ${JSON.stringify(path.join("OUT", "first"))}, overwrite=true)`);
    expect(allNamed).toContain(`save(merged, ${JSON.stringify(path.join("OUT", "second"))}, overwrite=true)`);
  });

  it("a bfloat16 named merge is rounded to bfloat16 as mergekit writes and re-reads it; a float16 one says it is not", () => {
    const bf16 = translateMergekit(`${first}dtype: bfloat16\n---\n${final.replace("model: second", "model: first")}`, { outDir: "OUT" }).script;
    expect(bf16).toContain("first = 65537 * merged\nfirst = first - (first - merged)\n");
    const f16 = translateMergekit(`${first}dtype: float16\n---\n${final.replace("model: second", "model: first")}`, { outDir: "OUT" }).script;
    expect(f16).toMatch(/^# first is used below as computed \(float32\); mergekit re-reads it from its f16 files\nfirst = merged$/m);
  });

  it("the bfloat16 rounding is torch's float32 → bfloat16, ties to even included", async () => {
    // values whose low 16 bits are exactly half a bfloat16 ulp (ties), and ordinary ones, both signs
    const f32 = new Float32Array(4096);
    const bits = new Uint32Array(f32.buffer);
    for (let i = 0; i < bits.length; i++) {
      const exponent = 100 + (i % 60); // 2^-27 … 2^32
      const mantissa = (Math.imul(i, 2654435761) >>> 9) & 0x7f0000;
      bits[i] = ((i % 3 ? 0 : 0x80000000) | (exponent << 23) | mantissa | (i % 2 ? 0x8000 : Math.imul(i, 40503) & 0xffff)) >>> 0;
    }
    const { compute, run, tiny } = await import("../stdlib/methods/harness.js");
    const x = tiny({ w: Array.from(f32) }, "x");
    const c = run("passthrough", { x, scale: 65537 });
    const rounded = (await compute(run("linear", { xs: [c, run("linear", { xs: [c, x], weights: [1, -1], normalize: false })], weights: [1, -1], normalize: false }))).w!;
    const want = Array.from(bits, (b) => {
      // round to nearest even on the top 16 bits (torch's float32 → bfloat16)
      const lsb = (b >>> 16) & 1;
      const r = (b + 0x7fff + lsb) >>> 0;
      return new Float32Array(new Uint32Array([r & 0xffff0000]).buffer)[0]!;
    });
    expect(Array.from(rounded)).toEqual(want);
  });

  const cases: Array<[string, string, RegExp]> = [
    ["a duplicate name, at the second one", `${first}---\n${first}`, /^multi\.yml:9:7: error: duplicate merge name 'first'$/],
    ["two unnamed merges, at the second", `${first}---\n${final}---\n${final}`, /^multi\.yml:18:1: error: a second merge without 'name:': mergekit-multi runs at most one unnamed/],
    [
      "a cycle, at the name that closes it",
      `${first.replace("models/f16", "second")}---\n${second}`,
      /^multi\.yml:\d+:7: error: circular dependency: (first → second → first|second → first → second)$/,
    ],
    ["an error in a later document, at its own line", `${first}---\n${second.replace("t: 0.3", "tt: 0.3")}`, /^multi\.yml:15:3: error: unknown parameter 'tt' \(did you mean 't'\?\)$/],
    ["invalid YAML in a later document", `${first}---\nmodels:\n  - model: a\n   parameters: x\n`, /^multi\.yml:11:\d+: error: invalid YAML/],
  ];
  for (const [what, yaml, message] of cases) it(what, () => expect(translateError(yaml)).toMatch(message));

  it("runs as one script: the result equals mergekit-multi's way (each merge saved, then read back by the next), bit for bit", () => {
    const multi = path.join(work, "multi.yml");
    fs.writeFileSync(multi, `${first}---\n${second}---\n${final}`);
    const r = runCli(["run", multi, "out-multi", "--quiet", "-I", "inter"], { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(work, "inter/first/config.json"))).toBe(true);
    expect(fs.existsSync(path.join(work, "inter/second/config.json"))).toBe(true);
    // a second run rewrites the intermediates (mergekit-multi's directory), and still needs --overwrite for OUT
    expect(runCli(["run", multi, "out-multi", "--quiet", "-I", "inter"], { cwd: work }).stderr).toMatch(/out-multi: output exists and is not empty/);
    expect(runCli(["run", multi, "out-multi", "--quiet", "-I", "inter", "--overwrite"], { cwd: work }).code).toBe(0);
    // the same three configs run one by one, each reading the previous one's saved float32 output
    const steps: Array<[string, string]> = [
      ["s1.yml", first.replace("name: first\n", "") + "dtype: float32\n"],
      ["s2.yml", second.replace("name: second\n", "").replace("base_model: first", "base_model: step1") + "dtype: float32\n"],
      ["s3.yml", final.replace("model: second", "model: step2")],
    ];
    steps.forEach(([f, text], i) => {
      fs.writeFileSync(path.join(work, f), text);
      const s = runCli(["run", path.join(work, f), i === 2 ? "step3" : `step${i + 1}`, "--quiet"], { cwd: work });
      expect(s.code, s.stderr).toBe(0);
    });
    expect(tensorDifferences(readTensors(path.join(work, "out-multi")), readTensors(path.join(work, "step3")))).toEqual([]);
    expect(tensorDifferences(readTensors(path.join(work, "inter/second")), readTensors(path.join(work, "step2")))).toEqual([]);
  });

  it("a missing model in a later document is reported at its line when running", () => {
    const multi = path.join(work, "missing.yml");
    fs.writeFileSync(multi, `${first}---\n${final.replace("model: second", "model: first").replace("models/f16", "models/nope")}`);
    const r = runCli(["run", multi, "out-missing"], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${multi.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:14:12: error: models/nope: no such checkpoint`));
    expect(fs.existsSync(path.join(work, "out-missing"))).toBe(false);
  });
});

describe("a slice's own base_model", () => {
  const yaml = (sliceBase: string) =>
    "slices:\n  - sources:\n      - model: models/f16\n        layer_range: [0, 1]\n      - model: models/f32.safetensors\n        layer_range: [0, 1]\n" +
    "  - sources:\n      - model: models/f16\n        layer_range: [1, 2]\n      - model: models/bf16\n        layer_range: [1, 2]\n" +
    `    base_model: ${sliceBase}\n    residual_weight: 0.3\nmerge_method: task_arithmetic\nbase_model: models/f32.safetensors\nparameters: {weight: 0.5}\n`;
  it("overrides the global base in its slice only", () => {
    const { script } = translateMergekit(yaml("models/bf16"), { outDir: "OUT" });
    expect(script).toContain("part1 = task_arithmetic([slice(f16, 0, 1)], base=slice(base, 0, 1), weights=[0.5], λ=1, normalize=false)");
    expect(script).toContain("part2 = task_arithmetic([slice(f16, 1, 2)], base=slice(bf16, 1, 2), weights=[0.5], λ=1, normalize=false)");
  });
  it("must be one of the slice's sources (mergekit fails otherwise)", () => {
    expect(translateError(yaml("models/other"))).toMatch(/^multi\.yml:12:17: error: this slice's base_model 'models\/other' is not one of its sources/);
  });
});

describe("a lambda gradient with per-model densities", () => {
  it("scales the merged task vector per tensor", () => {
    const yaml = "models:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n  - model: b\n    parameters: {weight: 1, density: 0.3}\nmerge_method: ties\nbase_model: base\nparameters:\n  lambda: [1, 0.5]\n";
    const { script } = translateMergekit(yaml, { outDir: "OUT" });
    expect(script).toContain("merged = base + passthrough(disjoint_mean(tv, weights=[1, 1], normalize=true), scale=layers([1, 0.5]))");
  });
});

describe("modules: (mergekit's per-module form)", () => {
  const yaml = "modules:\n  default:\n    models:\n      - model: a\n        parameters: {weight: 1}\n      - model: b\n    parameters:\n      weight: 0.5\n      density: 0.4\nmerge_method: ties\nbase_model: base\nparameters:\n  density: 0.9\n";
  it("the single module 'default' is the models/slices form; its parameters come after the models' and before the global ones", () => {
    expect(translateMergekit(yaml, { outDir: "OUT" }).script).toContain('merged = ties([a, b], base=base, weights=[1, 0.5], k=0.4, ties="index", λ=1, normalize=true)');
  });
  it("errors point into the module", () => {
    expect(translateError(yaml.replace("weight: 0.5", "wieght: 0.5"))).toMatch(/^multi\.yml:8:7: error: unknown parameter 'wieght' \(did you mean 'weight'\?\)/);
    expect(translateError(yaml.replace("  default:", "  vision_tower:"))).toMatch(/^multi\.yml:2:3: error: module 'vision_tower': the architectures mergelab merges have one module, 'default'/);
    expect(translateError(yaml.replace("modules:", "models:\n  - model: x\nmodules:"))).toMatch(/^multi\.yml:\d+:\d+: error: give one of 'models', 'slices' or 'modules'/);
  });
});
