/**
 * The paper's five findings, tested on a results JSON (what the notebook's
 * findings table shows — computed, so it always agrees with the JSON).
 *
 * Each finding is a set of paired comparisons; the verdict is
 *   reproduced      if at least 75% of the comparisons go the paper's way,
 *   not reproduced  if at most 25% do,
 *   mixed           otherwise.
 * "Normalized" is the paper's: held-in by each task's expert, held-out by the base.
 */
export type Verdict = "reproduced" | "not reproduced" | "mixed";

export interface Finding {
  id: number;
  claim: string;
  test: string;
  holds: number;
  total: number;
  verdict: Verdict;
  evidence: string;
}

interface Run {
  width: number;
  base: string;
  method: string;
  n: number;
  held_in: number;
  held_out: number;
}
interface Baseline {
  width: number;
  base: string;
  model: string;
  held_in: number;
  held_out: number;
}
export interface FindingsInput {
  runs: Run[];
  baselines: Baseline[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const f3 = (x: number) => x.toFixed(3);
const uniq = <T>(xs: T[]) => [...new Set(xs)];

function verdict(holds: number, total: number): Verdict {
  if (total === 0) return "mixed";
  const r = holds / total;
  return r >= 0.75 ? "reproduced" : r <= 0.25 ? "not reproduced" : "mixed";
}

/** Mean of a metric over the runs matching a filter (over methods, subsets, n as not fixed). */
function avgOf(runs: Run[], metric: "held_in" | "held_out", where: Partial<Run>): number {
  const sel = runs.filter((r) => Object.entries(where).every(([k, v]) => r[k as keyof Run] === v));
  return mean(sel.map((r) => r[metric]));
}

function finding(id: number, claim: string, test: string, pairs: boolean[], evidence: string): Finding {
  const holds = pairs.filter(Boolean).length;
  return { id, claim, test, holds, total: pairs.length, verdict: verdict(holds, pairs.length), evidence };
}

export function computeFindings(res: FindingsInput): Finding[] {
  const runs = res.runs;
  const widths = uniq(runs.map((r) => r.width)).sort((a, b) => a - b);
  const bases = uniq(runs.map((r) => r.base));
  const methods = uniq(runs.map((r) => r.method));
  const ns = uniq(runs.map((r) => r.n)).sort((a, b) => a - b);
  const [small, large] = [widths[0], widths[widths.length - 1]];
  const IT = "instruction_tuned";
  const PT = "pretrained";
  const out: Finding[] = [];

  // (1) instruction-tuned bases merge better: held-in normalized, IT vs PT, per (width, method, n)
  {
    const pairs: boolean[] = [];
    for (const width of widths) for (const method of methods) for (const n of ns) {
      pairs.push(avgOf(runs, "held_in", { width, method, n, base: IT }) > avgOf(runs, "held_in", { width, method, n, base: PT }));
    }
    const ev = widths.map((w) => `w${w}: IT ${f3(avgOf(runs, "held_in", { width: w, base: IT }))} vs PT ${f3(avgOf(runs, "held_in", { width: w, base: PT }))}`).join("; ");
    out.push(finding(1, "Instruction-tuned base models merge better", "held-in normalized, IT > PT for each (size, method, #experts)", pairs, ev));
  }
  // (2) larger models merge better: held-in normalized, largest vs smallest, per (base, method, n)
  {
    const pairs: boolean[] = [];
    for (const base of bases) for (const method of methods) for (const n of ns) {
      pairs.push(avgOf(runs, "held_in", { width: large, base, method, n }) > avgOf(runs, "held_in", { width: small, base, method, n }));
    }
    const ev = bases.map((b) => `${b}: ` + widths.map((w) => `w${w} ${f3(avgOf(runs, "held_in", { width: w, base: b }))}`).join(", ")).join("; ");
    out.push(finding(2, "Larger models merge better", `held-in normalized, largest (w${large}) > smallest (w${small}) for each (base, method, #experts)`, pairs, ev));
  }
  // (3) merging improves held-out generalization: merged held-out normalized > 1 (beats its base), per (width, base, method, n)
  {
    const pairs: boolean[] = [];
    for (const width of widths) for (const base of bases) for (const method of methods) for (const n of ns) {
      pairs.push(avgOf(runs, "held_out", { width, base, method, n }) > 1);
    }
    const mt = (w: number, b: string) => res.baselines.find((x) => x.width === w && x.base === b && x.model === "multitask")?.held_out ?? NaN;
    const ev = bases.map((b) => `${b}: ` + widths.map((w) => `w${w} merged ${f3(avgOf(runs, "held_out", { width: w, base: b }))} / multitask ${f3(mt(w, b))}`).join(", ")).join("; ");
    out.push(finding(3, "Merging improves held-out (zero-shot) generalization", "held-out normalized by the base > 1 for each (size, base, method, #experts)", pairs, ev));
  }
  // (4) larger models absorb more experts: the change of held-in normalized from fewest to most experts is better at the largest size
  {
    const [nLo, nHi] = [ns[0], ns[ns.length - 1]];
    const delta = (width: number, base: string, method: string) =>
      avgOf(runs, "held_in", { width, base, method, n: nHi }) - avgOf(runs, "held_in", { width, base, method, n: nLo });
    const pairs: boolean[] = [];
    for (const base of bases) for (const method of methods) pairs.push(delta(large, base, method) > delta(small, base, method));
    const ev = bases.map((b) => `${b}: Δ(n=${nLo}→${nHi}) ` + widths.map((w) => `w${w} ${f3(mean(methods.map((m) => delta(w, b, m))))}`).join(", ")).join("; ");
    out.push(finding(4, "Larger models can merge more experts", `held-in normalized change from ${nLo} to ${nHi} experts is higher at w${large} than at w${small}, per (base, method)`, pairs, ev));
  }
  // (5) method differences shrink at scale: spread (max − min over methods) smaller at the largest size, per (base, n)
  {
    const spread = (width: number, base: string, n: number) => {
      const v = methods.map((method) => avgOf(runs, "held_in", { width, base, method, n }));
      return Math.max(...v) - Math.min(...v);
    };
    const pairs: boolean[] = [];
    for (const base of bases) for (const n of ns) pairs.push(spread(large, base, n) < spread(small, base, n));
    const gapAvg = (w: number) => {
      const v = methods.map((method) => avgOf(runs, "held_in", { width: w, base: IT, method }));
      return Math.max(...v) - avgOf(runs, "held_in", { width: w, base: IT, method: "average" });
    };
    const ev = bases.map((b) => `${b} spread: ` + widths.map((w) => `w${w} ${f3(mean(ns.map((n) => spread(w, b, n))))}`).join(", ")).join("; ") +
      `; best method minus averaging (IT): ` + widths.map((w) => `w${w} ${f3(gapAvg(w))}`).join(", ");
    out.push(finding(5, "Differences between methods shrink at scale (averaging suffices for large instruction-tuned models)", `held-in spread across methods smaller at w${large} than at w${small}, per (base, #experts)`, pairs, ev));
  }
  return out;
}
