/**
 * Runner of the scale study (version 2, issue #14): trains (or finds in the
 * cache) every zoo, runs the grid — experiments/what-matters.merge, in the
 * merge language — analyses it (stdlib/eval/verdicts.ts) and writes the
 * results JSON. Wall-clock timings go to a separate file, so that the results
 * JSON of a rerun from an empty cache is the same bytes.
 *
 *   npx tsx experiments/what-matters.ts [--profile full|quick] [--out FILE] [--timings FILE] [--cache DIR] [--seeds 0,1]
 *   npx tsx experiments/what-matters.ts --combine OUT PART.json PART.json …
 *
 * --seeds runs only some zoo seeds (indices into the profile's seeds) and writes a part; --combine joins
 * the parts of all seeds into the results JSON — the same bytes as one run of all seeds (the script's
 * rows are in seed order), so the seeds can run in parallel processes.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { initRuntime } from "../core/runtime.js";
import { MergelabError } from "../core/errors.js";
import { CLASS_NAMES, PER_CLASS, SIDE } from "../stdlib/eval/data.js";
import { SCALE_EVAL_PER_TASK } from "../stdlib/eval/metrics.js";
import { DEPTH, INPUT_DIM, OUTPUT_DIM, paramCount } from "../stdlib/eval/model.js";
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
  /** only these zoo seed indices: the output is a part for --combine */
  seeds?: number[];
  log?: (line: string) => void;
}

export interface Part extends Rows {
  schema: string;
  profile: string;
  seeds: number[];
  environment: { backend: string; node: string };
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

function checkpointCount(p: ScaleProfile, seeds: number[]): number {
  let n = 0;
  seeds.forEach((i) => {
    for (const b of ["pretrained", "instruction_tuned"] as const) for (const s of settingsFor(p, i, b)) n += 8 + (s.multitaskSteps > 0 ? 1 : 0);
  });
  return (n + 2 * seeds.length) * p.widths.length;
}

export async function runStudy(opts: Options): Promise<{ results: Results; timings: Timings }> {
  const { part, timings } = await runPart(opts);
  const results = assemble(opts.profile, [part]);
  writeJson(opts.out, results);
  writeJson(opts.timings, timings);
  return { results, timings };
}

/** Train the zoos of some seeds (all by default) and run the grid on them. */
export async function runPart(opts: Options): Promise<{ part: Part; timings: Timings }> {
  const log = opts.log ?? (() => {});
  const backend = await initRuntime();
  const started = new Date();
  const t0 = Date.now();
  trainingSeconds.length = 0;
  const p = opts.profile;
  const seeds = opts.seeds ?? p.seeds.map((_, i) => i);
  for (const i of seeds) {
    if (!Number.isInteger(i) || i < 0 || i >= p.seeds.length) throw new MergelabError(`--seeds: ${i} is not a seed index of profile ${p.name} (0..${p.seeds.length - 1})`);
  }
  for (const i of seeds) for (const width of p.widths) await ensureScaleZoo(opts.cacheDir, p, i, width, log);
  const t1 = Date.now();
  const rows = await runScript(SCRIPT, p.name, opts.cacheDir, log, opts.seeds);
  const t2 = Date.now();
  const part: Part = { schema: `${SCHEMA}/part`, profile: p.name, seeds, environment: { backend, node: process.version }, ...rows };
  const timings: Timings = {
    started: started.toISOString(),
    cpus: os.cpus().length,
    load_average: os.loadavg().map((x) => Math.round(x * 100) / 100),
    seconds: { total: (t2 - t0) / 1000, training: (t1 - t0) / 1000, grid: (t2 - t1) / 1000 },
    checkpoints_trained: trainingSeconds.length,
    checkpoints_total: checkpointCount(p, seeds),
    merges: rows.runs.length + rows.choices.reduce((s, c) => s + Math.max(1, c.candidates.length), 0),
    per_checkpoint: [...trainingSeconds],
  };
  if (opts.seeds) {
    writeJson(opts.out, part);
    writeJson(opts.timings, timings);
  }
  return { part, timings };
}

function writeJson(file: string, data: unknown): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(data, null, 1) + "\n");
}

