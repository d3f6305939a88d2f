/**
 * What a save writes is shareable: a model saved from relative paths — by the CLI and by the language
 * in-process — carries no absolute path of this machine in its model card (README.md), its
 * safetensors `__metadata__`, or the model summary a notebook shows.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { fixtureWorkspace } from "../cli/checkpoints.js";
import { runCli } from "../helpers.js";
import { run } from "../../dsl/index.js";
import { loadModel } from "../../engine/model.js";

/** The JSON header of a .safetensors file, parsed here from its bytes (not with mergelab's reader). */
function header(file: string): Record<string, any> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
}

function assertNoMachinePaths(text: string, work: string): void {
  expect(text).not.toContain(work);
  expect(text).not.toMatch(/(^|["\s(=:])\/(tmp|work|home|root)\//m);
}

const script = 'base = load("models/f16")\nm = ties([load("models/bf16"), load("models/f32.safetensors")], base=base, k=0.5)\nsave(m, "out/merged")\n';

describe("nothing of this machine in a saved model", () => {
  it("mergelab run: card and __metadata__ name the inputs as written, relative to the working directory", () => {
    const work = fixtureWorkspace("mergelab-paths-");
    fs.writeFileSync(path.join(work, "exp.merge"), script);
    const r = runCli(["run", "exp.merge", "--quiet"], { cwd: work });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const card = fs.readFileSync(path.join(work, "out/merged/README.md"), "utf8");
    assertNoMachinePaths(card, work);
    expect(card).toContain("- models/f16\n- models/bf16\n- models/f32.safetensors\n");
    const meta = header(path.join(work, "out/merged/model.safetensors")).__metadata__ as Record<string, string>;
    for (const v of Object.values(meta)) assertNoMachinePaths(v, work);
    const inputs = JSON.parse(meta.mergelab_inputs!) as Array<{ path: string; headers: Record<string, string> }>;
    expect(inputs.map((i) => i.path).sort()).toEqual(["models/bf16", "models/f16", "models/f32.safetensors"]);
    // each input is identified by its header hashes, so a relative path still pins the exact bytes read
    for (const i of inputs) for (const h of Object.values(i.headers)) expect(h).toMatch(/^[0-9a-f]{64}$/);
  });

  it("inputs outside the working directory are written as ../ paths, never absolute", async () => {
    const work = fixtureWorkspace("mergelab-paths-");
    const sub = path.join(work, "experiments");
    fs.mkdirSync(sub);
    const s = script.replaceAll('"models/', '"../models/');
    await run(s, { cwd: sub, file: "exp.merge", options: { quiet: true, recipe: { text: s } } });
    const card = fs.readFileSync(path.join(sub, "out/merged/README.md"), "utf8");
    assertNoMachinePaths(card, work);
    expect(card).toContain("using ../models/f16 as a base");
    const meta = header(path.join(sub, "out/merged/model.safetensors")).__metadata__ as Record<string, string>;
    expect(JSON.parse(meta.mergelab_inputs!).map((i: { path: string }) => i.path).sort()).toEqual(["../models/bf16", "../models/f16", "../models/f32.safetensors"]);
    for (const v of Object.values(meta)) assertNoMachinePaths(v, work);
  });

  it("a model's summary shows its inputs relative to the working directory", () => {
    const work = fixtureWorkspace("mergelab-paths-");
    const before = process.cwd();
    process.chdir(work);
    try {
      const m = loadModel(path.join(work, "models/f16"));
      const shown = m.toMimeBundle();
      expect(String(shown["text/plain"])).toContain("inputs: models/f16");
      assertNoMachinePaths(String(shown["text/html"]), work);
    } finally {
      process.chdir(before);
    }
  });
});
