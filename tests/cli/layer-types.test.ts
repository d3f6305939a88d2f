// Issue #12: a stack of slices writes a config.json whose per-layer lists (layer_types, as Qwen2/Gemma2/3 configs
// carry; transformers refuses a layer_types whose length is not num_hidden_layers) follow the layers written.
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyFixture } from "../io/st-files.js";
import { fixtures, runCli, tempDir } from "../helpers.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe("layer_types after slices and stacks", () => {
  it("each output layer takes the entry of the source layer it came from, through nested slices", () => {
    const dir = tempDir();
    dirs.push(dir);
    const model = path.join(dir, "models", "a");
    fs.mkdirSync(path.dirname(model), { recursive: true });
    fs.renameSync(copyFixture(path.join(fixtures, "tiny-llama-f16"), tempDir()), model);
    const cfg = JSON.parse(fs.readFileSync(path.join(model, "config.json"), "utf8"));
    fs.writeFileSync(path.join(model, "config.json"), JSON.stringify({ ...cfg, layer_types: ["sliding_attention", "full_attention"] }));
    // layers: [1] + [0, 1] + [1] (the last through a slice of a stack)
    const script = 'a = load("models/a")\ns = stack([slice(a, 1, 2), a])\nsave(stack([s, slice(s, 2, 3)]), "out")\n';
    fs.writeFileSync(path.join(dir, "s.merge"), script);
    const r = runCli(["run", "s.merge", "--quiet"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(fs.readFileSync(path.join(dir, "out", "config.json"), "utf8"));
    expect(out.num_hidden_layers).toBe(4);
    expect(out.layer_types).toEqual(["full_attention", "sliding_attention", "full_attention", "full_attention"]);
  });
});
