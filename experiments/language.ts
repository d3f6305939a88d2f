/**
 * Runs experiments/what-matters.merge with the merge language (dsl/ Session)
 * and turns its trailing value — a list of records — into the grid rows.
 */
import fs from "node:fs";
import { MergelabError } from "../core/errors.js";
import { Session } from "../dsl/session.js";
import { Dict, type Value } from "../core/values.js";
import { ensureZoo, type Profile } from "../stdlib/eval/study.js";
import type { BaselineRow, GridResult, RunRow, SweepRow } from "./grid.js";

/** A language value as plain JSON data (records → objects). */
export function plain(v: Value | undefined): unknown {
  if (v instanceof Dict) return Object.fromEntries([...v.entries].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

export async function runGridLanguage(script: string, profile: Profile, cacheDir: string, log: (l: string) => void): Promise<GridResult> {
  // train (or find) every checkpoint first, so that the script's check pass sees real headers
  for (const width of profile.widths) await ensureZoo(cacheDir, profile, width, log);
  const prev = process.env.MERGELAB_EVAL_CACHE;
  process.env.MERGELAB_EVAL_CACHE = cacheDir;
  try {
    const session = new Session({ stdout: (t) => log(t.trimEnd()), options: { quiet: true } });
    const code = fs.readFileSync(script, "utf8");
    const { value } = await session.execute(code, { file: script, overrides: new Map([["profile", profile.name]]) });
    if (!Array.isArray(value)) throw new MergelabError(`${script}: the script must end with the list of result records`);
    return collect(plain(value) as Array<Record<string, unknown>>);
  } finally {
    if (prev === undefined) delete process.env.MERGELAB_EVAL_CACHE;
    else process.env.MERGELAB_EVAL_CACHE = prev;
  }
}

function collect(rows: Array<Record<string, unknown>>): GridResult {
  const out: GridResult = { runs: [], sweep: [], baselines: [] };
  for (const r of rows) {
    const { kind, scores, ...rest } = r as { kind: string; scores?: Record<string, number> } & Record<string, unknown>;
    if (kind === "run") out.runs.push({ ...rest, ...scores } as unknown as RunRow);
    else if (kind === "sweep") out.sweep.push({ ...rest, chosen: false } as unknown as SweepRow);
    else if (kind === "baseline") out.baselines.push({ ...rest, ...scores } as unknown as BaselineRow);
    else throw new MergelabError(`results: unknown row kind ${JSON.stringify(kind)}`);
  }
  // mark the chosen candidate of each sweep: the one whose hyperparameters the runs used
  for (const s of out.sweep) {
    const run = out.runs.find((x) => x.width === s.width && x.base === s.base && x.method === s.method && x.n === s.n);
    s.chosen = run !== undefined && JSON.stringify(run.hyperparameters) === JSON.stringify(s.hyperparameters);
  }
  return out;
}
