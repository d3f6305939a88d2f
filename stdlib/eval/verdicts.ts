/**
 * Analysis of the scale study v2's results: every figure's points with 95%
 * confidence intervals, the diagnostics, the hyperparameter choices, the
 * paper's findings as effect sizes with paired confidence intervals and
 * verdicts, and the paper's numbers side by side — all computed from the
 * result rows, so the notebook only displays what the results JSON holds.
 *
 * Replication unit: the zoo seed (initialisation and data order). A value per
 * seed is the mean over the seed's expert subsets (and over whatever else a
 * quantity averages: methods, numbers of experts, sizes); a paired effect is a
 * difference taken within each seed. CI: mean ± t(0.975, k − 1)·sd/√k over
 * the k seeds. With one seed there is no interval.
 *
 * Verdict of an effect (oriented so that the paper's direction is positive),
 * with δ the smallest effect worth reporting for its metric:
 *   reproduced      the CI lies above 0 and the estimate is at least δ
 *   not reproduced  the CI lies below δ (an effect of δ or more in the paper's direction is excluded)
 *   inconclusive    otherwise (including no interval)
 */
import { MergelabError } from "../../core/errors.js";

export interface Scores {
  held_in: number;
  held_out: number;
  held_in_acc: number;
  held_out_acc: number;
  base_in_acc: number;
  expert_in_acc: number;
  base_out_acc: number;
}
export interface RunRow extends Scores {
  seed: number;
  width: number;
  params: number;
  base: string;
  setting: string;
  method: string;
  n: number;
  subset: number;
  clusters: number[];
  hyperparameters: Record<string, number>;
}
export interface BaselineRow extends Scores {
  seed: number;
  width: number;
  params: number;
  base: string;
  setting: string;
  model: "base" | "expert" | "multitask";
  cluster: number | null;
}
export interface ChoiceRow {
  seed: number;
  width: number;
  base: string;
  setting: string;
  method: string;
  n: number;
  clusters: number[];
  hyperparameters: Record<string, number>;
  val: number;
  edge: boolean;
  candidates: Array<Record<string, number>>;
  candidate_vals: number[];
}
export interface DiagnosticRow {
  seed: number;
  width: number;
  params: number;
  base: string;
  setting: string;
  rel_norm: number[];
  cos: number[];
  rel_norm_mean: number;
  cos_mean: number;
}
export interface Rows {
  runs: RunRow[];
  baselines: BaselineRow[];
  choices: ChoiceRow[];
  diagnostics: DiagnosticRow[];
}

/**
 * The metrics, each over a group of run or baseline rows (e.g. one seed's subsets). The paper's two are
 * means of per-row ratios; gap recovered and chance-corrected accuracy are ratios of the group's mean
 * accuracies (a per-row ratio of small differences would be dominated by noise).
 */
const mean = (rows: Scores[], f: (r: Scores) => number) => rows.reduce((a, r) => a + f(r), 0) / rows.length;
export const METRICS = {
  /** the paper's: held-in accuracy / each task's expert's, averaged over tasks */
  held_in: (rs: Scores[]) => mean(rs, (r) => r.held_in),
  /** the paper's: held-out accuracy / the base's, averaged over tasks */
  held_out: (rs: Scores[]) => mean(rs, (r) => r.held_out),
  /** gap recovered: (merge − base) / (expert − base), held-in accuracies */
  gap_in: (rs: Scores[]) => (mean(rs, (r) => r.held_in_acc) - mean(rs, (r) => r.base_in_acc)) / (mean(rs, (r) => r.expert_in_acc) - mean(rs, (r) => r.base_in_acc)),
  /** chance-corrected held-in: (acc − ½) / (expert − ½) */
  cc_in: (rs: Scores[]) => (mean(rs, (r) => r.held_in_acc) - 0.5) / (mean(rs, (r) => r.expert_in_acc) - 0.5),
  /** chance-corrected held-out: (acc − ½) / (base − ½) */
  cc_out: (rs: Scores[]) => (mean(rs, (r) => r.held_out_acc) - 0.5) / (mean(rs, (r) => r.base_out_acc) - 0.5),
};
export type Metric = keyof typeof METRICS;
export const METRIC_NAMES: Metric[] = ["held_in", "held_out", "gap_in", "cc_in", "cc_out"];
/** Smallest effect worth reporting, per metric (normalized units are fractions of the reference). */
export const DELTA: Record<Metric, number> = { held_in: 0.02, held_out: 0.02, gap_in: 0.05, cc_in: 0.04, cc_out: 0.04 };

