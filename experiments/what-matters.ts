/**
 * Runner of the scale study (version 2, issue #14): trains (or finds in the
 * cache) every zoo, runs the grid — experiments/what-matters.merge, in the
 * merge language — analyses it (stdlib/eval/verdicts.ts) and writes the
 * results JSON. Wall-clock timings go to a separate file, so that the results
 * JSON of a rerun from an empty cache is the same bytes.
 *
 *   npx tsx experiments/what-matters.ts [--profile full|quick] [--out FILE] [--timings FILE] [--cache DIR]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { initRuntime } from "../core/runtime.js";
import { MergelabError } from "../core/errors.js";
import { CLASS_NAMES, PER_CLASS, SIDE } from "../stdlib/eval/data.js";
import { EVAL_PER_TASK } from "../stdlib/eval/metrics.js";
import { paramCount } from "../stdlib/eval/model.js";
import { HELD_IN_CORRUPTIONS, INSTRUCTION_CORRUPTIONS, SEVERITY } from "../stdlib/eval/corruptions.js";
import { ensureScaleZoo, SCALE_PROFILES, scalePools, scaleTrainingKey, settingsFor, trainingSeconds, type ScaleProfile } from "../stdlib/eval/scale.js";
import { analyse, DELTA, type Analysis, type Rows } from "../stdlib/eval/verdicts.js";
import { runScript } from "./language.js";

export const SCHEMA = "mergelab.what-matters/2";
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const SCRIPT = path.join(repoRoot, "experiments", "what-matters.merge");
/** The expert setting the paper-side-by-side table and the controls compare against. */
export const PRIMARY_SETTING = "lr3e-4";

export interface Options {
  profile: ScaleProfile;
  out: string;
  timings: string;
  cacheDir: string;
  log?: (line: string) => void;
}

export interface Results extends Rows {
  schema: string;
  profile: ScaleProfile;
  environment: { backend: string; node: string };
  design: Record<string, unknown>;
  analysis: Analysis;
}

export interface Timings {
  started: string;
  cpus: number;
  load_average: number[];
  seconds: { total: number; training: number; grid: number };
  checkpoints_trained: number;
  checkpoints_total: number;
  merges: number;
  per_checkpoint: Array<{ checkpoint: string; width: number; steps: number; seconds: number }>;
}

function checkpointCount(p: ScaleProfile): number {
  let n = 0;
  p.seeds.forEach((_, i) => {
    for (const b of ["pretrained", "instruction_tuned"] as const) for (const s of settingsFor(p, i, b)) n += 8 + (s.multitaskSteps > 0 ? 1 : 0);
  });
  return (n + 2 * p.seeds.length) * p.widths.length;
}

export async function runStudy(opts: Options): Promise<{ results: Results; timings: Timings }> {
  const log = opts.log ?? (() => {});
  const backend = await initRuntime();
  const started = new Date();
  const t0 = Date.now();
  trainingSeconds.length = 0;
  const p = opts.profile;
  for (let i = 0; i < p.seeds.length; i++) for (const width of p.widths) await ensureScaleZoo(opts.cacheDir, p, i, width, log);
  const t1 = Date.now();
  const rows = await runScript(SCRIPT, p.name, opts.cacheDir, log);
  const t2 = Date.now();
  const initial = Object.fromEntries(Object.entries(p.sweep).map(([m, hs]) => [m, hs.length + 1]));
  const pools = scalePools();
  const results: Results = {
    schema: SCHEMA,
    profile: p,
    environment: { backend, node: process.version },
    design: {
      image: `${SIDE}x${SIDE} (2x2 mean-pooled MNIST digits + Fashion-MNIST clothing) under a corruption the model is not told, + 20-dim multi-hot instruction`,
      classes: CLASS_NAMES,
      images_per_class: PER_CLASS,
      eval_examples_per_task: EVAL_PER_TASK,
      severity: SEVERITY,
      held_in_corruptions: HELD_IN_CORRUPTIONS,
      instruction_corruptions: INSTRUCTION_CORRUPTIONS,
      held_in: pools.heldIn.map((t) => ({ id: t.id, cluster: t.cluster!, classes: t.classes, corruption: t.corruption })),
      held_out: pools.heldOut.map((t) => ({ id: t.id, classes: t.classes, corruption: t.corruption })),
      instruction_tasks: pools.instruction.length,
      sizes: p.widths.map((width) => ({ width, params: paramCount(width) })),
      training_key: scaleTrainingKey(p),
      primary_setting: PRIMARY_SETTING,
      confidence_percent: 95,
      delta: DELTA,
      initial_candidates: initial,
    },
    ...rows,
    analysis: analyse(rows, PRIMARY_SETTING, initial),
  };
  const timings: Timings = {
    started: started.toISOString(),
    cpus: os.cpus().length,
    load_average: os.loadavg().map((x) => Math.round(x * 100) / 100),
    seconds: { total: (t2 - t0) / 1000, training: (t1 - t0) / 1000, grid: (t2 - t1) / 1000 },
    checkpoints_trained: trainingSeconds.length,
    checkpoints_total: checkpointCount(p),
    merges: rows.runs.length + rows.choices.reduce((s, c) => s + c.candidates.length, 0),
    per_checkpoint: [...trainingSeconds],
  };
  for (const [file, data] of [[opts.out, results], [opts.timings, timings]] as const) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(data, null, 1) + "\n");
  }
  return { results, timings };
}

function parseArgs(argv: string[]): Options {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const name = get("--profile") ?? "full";
  if (!(name in SCALE_PROFILES)) throw new MergelabError(`--profile must be full or quick, got ${name}`);
  const out = path.resolve(get("--out") ?? path.join(repoRoot, "notebooks", name === "full" ? "what-matters-results.json" : "what-matters-quick.json"));
  return {
    profile: SCALE_PROFILES[name as "full" | "quick"],
    out,
    timings: path.resolve(get("--timings") ?? out.replace(/\.json$/, "") + "-timings.json"),
    cacheDir: path.resolve(get("--cache") ?? path.join(repoRoot, ".cache", "what-matters")),
    log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  runStudy(opts).then(
    ({ results, timings }) => console.log(`wrote ${opts.out}: ${results.runs.length} merged models scored, ${timings.merges} merges, ${timings.seconds.total.toFixed(0)} s (training ${timings.seconds.training.toFixed(0)} s) on ${results.environment.backend}`),
    (e) => {
      const rendered = (e as { rendered?: string }).rendered;
      console.error(rendered ?? (e instanceof MergelabError ? `mergelab: error: ${e.message}` : e));
      process.exit(1);
    },
  );
}
