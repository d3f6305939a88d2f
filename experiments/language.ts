/**
 * Runs experiments/what-matters.merge with the merge language (dsl/ Session)
 * and sorts its trailing value — a list of records — into the result tables.
 */
import fs from "node:fs";
import { MergelabError } from "../core/errors.js";
import { Session } from "../dsl/session.js";
import { Dict, type Value } from "../core/values.js";
import type { Rows } from "../stdlib/eval/verdicts.js";

/** A language value as plain JSON data (records → objects). */
export function plain(v: Value | undefined): unknown {
  if (v instanceof Dict) return Object.fromEntries([...v.entries].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

/** Runs the script with `profile` set (and `seeds`, the zoo seed indices, when given). */
export async function runScript(script: string, profileName: string, cacheDir: string, log: (l: string) => void, seeds?: number[]): Promise<Rows> {
  const prev = process.env.MERGELAB_EVAL_CACHE;
  process.env.MERGELAB_EVAL_CACHE = cacheDir;
  try {
    const session = new Session({ stdout: (t) => log(t.trimEnd()), options: { quiet: true } });
    const code = fs.readFileSync(script, "utf8");
    const { value } = await session.execute(code, { file: script, overrides: new Map<string, Value>([["profile", profileName], ...(seeds ? [["seeds", seeds] as [string, Value]] : [])]) });
    if (!Array.isArray(value)) throw new MergelabError(`${script}: the script must end with the list of result records`);
    return collect(plain(value) as Array<Record<string, unknown>>);
  } finally {
    if (prev === undefined) delete process.env.MERGELAB_EVAL_CACHE;
    else process.env.MERGELAB_EVAL_CACHE = prev;
  }
}

function collect(rows: Array<Record<string, unknown>>): Rows {
  const out: Rows = { runs: [], baselines: [], choices: [], diagnostics: [] };
  for (const r of rows) {
    const { kind, scores, ...rest } = r as { kind: string; scores?: Record<string, number> } & Record<string, unknown>;
    if (kind === "run") out.runs.push({ ...rest, ...scores } as never);
    else if (kind === "baseline") out.baselines.push({ ...rest, ...scores } as never);
    else if (kind === "choice") out.choices.push(rest as never);
    else if (kind === "diagnostic") out.diagnostics.push(rest as never);
    else throw new MergelabError(`results: unknown row kind ${JSON.stringify(kind)}`);
  }
  return out;
}
