/**
 * The scale study v2 end to end on the quick profile (2 sizes, 2 zoo seeds, few
 * steps), from an empty cache: real images → trained checkpoints on disk → the
 * merge-language grid → analysis → results JSON. Then a second run from
 * another empty cache, one zoo seed per part joined by --combine, must write
 * the same bytes (seeds everywhere, timings in a separate file). Checks the pipeline, the selection rules and the
 * analysis, not the scientific conclusions.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../helpers.js";
import { combine, runPart, runStudy, SCHEMA, type Results, type Timings } from "../../../experiments/what-matters.js";
import { SCALE_PROFILES, scaleZooPaths, settingsFor, widenGrid, SCALE_CLUSTERS } from "../../../stdlib/eval/scale.js";
import { paramCount } from "../../../stdlib/eval/model.js";
import { verdictOf, tQuantile975, type RunRow } from "../../../stdlib/eval/verdicts.js";

const profile = SCALE_PROFILES.quick;
let dir: string;
let results: Results;
let timings: Timings;
let bytes: string;

beforeAll(async () => {
  dir = tempDir("mergelab-what-matters-");
  const out = await runStudy({ profile, out: path.join(dir, "a.json"), timings: path.join(dir, "a-timings.json"), cacheDir: path.join(dir, "cache-a") });
  results = out.results;
  timings = out.timings;
  bytes = fs.readFileSync(path.join(dir, "a.json"), "utf8");
}, 240_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const BASES = ["pretrained", "instruction_tuned"] as const;

describe("what-matters v2, quick profile", () => {
  it("trains every checkpoint of every zoo seed and size into the cache, and writes timings apart", () => {
    expect(results.schema).toBe(SCHEMA);
    expect(JSON.parse(bytes).runs.length).toBe(results.runs.length);
    let count = 0;
    profile.seeds.forEach((_, i) => {
      for (const width of profile.widths) {
        const p = scaleZooPaths(path.join(dir, "cache-a"), profile, i, width);
        for (const b of BASES) {
          const dirs = [p.base[b], ...Object.values(p.experts[b]).flat(), ...Object.values(p.multitask[b])];
          for (const d of dirs) {
            expect(fs.existsSync(path.join(d, "model.safetensors")), d).toBe(true);
            expect(JSON.parse(fs.readFileSync(path.join(d, "config.json"), "utf8")).width).toBe(width);
          }
          count += dirs.length;
        }
      }
    });
    expect(timings.checkpoints_trained).toBe(count);
    expect(timings.checkpoints_total).toBe(count);
    expect(timings.per_checkpoint.length).toBe(count);
    expect(bytes).not.toContain(timings.started); // no wall-clock data in the results
  });

  it("covers the grid: seeds × sizes × bases × settings × methods × expert counts × subsets", () => {
    profile.seeds.forEach((seed, i) => {
      for (const width of profile.widths) for (const base of BASES) for (const s of settingsFor(profile, i, base)) {
        const methods = s.grid === "full" ? ["average", "task_arithmetic", "ties", "dare_ties"] : profile.reduced.methods;
        const counts = s.grid === "full" ? profile.expertCounts : profile.reduced.expertCounts;
        const runs = results.runs.filter((r) => r.seed === seed && r.width === width && r.base === base && r.setting === s.name);
        const subsetsOf = (n: number) => (n === SCALE_CLUSTERS ? 1 : profile.subsets);
        expect(runs.length).toBe(methods.length * counts.reduce((a, n) => a + subsetsOf(n), 0));
        for (const r of runs) {
          expect(r.params).toBe(paramCount(width));
          expect(r.clusters.length).toBe(r.n);
          expect(new Set(r.clusters).size).toBe(r.n);
        }
        // distinct subsets for n < 8
        for (const n of counts.filter((x) => x < SCALE_CLUSTERS)) {
          const sets = new Set(runs.filter((r) => r.n === n && r.method === methods[0]).map((r) => r.clusters.join()));
          expect(sets.size).toBe(profile.subsets);
        }
        const diag = results.diagnostics.filter((d) => d.seed === seed && d.width === width && d.base === base && d.setting === s.name);
        expect(diag.length).toBe(1);
        expect(diag[0].rel_norm.length).toBe(SCALE_CLUSTERS);
        expect(diag[0].cos.length).toBe((SCALE_CLUSTERS * (SCALE_CLUSTERS - 1)) / 2);
        for (const x of diag[0].rel_norm) expect(x).toBeGreaterThan(0);
        for (const c of diag[0].cos) expect(Math.abs(c)).toBeLessThanOrEqual(1);
      }
    });
  });

  it("chooses hyperparameters on validation among candidates that include the base, widening at edges", () => {
    const nonAverage = results.choices.filter((c) => c.method !== "average");
    expect(nonAverage.length).toBeGreaterThan(0);
    for (const c of nonAverage) {
      expect(c.candidates[0]).toEqual({ λ: 0 });
      const best = Math.max(...c.candidate_vals);
      expect(c.val).toBe(best);
      expect(c.hyperparameters).toEqual(c.candidates[c.candidate_vals.indexOf(best)]);
      // a choice left on an edge is flagged; an unflagged one has nothing left to widen
      expect(widenGrid(c.method, c.candidates, c.hyperparameters).length > 0).toBe(c.edge);
      // the runs of the cell used the chosen hyperparameters
      const runs = results.runs.filter((r) => r.seed === c.seed && r.width === c.width && r.base === c.base && r.setting === c.setting && r.method === c.method && r.n === c.n);
      expect(runs.length).toBeGreaterThan(0);
      for (const r of runs) expect(r.hyperparameters).toEqual(c.hyperparameters);
      expect(runs.find((r) => r.subset === 0)!.clusters).toEqual(c.clusters);
    }
    // widening happened somewhere (the quick grid is small on purpose)
    expect(nonAverage.some((c) => c.candidates.length > profile.sweep[c.method as "ties"].length + 1)).toBe(true);
  });

  it("scores with the paper's normalizations and the raw accuracies behind the others", () => {
    for (const b of results.baselines) {
      if (b.model === "expert") expect(b.held_in).toBe(1);
      if (b.model === "base") expect(b.held_out).toBe(1);
    }
    const baseOf = (r: RunRow) => results.baselines.find((b) => b.model === "base" && b.seed === r.seed && b.width === r.width && b.base === r.base && b.setting === r.setting)!;
    for (const r of results.runs) {
      for (const a of [r.held_in_acc, r.held_out_acc, r.base_in_acc, r.expert_in_acc]) expect(a >= 0 && a <= 1).toBe(true);
      expect(r.base_out_acc).toBe(baseOf(r).held_out_acc);
      // held-in normalized is a mean of per-task ratios, so it lies between the smallest and largest ratio bound
      expect(r.held_in).toBeGreaterThan(0);
      // λ = 0 is the base itself
      if (r.hyperparameters.λ === 0) expect(r.held_in_acc).toBe(r.base_in_acc);
    }
    // the same base held-in accuracy on the whole held-in pool, whatever the expert setting
    for (const b of results.baselines.filter((x) => x.model === "base")) {
      const other = results.baselines.filter((x) => x.model === "base" && x.seed === b.seed && x.width === b.width && x.base === b.base);
      for (const o of other) expect(o.held_in_acc).toBe(b.held_in_acc);
    }
  });

  it("recomputes a finding's per-seed effect independently", () => {
    const a = results.analysis;
    const f = a.findings.find((x) => x.id === "2 (held_in)" && x.base === "instruction_tuned" && x.setting === "lr3e-4")!;
    const per = results.analysis.seeds.map((seed) => {
      const m = (w: number) => {
        const rs = results.runs.filter((r) => r.seed === seed && r.setting === "lr3e-4" && r.base === "instruction_tuned" && r.width === w);
        return rs.reduce((s, r) => s + r.held_in, 0) / rs.length;
      };
      return m(a.largest) - m(a.smallest);
    });
    per.forEach((x, i) => expect(f.per_seed[i]).toBeCloseTo(x, 6));
    const mean = per.reduce((s, x) => s + x, 0) / per.length;
    const sd = Math.sqrt(per.reduce((s, x) => s + (x - mean) ** 2, 0) / (per.length - 1));
    expect(f.effect.mean).toBeCloseTo(mean, 6);
    expect(f.effect.hi - f.effect.lo).toBeCloseTo((2 * 12.706 * sd) / Math.sqrt(2), 5); // two seeds: t(0.975, 1) = 12.706
    for (const x of [...a.findings, ...a.controls]) expect(x.verdict).toBe(verdictOf(x.effect, x.delta));
  });

  it("a second run from an empty cache, one zoo seed at a time then joined, writes the same bytes", async () => {
    const parts = profile.seeds.map((_, i) => path.join(dir, `part${i}.json`));
    for (const [i, out] of parts.entries()) {
      await runPart({ profile, out, timings: out.replace(/\.json$/, "-timings.json"), cacheDir: path.join(dir, "cache-b"), seeds: [i] });
    }
    combine(path.join(dir, "b.json"), [...parts].reverse());
    expect(fs.readFileSync(path.join(dir, "b.json"), "utf8") === bytes).toBe(true);
    const t = JSON.parse(fs.readFileSync(path.join(dir, "b-timings.json"), "utf8"));
    expect(t.checkpoints_trained).toBe(timings.checkpoints_trained);
  }, 240_000);
});

describe("verdicts and grid widening", () => {
  it("t quantiles are the textbook ones", () => {
    expect([1, 2, 4, 8].map(tQuantile975)).toEqual([12.706, 4.303, 2.776, 2.306]);
  });
  it("verdict: reproduced, not reproduced, inconclusive", () => {
    const s = (mean: number, lo: number, hi: number, k = 3) => ({ mean, lo, hi, k });
    expect(verdictOf(s(0.05, 0.01, 0.09), 0.02)).toBe("reproduced");
    expect(verdictOf(s(0.01, 0.001, 0.019), 0.02)).toBe("not reproduced"); // positive but smaller than δ
    expect(verdictOf(s(-0.05, -0.09, -0.01), 0.02)).toBe("not reproduced");
    expect(verdictOf(s(0.03, -0.01, 0.07), 0.02)).toBe("inconclusive");
    expect(verdictOf(s(0.015, 0.005, 0.025), 0.02)).toBe("inconclusive");
    expect(verdictOf({ mean: 0.5, lo: NaN, hi: NaN, k: 1 }, 0.02)).toBe("inconclusive");
  });
  it("widens past the largest λ, below the smallest, and below TIES's smallest k", () => {
    const ta = [{ λ: 0 }, { λ: 0.5 }, { λ: 1 }];
    expect(widenGrid("task_arithmetic", ta, { λ: 1 })).toEqual([{ λ: 1.5 }, { λ: 2 }]);
    expect(widenGrid("task_arithmetic", ta, { λ: 0.5 })).toEqual([{ λ: 0.25 }]);
    expect(widenGrid("task_arithmetic", [...ta, { λ: 0.25 }], { λ: 0.5 })).toEqual([]);
    expect(widenGrid("task_arithmetic", ta, { λ: 0 })).toEqual([]); // the base: nothing to widen
    const ties: Array<Record<string, number>> = [{ λ: 0 }, { k: 0.1, λ: 0.6 }, { k: 0.1, λ: 1.2 }, { k: 1, λ: 0.6 }, { k: 1, λ: 1.2 }];
    expect(widenGrid("ties", ties, { k: 1, λ: 0.6 })).toEqual([{ k: 1, λ: 0.3 }]);
    expect(widenGrid("ties", ties, { k: 0.1, λ: 0.6 })).toEqual([{ k: 0.1, λ: 0.3 }, { k: 0.033333, λ: 0.6 }]);
  });
});