export type Verdict = "reproduced" | "not reproduced" | "inconclusive";

export interface Stat {
  mean: number;
  lo: number;
  hi: number;
  /** number of seeds */
  k: number;
}

const T975 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
export function tQuantile975(df: number): number {
  if (df < 1) return NaN;
  return df < T975.length ? T975[df] : 1.96 + 2.4 / df;
}

const r6 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : NaN);
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mean and 95% t-interval of per-seed values (NaN interval for one value). */
export function stat(values: number[]): Stat {
  const v = values.filter(Number.isFinite);
  const k = v.length;
  if (k === 0) return { mean: NaN, lo: NaN, hi: NaN, k: 0 };
  const mean = avg(v);
  if (k === 1) return { mean: r6(mean), lo: NaN, hi: NaN, k };
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (k - 1));
  const h = (tQuantile975(k - 1) * sd) / Math.sqrt(k);
  return { mean: r6(mean), lo: r6(mean - h), hi: r6(mean + h), k };
}

export function verdictOf(s: Stat, delta: number): Verdict {
  if (!(s.k > 1) || !Number.isFinite(s.lo)) return "inconclusive";
  if (s.lo > 0 && s.mean >= delta) return "reproduced";
  if (s.hi < delta) return "not reproduced";
  return "inconclusive";
}

type Where = Record<string, unknown>;
const matches = (r: object, where: Where) =>
  Object.entries(where).every(([k, v]) => (Array.isArray(v) ? v.includes((r as Where)[k]) : (r as Where)[k] === v));

/** Mean of a metric over the rows matching `where` (NaN if none). */
function meanOf<R extends Scores>(rows: R[], where: Where, metric: Metric): number {
  const sel = rows.filter((r) => matches(r, where));
  return sel.length ? METRICS[metric](sel) : NaN;
}

const uniq = <T>(xs: T[]) => [...new Set(xs)];
const byNumber = (a: number, b: number) => a - b;

export interface SeriesRow extends Stat {
  base: string;
  setting: string;
  /** a merge method, "all methods" (their mean; n null: also over n), "reduced grid" (the controls' cells), or "base", "multitask", "expert" (mean of the 8) */
  model: string;
  /** number of merged experts (null for baselines) */
  n: number | null;
  width: number;
  params: number;
  metric: Metric;
}

export interface Finding {
  id: string;
  claim: string;
  test: string;
  base: string;
  setting: string;
  metric: Metric;
  delta: number;
  effect: Stat;
  per_seed: number[];
  verdict: Verdict;
  /** what the estimate is made of, e.g. the two sides of a difference */
  parts: Record<string, Stat>;
}

export interface Analysis {
  seeds: number[];
  widths: number[];
  smallest: number;
  largest: number;
  params_ratio: number;
  primary_setting: string;
  series: SeriesRow[];
  diagnostics: Array<{ base: string; setting: string; width: number; params: number; rel_norm: Stat; cos: Stat }>;
  hyperparameters: Array<{ setting: string; method: string; choices: number; chose_base: number; widened: number; edge: number; ties_k1: number }>;
  findings: Finding[];
  controls: Finding[];
  paper: Array<{ quantity: string; base: string; paper_1b: number | null; paper_64b: number | null; ours_smallest: Stat; ours_largest: Stat }>;
  baselines: Array<{ base: string; setting: string; model: string; width: number; held_in_acc: Stat; held_out_acc: Stat; expert_gain: Stat }>;
}

/** The paper's numbers quoted in issue #14 (Task Arithmetic; PaLM-2 1B and 64B). */
export const PAPER = {
  ta_held_in: {
    instruction_tuned: { "1b": { 2: 0.91, 8: 0.86 }, "64b": { 2: 1.0, 8: 0.93 } },
    pretrained: { "1b": { 2: 0.66, 8: 0.39 }, "64b": { 2: 0.8, 8: 0.67 } },
  },
  it_64b_held_out_8: { merged_lo: 1.09, merged_hi: 1.1, multitask: 1.05 },
};

