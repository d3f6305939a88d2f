/**
 * The scale study end to end, on the quick profile (2 sizes, 1 subset, few
 * steps), from an empty cache: real images → trained checkpoints on disk →
 * the merge-language grid → results JSON. Checks the pipeline and the
 * schema, not the scientific conclusions.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers.js";
import { runStudy, SCHEMA, type Results } from "../../../experiments/what-matters.js";
import { runGridTs } from "../../../experiments/grid.js";
import { computeFindings } from "../../../stdlib/eval/findings.js";
import { PROFILES, zooPaths, METHODS, BASE_KINDS, trainingKey } from "../../../stdlib/eval/study.js";
import { paramCount } from "../../../stdlib/eval/model.js";
import { taskPools } from "../../../stdlib/eval/tasks.js";

const profile = PROFILES.quick;
let dir: string;
let results: Results;
let seconds: number;

beforeAll(async () => {
  dir = tempDir("mergelab-what-matters-");
  const t0 = Date.now();
  results = await runStudy({ profile, out: path.join(dir, "results.json"), cacheDir: path.join(dir, "cache"), driver: "language" });
  seconds = (Date.now() - t0) / 1000;
}, 290_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("what-matters quick profile", () => {
  it("writes the results JSON and caches every checkpoint as safetensors", () => {
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8"));
    expect(onDisk.schema).toBe(SCHEMA);
    expect(onDisk.runs.length).toBe(results.runs.length);
    expect(trainingKey(profile)).toBe(onDisk.design.training_key);
    for (const width of profile.widths) {
      const p = zooPaths(path.join(dir, "cache"), profile, width);
      for (const b of BASE_KINDS) {
        for (const d of [p.base[b], p.multitask[b], ...p.experts[b]]) {
          expect(fs.existsSync(path.join(d, "model.safetensors")), d).toBe(true);
          const config = JSON.parse(fs.readFileSync(path.join(d, "config.json"), "utf8"));
          expect(config.width).toBe(width);
        }
      }
    }
    expect(fs.readdirSync(path.join(dir, "cache")).some((f) => f.startsWith("images-") && f.endsWith(".bin"))).toBe(true);
    expect(seconds).toBeGreaterThan(0);
    // an empty cache: every checkpoint was trained by this run
    expect(results.environment.checkpoints_trained).toBe(profile.widths.length * 20);
    expect(results.environment.checkpoints_total).toBe(profile.widths.length * 20);
  });

  it("covers the grid: sizes × bases × methods × expert counts × subsets", () => {
    const expected = profile.widths.length * BASE_KINDS.length * METHODS.length * profile.expertCounts.length * profile.subsets;
    expect(results.runs.length).toBe(expected);
    const cells = new Set(results.runs.map((r) => `${r.width}/${r.base}/${r.method}/${r.n}/${r.subset}`));
    expect(cells.size).toBe(expected);
    for (const r of results.runs) {
      expect(r.params).toBe(paramCount(r.width));
      expect(r.clusters.length).toBe(r.n);
      expect(new Set(r.clusters).size).toBe(r.n);
      for (const c of r.clusters) expect(c >= 0 && c < 8).toBe(true);
    }
    // one chosen candidate per (size, base, method, n), and the runs used it
    const chosen = results.sweep.filter((s) => s.chosen);
    expect(chosen.length).toBe(profile.widths.length * BASE_KINDS.length * METHODS.length * profile.expertCounts.length);
    for (const r of results.runs) {
      const tried = results.sweep.filter((s) => s.width === r.width && s.base === r.base && s.method === r.method && s.n === r.n);
      expect(tried.length).toBe(profile.sweep[r.method].length);
      const best = Math.max(...tried.map((s) => s.val_held_in));
      const pick = tried.find((s) => s.chosen)!;
      expect(pick.val_held_in).toBe(best);
      expect(r.hyperparameters).toEqual(pick.hyperparameters);
    }
  });

  it("reports metrics in range, with the paper's normalizations", () => {
    for (const r of results.runs) {
      for (const a of [r.held_in_acc, r.held_out_acc]) expect(a >= 0 && a <= 1).toBe(true);
      expect(r.held_in).toBeGreaterThan(0);
      expect(r.held_in).toBeLessThan(3);
      expect(r.held_out).toBeGreaterThan(0);
      expect(r.held_out).toBeLessThan(3);
    }
    for (const width of profile.widths) {
      for (const b of BASE_KINDS) {
        const rows = results.baselines.filter((x) => x.width === width && x.base === b);
        // the base is its own held-out reference; each expert is its own held-in reference
        expect(rows.find((x) => x.model === "base")!.held_out).toBe(1);
        const experts = rows.filter((x) => x.model === "expert");
        expect(experts.map((x) => x.cluster)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        for (const e of experts) expect(e.held_in).toBe(1);
        expect(rows.find((x) => x.model === "multitask")!.held_in_acc).toBeGreaterThan(0.5);
      }
    }
  });

  it("describes the design: disjoint task pools, sizes", () => {
    const d = results.design;
    expect(d.classes.length).toBe(20);
    expect(d.held_in.length).toBe(24);
    const key = (c: number[]) => c.join(",");
    const heldIn = new Set(d.held_in.map((t) => key(t.classes)));
    for (const t of d.held_out) expect(heldIn.has(key(t.classes))).toBe(false);
    for (const t of taskPools().instruction) {
      expect(heldIn.has(key(t.classes))).toBe(false);
      expect(d.held_out.some((o) => key(o.classes) === key(t.classes))).toBe(false);
    }
    expect(d.sizes.map((s) => s.params)).toEqual(profile.widths.map(paramCount));
  });

  it("gives the same numbers from the TypeScript driver as from the merge-language script", async () => {
    const ts = await runGridTs(profile, path.join(dir, "cache"));
    const key = (r: { width: number; base: string; method: string; n: number; subset: number }) => `${r.width}/${r.base}/${r.method}/${r.n}/${r.subset}`;
    const byKey = new Map(ts.runs.map((r) => [key(r), r]));
    for (const r of results.runs) {
      const o = byKey.get(key(r))!;
      expect([o.held_in, o.held_out, o.hyperparameters]).toEqual([r.held_in, r.held_out, r.hyperparameters]);
    }
  }, 120_000);

  it("derives a verdict for each of the five findings from the JSON", () => {
    const f = computeFindings(results);
    expect(f.map((x) => x.id)).toEqual([1, 2, 3, 4, 5]);
    for (const x of f) {
      expect(x.total).toBeGreaterThan(0);
      const r = x.holds / x.total;
      expect(x.verdict).toBe(r >= 0.75 ? "reproduced" : r <= 0.25 ? "not reproduced" : "mixed");
    }
  });
});
