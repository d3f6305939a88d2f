// Per-tensor overhead (#17): a checkpoint of many small tensors plans with one shared template per
// graph shape (not one graph per tensor), and a 50k-tensor TIES merge explains and runs in a heap
// of 128 MB (before the templates it needed more than 300 MB to explain). The checkpoints are
// written here byte by byte (8-byte length, JSON header, data), not by mergelab's writer.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, mapTensors, type ModelValue } from "../../engine/model.js";
import { materializeArrays } from "../../engine/exec/index.js";
import { explainPlan } from "../../engine/plan.js";
import { repoRoot, tempDir } from "../helpers.js";
import { smallTensorName, writeSmallTensors } from "../io/st-files.js";

const tensorName = smallTensorName;

let dir: string;
beforeAll(() => {
  dir = tempDir("mergelab-scale-");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("plans of many tensors", () => {
  it("tensors with the same graph share one template; each job keeps its own inputs; results are per tensor", async () => {
    const n = 2000;
    const da = writeSmallTensors(path.join(dir, "two/a/model.safetensors"), n, 1);
    const db = writeSmallTensors(path.join(dir, "two/b/model.safetensors"), n, 2);
    const a = loadModel(path.join(dir, "two/a"));
    const b = loadModel(path.join(dir, "two/b"));
    // a kth statistic (3 passes) and a constant that depends on the layer (3, 4, …: no other constant's
    // value, so every graph has the same structure): one template per layer, one signature
    const m = mapTensors([a, b], (g, [x, y], t) => g.add(x, g.mul(g.where(g.binary("ge", g.abs(y), g.kth(g.abs(y), 2)), y, 0), (t.layer ?? 0) + 3)));
    const plan = explainPlan(m as ModelValue);
    const jobs = plan.computeJobs;
    expect(jobs).toHaveLength(n);
    const layers = n / 100;
    expect(new Set(jobs.map((j) => j.nodes)).size).toBe(layers);
    expect(new Set(jobs.map((j) => j.passes)).size).toBe(layers);
    expect(new Set(jobs.map((j) => j.signature)).size).toBe(1);
    expect(jobs[0].passes).toHaveLength(3);
    for (const j of [jobs[0], jobs[777], jobs[n - 1]]) {
      expect(Object.values(j.inputSources).map((s) => s.tensor)).toEqual([j.name, j.name]);
    }
    // explain groups by structure, as before the templates
    expect(plan.explainText()).toContain(`(and ${n - 1} more with the same graph)`);
    const out = await materializeArrays(m as ModelValue, { workers: 0 });
    for (const i of [0, 1, 777, n - 1]) {
      const x = da.subarray(4 * i, 4 * i + 4);
      const y = db.subarray(4 * i, 4 * i + 4);
      const top2 = [...y].map(Math.abs).sort((p, q) => q - p)[1];
      const want = Array.from(x, (v, k) => Math.fround(v + Math.fround((Math.abs(y[k]) >= top2 ? y[k] : 0) * (Math.floor(i / 100) + 3))));
      expect(Array.from(out[tensorName(i)].data as Float32Array), tensorName(i)).toEqual(want);
    }
  });

  it("a 50,000-tensor TIES merge explains and runs with a 128 MB heap", () => {
    const n = 50_000;
    const work = path.join(dir, "fifty");
    writeSmallTensors(path.join(work, "a/model.safetensors"), n, 3);
    writeSmallTensors(path.join(work, "b/model.safetensors"), n, 4);
    fs.writeFileSync(path.join(work, "s.merge"), 'a = load("a")\nb = load("b")\nsave(ties([a, b], base=a, k=0.5), "out")\n');
    const cli = (verb: string) =>
      spawnSync(process.execPath, ["--max-old-space-size=128", path.join(repoRoot, "bin/mergelab.js"), verb, "s.merge", "--quiet"], { cwd: work, encoding: "utf8", timeout: 120_000 });
    const explained = cli("explain");
    expect(explained.stderr).toBe("");
    expect(explained.status).toBe(0);
    expect(explained.stdout).toContain(`plan: 1 output model(s), ${n} tensors (${n} computed, 0 carried through)`);
    const ran = cli("run");
    expect(ran.stderr).toBe("");
    expect(ran.status).toBe(0);
    const file = path.join(work, "out/model.safetensors");
    const header = JSON.parse(fs.readFileSync(file).subarray(8, 8 + Number(fs.readFileSync(file).readBigUInt64LE(0))).toString("utf8"));
    expect(Object.keys(header).filter((k) => k !== "__metadata__")).toHaveLength(n);
  }, 150_000);
});