/** `initial`: candidates each method's grid starts with (the base + the profile's sweep); more means it was widened. */
export function analyse(rows: Rows, primarySetting: string, initial: Record<string, number>, reduced?: { methods: string[]; expertCounts: number[] }): Analysis {
  const { runs, baselines } = rows;
  if (runs.length === 0) throw new MergelabError("analysis: no merged runs");
  const seeds = uniq(runs.map((r) => r.seed)).sort(byNumber);
  const widths = uniq(runs.map((r) => r.width)).sort(byNumber);
  const [small, large] = [widths[0], widths[widths.length - 1]];
  const paramsOf = (w: number) => runs.find((r) => r.width === w)!.params;
  const bases = uniq(runs.map((r) => r.base));
  const settings = uniq(runs.map((r) => r.setting));
  const methods = uniq(runs.map((r) => r.method));

  /** per-seed values of f, then their Stat */
  const over = (f: (seed: number) => number, only?: number[]) => {
    const per = (only ?? seeds).map(f);
    return { per, stat: stat(per) };
  };

  // figure points
  const series: SeriesRow[] = [];
  for (const base of bases) for (const setting of settings) {
    const cellRuns = runs.filter((r) => r.base === base && r.setting === setting);
    if (cellRuns.length === 0) continue;
    const ss = uniq(cellRuns.map((r) => r.seed)).sort(byNumber);
    for (const metric of METRIC_NAMES) for (const width of widths) {
      for (const method of uniq(cellRuns.map((r) => r.method))) for (const n of uniq(cellRuns.map((r) => r.n)).sort(byNumber)) {
        const s = over((seed) => meanOf(cellRuns, { seed, width, method, n }, metric), ss).stat;
        if (s.k > 0) series.push({ base, setting, model: method, n, width, params: paramsOf(width), metric, ...s });
      }
      for (const n of uniq(cellRuns.map((r) => r.n)).sort(byNumber)) {
        const s = over((seed) => meanOf(cellRuns, { seed, width, n }, metric), ss).stat;
        if (s.k > 0) series.push({ base, setting, model: "all methods", n, width, params: paramsOf(width), metric, ...s });
      }
      // pooled: every method and number of experts; and the reduced grid's cells only (comparable across settings)
      const pooled = over((seed) => meanOf(cellRuns, { seed, width }, metric), ss).stat;
      if (pooled.k > 0) series.push({ base, setting, model: "all methods", n: null, width, params: paramsOf(width), metric, ...pooled });
      if (reduced) {
        const s = over((seed) => meanOf(cellRuns, { seed, width, method: reduced.methods, n: reduced.expertCounts }, metric), ss).stat;
        if (s.k > 0) series.push({ base, setting, model: "reduced grid", n: null, width, params: paramsOf(width), metric, ...s });
      }
      for (const model of ["base", "multitask", "expert"]) {
        const s = over((seed) => meanOf(baselines, { seed, width, base, setting, model }, metric), ss).stat;
        if (s.k > 0) series.push({ base, setting, model, n: null, width, params: paramsOf(width), metric, ...s });
      }
    }
  }

  const diagnostics = [];
  for (const base of bases) for (const setting of settings) for (const width of widths) {
    const d = rows.diagnostics.filter((x) => x.base === base && x.setting === setting && x.width === width);
    if (d.length === 0) continue;
    diagnostics.push({ base, setting, width, params: paramsOf(width), rel_norm: stat(d.map((x) => x.rel_norm_mean)), cos: stat(d.map((x) => x.cos_mean)) });
  }

  const baselineStats = [];
  for (const base of bases) for (const setting of settings) for (const model of ["base", "expert", "multitask"]) for (const width of widths) {
    const b = baselines.filter((x) => x.base === base && x.setting === setting && x.model === model && x.width === width);
    if (b.length === 0) continue;
    const perSeed = (f: (x: BaselineRow) => number) => stat(uniq(b.map((x) => x.seed)).map((seed) => avg(b.filter((x) => x.seed === seed).map(f))));
    baselineStats.push({
      base, setting, model, width,
      held_in_acc: perSeed((x) => x.held_in_acc),
      held_out_acc: perSeed((x) => x.held_out_acc),
      expert_gain: perSeed((x) => x.expert_in_acc - x.base_in_acc),
    });
  }

  const hyperparameters = [];
  for (const setting of settings) for (const method of methods) {
    if (method === "average") continue;
    const c = rows.choices.filter((x) => x.setting === setting && x.method === method);
    if (c.length === 0) continue;
    hyperparameters.push({
      setting, method, choices: c.length,
      chose_base: c.filter((x) => x.hyperparameters.λ === 0).length,
      widened: c.filter((x) => x.candidates.length > initial[method]).length,
      edge: c.filter((x) => x.edge).length,
      ties_k1: c.filter((x) => x.hyperparameters.k === 1).length,
    });
  }

  // findings
  const findings: Finding[] = [];
  const controls: Finding[] = [];
  const make = (id: string, claim: string, test: string, base: string, setting: string, metric: Metric, f: (seed: number) => number, parts: Record<string, (seed: number) => number>, only?: number[]): Finding => {
    const o = over(f, only);
    return {
      id, claim, test, base, setting, metric, delta: DELTA[metric], effect: o.stat, per_seed: o.per.map(r6), verdict: verdictOf(o.stat, DELTA[metric]),
      parts: Object.fromEntries(Object.entries(parts).map(([k, g]) => [k, over(g, only).stat])),
    };
  };
  const IT = "instruction_tuned";
  const PT = "pretrained";
  const full = settings.filter((s) => runs.some((r) => r.setting === s && r.method === "ties"));
  const ns = uniq(runs.map((r) => r.n)).sort(byNumber);
  const [nLo, nHi] = [ns[0], ns[ns.length - 1]];
  for (const setting of full) {
    const R = runs.filter((r) => r.setting === setting);
    const cell = (where: Where, metric: Metric) => (seed: number) => meanOf(R, { ...where, seed }, metric);
    const diff = (a: (s: number) => number, b: (s: number) => number) => (s: number) => a(s) - b(s);
    for (const metric of ["held_in", "gap_in", "cc_in"] as Metric[]) {
      const it = cell({ base: IT }, metric);
      const pt = cell({ base: PT }, metric);
      const label = { held_in: "held-in normalized", gap_in: "held-in gap recovered", cc_in: "held-in chance-corrected" }[metric as "held_in"];
      findings.push(make(`1 (${metric})`, "Instruction-tuned base models merge better", `${label}: IT − PT, mean over sizes, methods and numbers of experts`, "both", setting, metric, diff(it, pt), { instruction_tuned: it, pretrained: pt }));
    }
    for (const base of [IT, PT]) for (const metric of ["held_in", "gap_in"] as Metric[]) {
      const big = cell({ base, width: large }, metric);
      const little = cell({ base, width: small }, metric);
      const label = metric === "held_in" ? "held-in normalized" : "held-in gap recovered";
      findings.push(make(`2 (${metric})`, "Larger models merge better", `${label}: w${large} − w${small}, mean over methods and numbers of experts`, base, setting, metric, diff(big, little), { [`w${large}`]: big, [`w${small}`]: little }));
    }
    for (const base of [IT, PT]) {
      const merged = cell({ base, width: large, n: nHi }, "held_out");
      findings.push(make("3a", "Merging improves held-out (zero-shot) generalization", `held-out normalized by the base − 1 at w${large}, ${nHi} experts, mean over methods`, base, setting, "held_out", (s) => merged(s) - 1, { merged }));
      const mt = (seed: number) => meanOf(baselines, { seed, base, setting, width: large, model: "multitask" }, "held_out");
      if (baselines.some((b) => b.model === "multitask" && b.setting === setting)) {
        findings.push(make("3b", "Merged experts generalize better than the multitask model (large instruction-tuned models)", `held-out normalized: merged (${nHi} experts, mean over methods) − multitask, at w${large}`, base, setting, "held_out", diff(merged, mt), { merged, multitask: mt }));
      }
      const grow = diff(merged, cell({ base, width: small, n: nHi }, "held_out"));
      findings.push(make("3c", "The held-out gain of merging grows with size", `held-out normalized (${nHi} experts): w${large} − w${small}`, base, setting, "held_out", grow, {}));
    }
    for (const base of [IT, PT]) {
      const drop = (w: number) => diff(cell({ base, width: w, n: nHi }, "held_in"), cell({ base, width: w, n: nLo }, "held_in"));
      findings.push(make("4", "Larger models can merge more experts", `held-in normalized change from ${nLo} to ${nHi} experts: at w${large} − at w${small}`, base, setting, "held_in", diff(drop(large), drop(small)), { [`w${large}`]: drop(large), [`w${small}`]: drop(small) }));
    }
    for (const base of [IT, PT]) {
      const spread = (w: number) => (seed: number) => avg(ns.map((n) => {
        const v = methods.map((method) => meanOf(R, { seed, base, width: w, n, method }, "held_in"));
        return Math.max(...v) - Math.min(...v);
      }));
      findings.push(make("5", "Differences between merging methods shrink with size", `held-in normalized spread (best − worst method, mean over numbers of experts): at w${small} − at w${large}`, base, setting, "held_in", diff(spread(small), spread(large)), { [`w${small}`]: spread(small), [`w${large}`]: spread(large) }));
    }
  }

  // controls: every other expert setting (the other learning rate, the lazy-width manipulation, the harsh
  // experts) against the primary one, on the cells that setting was merged on
  const primary = full.includes(primarySetting) ? primarySetting : full[0];
  for (const setting of settings.filter((s) => s !== primary)) {
    const cells = runs.filter((r) => r.setting === setting);
    const where = { method: uniq(cells.map((r) => r.method)), n: uniq(cells.map((r) => r.n)) };
    const only = uniq(cells.map((r) => r.seed)).sort(byNumber);
    for (const base of uniq(cells.map((r) => r.base))) {
      const sizeEffect = (s: string) => (seed: number) =>
        meanOf(runs, { ...where, seed, base, setting: s, width: large }, "held_in") - meanOf(runs, { ...where, seed, base, setting: s, width: small }, "held_in");
      controls.push(make("size via update size", `Size effect (finding 2) with ${setting} experts − with ${primary} experts`, `held-in normalized w${large} − w${small} on the reduced grid (${where.method.join(", ")}; n ∈ {${where.n.join(", ")}}): ${setting} − ${primary}`, base, setting, "held_in",
        (seed) => sizeEffect(setting)(seed) - sizeEffect(primary)(seed), { [setting]: sizeEffect(setting), [primary]: sizeEffect(primary) }, only));
      for (const metric of ["held_in", "gap_in"] as Metric[]) {
        const a = (seed: number) => meanOf(runs, { ...where, seed, base, setting: primary }, metric);
        const b = (seed: number) => meanOf(runs, { ...where, seed, base, setting }, metric);
        controls.push(make("gentle vs " + setting, `${primary} experts merge better than ${setting} experts`, `${metric}, mean over sizes and the reduced grid: ${primary} − ${setting}`, base, setting, metric, (s) => a(s) - b(s), { [primary]: a, [setting]: b }, only));
      }
    }
  }

  const paper: Analysis["paper"] = [];
  {
    const R = runs.filter((r) => r.setting === primary && r.method === "task_arithmetic");
    for (const base of [IT, PT] as const) {
      for (const n of [2, 8]) {
        if (!R.some((r) => r.n === n)) continue;
        const at = (w: number) => over((seed) => meanOf(R, { seed, base, n, width: w }, "held_in")).stat;
        const p = PAPER.ta_held_in[base];
        paper.push({ quantity: `Task Arithmetic held-in, ${n} experts`, base, paper_1b: p["1b"][n as 2 | 8], paper_64b: p["64b"][n as 2 | 8], ours_smallest: at(small), ours_largest: at(large) });
      }
    }
    const outAt = (w: number) => over((seed) => meanOf(R, { seed, base: IT, n: nHi, width: w }, "held_out")).stat;
    paper.push({ quantity: `Task Arithmetic held-out, ${nHi} experts (paper: 8, 1.09–1.10)`, base: IT, paper_1b: null, paper_64b: PAPER.it_64b_held_out_8.merged_hi, ours_smallest: outAt(small), ours_largest: outAt(large) });
    const mtAt = (w: number) => over((seed) => meanOf(baselines, { seed, base: IT, setting: primary, width: w, model: "multitask" }, "held_out")).stat;
    paper.push({ quantity: "Multitask held-out", base: IT, paper_1b: null, paper_64b: PAPER.it_64b_held_out_8.multitask, ours_smallest: mtAt(small), ours_largest: mtAt(large) });
  }

  return {
    seeds, widths, smallest: small, largest: large, params_ratio: r6(paramsOf(large) / paramsOf(small)), primary_setting: primary,
    series, diagnostics, hyperparameters, findings, controls, paper, baselines: baselineStats,
  };
}

