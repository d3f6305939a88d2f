/**
 * The scale-study grid driven from TypeScript (the same computation as
 * experiments/what-matters.merge; the runner uses this when asked to, or
 * when the merge language cannot run the script):
 *
 * for each width × base kind:
 *   references: each held-in task's expert accuracy; the base's held-out accuracy (val and test)
 *   for each method × number of experts n:
 *     choose λ/k/p on the validation split (subset 0, held-in normalized)
 *     for each of `subsets` random expert subsets: merge, score on test
 *   baselines: the base itself, the multitask model, the individual experts
 */
import type { ModelValue } from "../engine/index.js";
import type { Dict } from "../core/values.js";
import { evaluate, expertReference, mergeWith, normalized, scoresOf, tasks } from "../stdlib/eval/api.js";
import { ensureZoo, expertSubsets, BASE_KINDS, METHODS, type BaseKind, type MethodName, type Profile } from "../stdlib/eval/study.js";
import { paramCount } from "../stdlib/eval/model.js";

export interface RunRow {
  width: number;
  params: number;
  base: BaseKind;
  method: MethodName;
  n: number;
  subset: number;
  clusters: number[];
  hyperparameters: Record<string, number>;
  held_in: number;
  held_out: number;
  held_in_acc: number;
  held_out_acc: number;
}

export interface SweepRow {
  width: number;
  base: BaseKind;
  method: MethodName;
  n: number;
  clusters: number[];
  hyperparameters: Record<string, number>;
  val_held_in: number;
  chosen: boolean;
}

export interface BaselineRow {
  width: number;
  params: number;
  base: BaseKind;
  model: "base" | "multitask" | "expert";
  /** expert rows: the cluster; the mean over experts is taken by readers */
  cluster?: number;
  held_in: number;
  held_out: number;
  held_in_acc: number;
  held_out_acc: number;
}

export interface GridResult {
  runs: RunRow[];
  sweep: SweepRow[];
  baselines: BaselineRow[];
}

type Log = (line: string) => void;

const acc = (d: Dict) => {
  const s = scoresOf(d);
  const ids = Object.keys(s);
  return ids.reduce((a, k) => a + s[k], 0) / ids.length;
};

async function score(m: ModelValue, clusters: number[] | "held_in", refIn: Dict, refOut: Dict, split: "val" | "test", cacheDir: string) {
  const inSet = clusters === "held_in" ? tasks("held_in") : tasks(clusters);
  const sIn = await evaluate(m, inSet, split, cacheDir);
  const sOut = await evaluate(m, tasks("held_out"), split, cacheDir);
  return { held_in: normalized(sIn, refIn), held_out: normalized(sOut, refOut), held_in_acc: acc(sIn), held_out_acc: acc(sOut) };
}

export async function runGridTs(profile: Profile, cacheDir: string, log: Log = () => {}): Promise<GridResult> {
  const out: GridResult = { runs: [], sweep: [], baselines: [] };
  for (const width of profile.widths) {
    const zoo = await ensureZoo(cacheDir, profile, width, log);
    const params = paramCount(width);
    for (const b of BASE_KINDS) {
      const base = zoo.base[b];
      const experts = zoo.experts[b];
      const refIn = { val: await expertReference(experts, "val", cacheDir), test: await expertReference(experts, "test", cacheDir) };
      const refOut = { val: await evaluate(base, tasks("held_out"), "val", cacheDir), test: await evaluate(base, tasks("held_out"), "test", cacheDir) };
      out.baselines.push({ width, params, base: b, model: "base", ...(await score(base, "held_in", refIn.test, refOut.test, "test", cacheDir)) });
      out.baselines.push({ width, params, base: b, model: "multitask", ...(await score(zoo.multitask[b], "held_in", refIn.test, refOut.test, "test", cacheDir)) });
      for (let c = 0; c < experts.length; c++) {
        out.baselines.push({ width, params, base: b, model: "expert", cluster: c, ...(await score(experts[c], [c], refIn.test, refOut.test, "test", cacheDir)) });
      }
      for (const method of METHODS) {
        for (const n of profile.expertCounts) {
          const subsets = expertSubsets(n, profile.subsets, profile.seed);
          const chosen = await chooseHyperparameters(profile, method, subsets[0], experts, base, refIn.val, refOut.val, cacheDir);
          for (const row of chosen.rows) out.sweep.push({ width, base: b, method, n, clusters: subsets[0], ...row });
          for (let s = 0; s < subsets.length; s++) {
            const merged = await mergeWith(method, subsets[s].map((c) => experts[c]), base, chosen.best);
            const r = await score(merged, subsets[s], refIn.test, refOut.test, "test", cacheDir);
            out.runs.push({ width, params, base: b, method, n, subset: s, clusters: subsets[s], hyperparameters: chosen.best, ...r });
          }
          log(`w${width} ${b} ${method} n=${n}: ${JSON.stringify(chosen.best)} held-in ${avg(out.runs.slice(-subsets.length).map((r) => r.held_in)).toFixed(3)} held-out ${avg(out.runs.slice(-subsets.length).map((r) => r.held_out)).toFixed(3)}`);
        }
      }
    }
  }
  return out;
}

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The candidate with the best held-in normalized score on the validation split (first wins ties). */
async function chooseHyperparameters(
  profile: Profile, method: MethodName, clusters: number[], experts: ModelValue[], base: ModelValue, refIn: Dict, refOut: Dict, cacheDir: string,
) {
  const rows: Array<{ hyperparameters: Record<string, number>; val_held_in: number; chosen: boolean }> = [];
  for (const hp of profile.sweep[method]) {
    const merged = await mergeWith(method, clusters.map((c) => experts[c]), base, hp);
    const r = await score(merged, clusters, refIn, refOut, "val", cacheDir);
    rows.push({ hyperparameters: hp, val_held_in: r.held_in, chosen: false });
  }
  let best = 0;
  rows.forEach((r, i) => {
    if (r.val_held_in > rows[best].val_held_in) best = i;
  });
  rows[best].chosen = true;
  return { best: rows[best].hyperparameters, rows };
}
