/**
 * Tables and figure data from a results JSON (what the notebook shows):
 * means over subsets/methods, the baselines, the chosen hyperparameters and
 * the findings, as Tables for display and plain rows for plot.
 */
import { Table, type Value } from "../../core/values.js";
import { computeFindings, type FindingsInput } from "./findings.js";

type Row = Record<string, unknown>;

/** Mean of `metric` over the rows grouped by `keys` (groups in first-seen order). */
export function meanBy(rows: readonly Row[], keys: string[], metric: string): Row[] {
  const groups = new Map<string, { key: Row; sum: number; count: number }>();
  for (const r of rows) {
    const id = JSON.stringify(keys.map((k) => r[k]));
    const g = groups.get(id) ?? { key: Object.fromEntries(keys.map((k) => [k, r[k]])), sum: 0, count: 0 };
    g.sum += r[metric] as number;
    g.count += 1;
    groups.set(id, g);
  }
  return [...groups.values()].map((g) => ({ ...g.key, [metric]: g.sum / g.count }));
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The base, multitask and (mean) expert rows per size and base. */
export function baselineTable(res: { baselines: Row[] }): Table {
  const rows = meanBy(res.baselines, ["width", "params", "base", "model"], "held_in");
  const out = meanBy(res.baselines, ["width", "params", "base", "model"], "held_out");
  const accIn = meanBy(res.baselines, ["width", "params", "base", "model"], "held_in_acc");
  const accOut = meanBy(res.baselines, ["width", "params", "base", "model"], "held_out_acc");
  return new Table(
    ["width", "params", "base", "model", "held-in norm.", "held-out norm.", "held-in acc", "held-out acc"],
    rows.map((r, i) => [r.width, r.params, r.base, r.model === "expert" ? "expert (mean of 8)" : r.model, r3(r.held_in as number), r3(out[i].held_out as number), r3(accIn[i].held_in_acc as number), r3(accOut[i].held_out_acc as number)] as Value[]),
  );
}

/** The λ/k/p chosen on the validation split per (size, base, method, #experts). */
export function hyperparameterTable(res: { sweep: Row[] }): Table {
  const chosen = res.sweep.filter((s) => s.chosen && s.method !== "average");
  return new Table(
    ["width", "base", "method", "n", "chosen", "val held-in norm.", "candidates"],
    chosen.map((s) => {
      const tried = res.sweep.filter((t) => t.width === s.width && t.base === s.base && t.method === s.method && t.n === s.n).length;
      const hp = Object.entries(s.hyperparameters as Record<string, number>).map(([k, v]) => `${k}=${v}`).join(", ");
      return [s.width, s.base, s.method, s.n, hp, r3(s.val_held_in as number), tried] as Value[];
    }),
  );
}

/** The five findings with verdicts and the numbers behind them. */
export function findingsTable(res: FindingsInput): Table {
  return new Table(
    ["#", "finding (paper)", "test", "holds", "verdict", "numbers"],
    computeFindings(res).map((f) => [f.id, f.claim, f.test, `${f.holds}/${f.total}`, f.verdict, f.evidence] as Value[]),
  );
}