/** The results JSON from the parts of every seed (in seed order: the rows a single run writes). */
export function assemble(p: ScaleProfile, parts: Part[]): Results {
  const sorted = [...parts].sort((a, b) => a.seeds[0] - b.seeds[0]);
  const seeds = sorted.flatMap((x) => x.seeds);
  if (JSON.stringify(seeds) !== JSON.stringify(p.seeds.map((_, i) => i))) throw new MergelabError(`combine: the parts cover seeds [${seeds}], expected each of 0..${p.seeds.length - 1} once, in order`);
  for (const x of sorted) {
    if (x.profile !== p.name) throw new MergelabError(`combine: a part of profile ${x.profile}, expected ${p.name}`);
    if (JSON.stringify(x.environment) !== JSON.stringify(sorted[0].environment)) throw new MergelabError("combine: parts from different environments");
  }
  const rows: Rows = { runs: [], baselines: [], choices: [], diagnostics: [] };
  for (const x of sorted) for (const k of ["runs", "baselines", "choices", "diagnostics"] as const) (rows[k] as unknown[]).push(...x[k]);
  const initial = Object.fromEntries(Object.entries(p.sweep).map(([m, hs]) => [m, hs.length + 1]));
  const pools = scalePools();
  return {
    schema: SCHEMA,
    profile: p,
    environment: sorted[0].environment,
    design: {
      image: `${SIDE}x${SIDE} (2x2 mean-pooled MNIST digits + Fashion-MNIST clothing) under a corruption the model is not told, + 20-dim multi-hot instruction`,
      classes: CLASS_NAMES,
      images_per_class: PER_CLASS,
      eval_examples_per_task: SCALE_EVAL_PER_TASK,
      severity: SEVERITY,
      held_in_corruptions: HELD_IN_CORRUPTIONS,
      instruction_corruptions: INSTRUCTION_CORRUPTIONS,
      held_in: pools.heldIn.map((t) => ({ id: t.id, cluster: t.cluster!, classes: t.classes, corruption: t.corruption })),
      held_out: pools.heldOut.map((t) => ({ id: t.id, classes: t.classes, corruption: t.corruption })),
      instruction_tasks: pools.instruction.length,
      architecture: { inputs: INPUT_DIM, hidden_layers: DEPTH - 1, outputs: OUTPUT_DIM },
      sizes: p.widths.map((width) => ({ width, params: paramCount(width) })),
      training_key: scaleTrainingKey(p),
      primary_setting: PRIMARY_SETTING,
      confidence_percent: 95,
      delta: DELTA,
      initial_candidates: initial,
    },
    ...rows,
    analysis: analyse(rows, PRIMARY_SETTING, initial, p.reduced),
  };
}

/** Join part files (and their timings files, when present) into the results JSON and one timings file. */
export function combine(out: string, files: string[]): Results {
  const parts = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as Part);
  const p = SCALE_PROFILES[parts[0]?.profile as "full" | "quick"];
  if (!p) throw new MergelabError("combine: no parts, or an unknown profile");
  const results = assemble(p, parts);
  writeJson(out, results);
  const ts = files.map((f) => f.replace(/\.json$/, "") + "-timings.json").filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as Timings);
  if (ts.length) {
    const sum = (g: (t: Timings) => number) => Math.round(ts.reduce((a, t) => a + g(t), 0) * 1000) / 1000;
    writeJson(out.replace(/\.json$/, "") + "-timings.json", {
      parts: ts.length,
      started: ts.map((t) => t.started).sort()[0],
      wall_seconds: Math.max(...ts.map((t) => Date.parse(t.started) / 1000 + t.seconds.total)) - Math.min(...ts.map((t) => Date.parse(t.started) / 1000)),
      cpus: ts[0].cpus,
      load_average: ts.map((t) => t.load_average),
      seconds: { total: sum((t) => t.seconds.total), training: sum((t) => t.seconds.training), grid: sum((t) => t.seconds.grid) },
      checkpoints_trained: sum((t) => t.checkpoints_trained),
      checkpoints_total: sum((t) => t.checkpoints_total),
      merges: sum((t) => t.merges),
      per_checkpoint: ts.flatMap((t) => t.per_checkpoint),
    });
  }
  return results;
}

function parseArgs(argv: string[]): Options {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seeds = get("--seeds");
  const name = get("--profile") ?? "full";
  if (!(name in SCALE_PROFILES)) throw new MergelabError(`--profile must be full or quick, got ${name}`);
  const out = path.resolve(get("--out") ?? path.join(repoRoot, "notebooks", name === "full" ? "what-matters-results.json" : "what-matters-quick.json"));
  return {
    profile: SCALE_PROFILES[name as "full" | "quick"],
    out,
    timings: path.resolve(get("--timings") ?? out.replace(/\.json$/, "") + "-timings.json"),
    cacheDir: path.resolve(get("--cache") ?? path.join(repoRoot, ".cache", "what-matters")),
    seeds: seeds === undefined ? undefined : seeds.split(",").map(Number),
    log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argv[0] === "--combine") {
    const r = combine(path.resolve(argv[1]), argv.slice(2).map((f) => path.resolve(f)));
    console.log(`wrote ${argv[1]}: ${r.runs.length} merged models scored`);
    process.exit(0);
  }
  const opts = parseArgs(argv);
  (opts.seeds ? runPart(opts).then(({ part, timings }) => ({ results: part, timings })) : runStudy(opts)).then(
    ({ results, timings }) => console.log(`wrote ${opts.out}: ${results.runs.length} merged models scored, ${timings.merges} merges, ${timings.seconds.total.toFixed(0)} s (training ${timings.seconds.training.toFixed(0)} s) on ${results.environment.backend}`),
    (e) => {
      const rendered = (e as { rendered?: string }).rendered;
      console.error(rendered ?? (e instanceof MergelabError ? `mergelab: error: ${e.message}` : e));
      process.exit(1);
    },
  );
}
