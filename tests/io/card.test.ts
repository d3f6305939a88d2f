/**
 * The model card (README.md of every output): mergekit's shape — YAML front
 * matter for the Hub, method with its paper, the models, the recipe — built
 * from the saved model's merge steps (engine/save.ts), never from script text,
 * and written by save().
 */
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { modelCard } from "../../io/card.js";
import { cardFor } from "../../engine/save.js";
import { loadModel, type ModelValue } from "../../engine/model.js";
import { VERSION } from "../../core/version.js";
import { invoke } from "../../stdlib/methods/define.js";
import { lookup } from "../../stdlib/registry.js";
import { run } from "../../dsl/index.js";
import { fixtureWorkspace } from "../cli/checkpoints.js";

const tiesSpec = lookup("ties")!;

const recipe = `# an experiment
base = load("models/f16")
experts = [load("models/bf16"), load("models/f32.safetensors")]
m = ties(experts, base=base, k=0.3, λ=1)   # trim 70%
save(m, "out/ties", dtype="bf16")
`;

function frontMatter(card: string): Record<string, unknown> {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(card);
  expect(m).not.toBeNull();
  return yaml.load(m![1]) as Record<string, unknown>;
}

describe("model card, built from the saved model's plan", () => {
  const work = fixtureWorkspace("mergelab-card-");
  // the script's own words (variable names, comments) are not what the card describes: the plan is
  const base = loadModel("models/f16", { cwd: work });
  const experts = [loadModel("models/bf16", { cwd: work }), loadModel("models/f32.safetensors", { cwd: work })];
  const m = invoke(tiesSpec, { xs: experts, base, k: 0.3, lambda: 1 }) as ModelValue;
  const card = cardFor(m, { path: "out/ties", cwd: work, dtype: "bf16", recipe: { text: recipe }, date: "2026-01-02T03:04:05.000Z" });

  it("front matter: base_model lists the inputs, tags merge and mergelab", () => {
    expect(frontMatter(card)).toEqual({
      base_model: ["models/f16", "models/bf16", "models/f32.safetensors"],
      library_name: "transformers",
      tags: ["merge", "mergelab"],
    });
  });

  it("names the method with its paper, the base, the merged models and the parameters", () => {
    expect(card).toContain("# ties\n");
    expect(card).toContain("This model was merged using the [ties](https://arxiv.org/abs/2306.01708) merge method using models/f16 as a base.");
    expect(card).toContain("The following models were included in the merge:\n* models/bf16\n* models/f32.safetensors\n");
    // the resolved parameters, defaults included
    expect(card).toMatch(/- `ties\(\[models\/bf16, models\/f32\.safetensors\], base=models\/f16, k=0\.3, scope="tensor", ties="keep", rescale=false, λ=1, normalize=true\)`/);
  });

  it("holds the recipe verbatim, the tool version and the date", () => {
    expect(card).toContain("```python\n" + recipe.trimEnd() + "\n```");
    expect(card).toContain(`- tool: mergelab ${VERSION}`);
    expect(VERSION).toBe(JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version);
    expect(card).toContain("- date: 2026-01-02T03:04:05.000Z");
    expect(card).toContain("- dtype: bf16");
  });

  it("a recipe containing backticks cannot close its code fence", () => {
    const c = modelCard({ name: "x", inputs: [], methods: [], recipe: 'print("```")', version: "0", date: "d" });
    expect(c).toContain('````python\nprint("```")\n````');
  });

  it("quotes paths YAML would misread", () => {
    const c = modelCard({ name: "x", inputs: ["yes", "a: b", "models/ok"], methods: [], version: "0", date: "d" });
    expect(frontMatter(c).base_model).toEqual(["yes", "a: b", "models/ok"]);
  });

  it("describes exactly the saved model: methods used only by other saves are not listed", async () => {
    const work2 = fixtureWorkspace("mergelab-card-");
    const script = 'a = load("models/f16")\nb = load("models/bf16")\nx = linear([a, b])\ny = task_arithmetic([b], base=a, λ=0.5)\nsave(x, "x")\nsave(y, "y")\n';
    await run(script, { cwd: work2, file: "two.mlab", options: { quiet: true, recipe: { text: script } } });
    const x = fs.readFileSync(path.join(work2, "x/README.md"), "utf8");
    const y = fs.readFileSync(path.join(work2, "y/README.md"), "utf8");
    expect(x).toMatch(/merged using the \[linear\]\([^)]*\) merge method\./);
    expect(x).not.toContain("- `task_arithmetic("); // the recipe (the whole script) is quoted verbatim; the card lists only this model's calls
    expect(y).toMatch(/merged using the \[task_arithmetic\]\([^)]*\) merge method using models\/f16 as a base\./);
    expect(y).not.toContain("- `linear(");
    for (const text of [x, y]) expect(text).not.toContain(work2);
  });

  it("save() writes it into the output directory", async () => {
    const work = fixtureWorkspace("mergelab-card-");
    const script = 'm = linear([load("models/f16"), load("models/bf16")], weights=[1, 3])\nsave(m, "merged")\n';
    await run(script, { cwd: work, file: "card.mlab", options: { quiet: true, recipe: { text: script } } });
    const written = fs.readFileSync(path.join(work, "merged/README.md"), "utf8");
    expect(frontMatter(written).base_model).toEqual(["models/f16", "models/bf16"]);
    expect(written).toContain("`linear([models/f16, models/bf16], weights=[1, 3], normalize=true)`");
    expect(written).toContain(script.trimEnd());
    // the copied config is the first model's; the card is not copied from it
    expect(fs.readdirSync(path.join(work, "merged")).sort()).toEqual(["README.md", "config.json", "model.safetensors"]);
  });
});
