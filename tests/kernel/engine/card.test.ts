/**
 * The model card (README.md of every output): mergekit's shape — YAML front
 * matter for the Hub, method with its paper, the models, the recipe — and it
 * is written by save().
 */
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { cardForSave, methodsInRecipe, modelCard, toolVersion } from "../../../kernel/engine/card.js";
import { run } from "../../../dsl/index.js";
import { fixtureWorkspace } from "../../cli/checkpoints.js";

const TIES = { title: "TIES-Merging (Yadav et al., 2023)", url: "https://arxiv.org/abs/2306.01708" };
const papers = new Map([["ties", TIES], ["linear", undefined]]);

const recipe = `# an experiment
base = load("models/base")
experts = [load("models/a"), load("models/b")]
m = ties(experts, base=base, k=0.3, λ=1)   # trim 70%
save(m, "out/ties", dtype="bf16")
`;

function frontMatter(card: string): Record<string, unknown> {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(card);
  expect(m).not.toBeNull();
  return yaml.load(m![1]) as Record<string, unknown>;
}

describe("model card", () => {
  const card = cardForSave({
    target: "/w/out/ties",
    cwd: "/w",
    inputs: ["/w/models/base", "/w/models/a", "/w/models/b", "/w/models/a"],
    dtype: "bf16",
    recipe: { text: recipe },
    papers,
    date: "2026-01-02T03:04:05.000Z",
  });

  it("front matter: base_model lists the inputs, tags merge and mergelab", () => {
    expect(frontMatter(card)).toEqual({
      base_model: ["models/base", "models/a", "models/b"],
      library_name: "transformers",
      tags: ["merge", "mergelab"],
    });
  });

  it("names the method with its paper, the base, the merged models and the parameters", () => {
    expect(card).toContain("# ties\n");
    expect(card).toContain("This model was merged using the [ties](https://arxiv.org/abs/2306.01708) merge method using models/base as a base.");
    expect(card).toContain("The following models were included in the merge:\n* models/a\n* models/b\n");
    expect(card).toContain("- `ties(experts, base=base, k=0.3, λ=1)`");
  });

  it("holds the recipe verbatim, the tool version and the date", () => {
    expect(card).toContain("```python\n" + recipe.trimEnd() + "\n```");
    expect(card).toContain(`- tool: mergelab ${toolVersion()}`);
    expect(toolVersion()).toBe(JSON.parse(fs.readFileSync(new URL("../../../package.json", import.meta.url), "utf8")).version);
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

  it("finds each method once, ignoring comments", () => {
    const found = methodsInRecipe("# ties(x)\na = linear([x, y], weights=[1, 2])\nb = linear([y])\nc = ties(z, base=w)\n", papers);
    expect(found.map((m) => [m.name, m.call])).toEqual([
      ["linear", "linear([x, y], weights=[1, 2])"],
      ["ties", "ties(z, base=w)"],
    ]);
  });

  it("save() writes it into the output directory", async () => {
    const work = fixtureWorkspace("mergelab-card-");
    const script = 'm = linear([load("models/f16"), load("models/bf16")], weights=[1, 3])\nsave(m, "merged")\n';
    await run(script, { cwd: work, file: "card.mlab", options: { quiet: true, recipe: { text: script } } });
    const written = fs.readFileSync(path.join(work, "merged/README.md"), "utf8");
    expect(frontMatter(written).base_model).toEqual(["models/f16", "models/bf16"]);
    expect(written).toContain("`linear([load(\"models/f16\"), load(\"models/bf16\")], weights=[1, 3])`");
    expect(written).toContain(script.trimEnd());
    // the copied config is the first model's; the card is not copied from it
    expect(fs.readdirSync(path.join(work, "merged")).sort()).toEqual(["README.md", "config.json", "model.safetensors"]);
  });
});
