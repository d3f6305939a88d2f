/**
 * Runner of the scale study: trains (or finds in the cache) the model zoo,
 * runs the grid, writes the results JSON.
 *
 *   npx tsx experiments/what-matters.ts [--profile full|quick] [--out FILE] [--cache DIR] [--driver language|typescript]
 *
 * The grid is experiments/what-matters.merge run by the merge language
 * (driver "language", the default); driver "typescript" runs the same grid
 * from experiments/grid.ts.
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
import { taskPools } from "../stdlib/eval/tasks.js";
import { INSTRUCTION_DOMAINS } from "../stdlib/eval/domains.js";
import { CHECKPOINTS_PER_WIDTH, PROFILES, trainingKey, releaseTrained, type Profile } from "../stdlib/eval/study.js";
import { runGridTs, type GridResult } from "./grid.js";
import { runGridLanguage } from "./language.js";

export const SCHEMA = "mergelab.what-matters/1";
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const SCRIPT = path.join(repoRoot, "experiments", "what-matters.merge");

export interface Options {
  profile: Profile;
  out: string;
  cacheDir: string;
  driver: "language" | "typescript";
  log?: (line: string) => void;
}

export interface Results extends GridResult {
  schema: string;
  profile: Profile;
  driver: string;
  /** checkpoints_trained = all of them: the run started from an empty cache. */
  environment: { backend: string; node: string; cpus: number; started: string; seconds: { total: number }; checkpoints_trained: number; checkpoints_total: number };
  design: {
    image: string;
    classes: string[];
    images_per_class: typeof PER_CLASS;
    eval_examples_per_task: typeof EVAL_PER_TASK;
    held_in: Array<{ id: string; cluster: number; classes: number[]; domain: string }>;
    held_out: Array<{ id: string; classes: number[]; domain: string }>;
    instruction_domains: string[];
    instruction_tasks: number;
    sizes: Array<{ width: number; params: number }>;
    training_key: string;
  };
}

export async function runStudy(opts: Options): Promise<Results> {
  let trained = 0;
  const log = (line: string) => {
    if (line.startsWith("trained ")) trained++;
    opts.log?.(line);
  };
  const backend = await initRuntime();
  const started = new Date();
  const t0 = Date.now();
  const grid = opts.driver === "language"
    ? await runGridLanguage(SCRIPT, opts.profile, opts.cacheDir, log)
    : await runGridTs(opts.profile, opts.cacheDir, log);
  releaseTrained();
  const results: Results = {
    schema: SCHEMA,
    profile: opts.profile,
    driver: opts.driver,
    environment: { backend, node: process.version, cpus: os.cpus().length, started: started.toISOString(), seconds: { total: (Date.now() - t0) / 1000 }, checkpoints_trained: trained, checkpoints_total: opts.profile.widths.length * CHECKPOINTS_PER_WIDTH },
    design: {
      image: `${SIDE}x${SIDE} (2x2 mean-pooled), in one of several domains (domains.ts), + 20-dim multi-hot instruction`,
      classes: CLASS_NAMES,
      images_per_class: PER_CLASS,
      eval_examples_per_task: EVAL_PER_TASK,
      held_in: taskPools().heldIn.map((t) => ({ id: t.id, cluster: t.cluster!, classes: t.classes, domain: t.domain })),
      held_out: taskPools().heldOut.map((t) => ({ id: t.id, classes: t.classes, domain: t.domain })),
      instruction_domains: INSTRUCTION_DOMAINS,
      instruction_tasks: taskPools().instruction.length,
      sizes: opts.profile.widths.map((width) => ({ width, params: paramCount(width) })),
      training_key: trainingKey(opts.profile),
    },
    ...grid,
  };
  fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  fs.writeFileSync(opts.out, JSON.stringify(results, null, 1) + "\n");
  return results;
}

function parseArgs(argv: string[]): Options {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const name = get("--profile") ?? "full";
  if (!(name in PROFILES)) throw new MergelabError(`--profile must be full or quick, got ${name}`);
  const driver = get("--driver") ?? "language";
  if (driver !== "language" && driver !== "typescript") throw new MergelabError(`--driver must be language or typescript, got ${driver}`);
  return {
    profile: PROFILES[name as "full" | "quick"],
    out: path.resolve(get("--out") ?? path.join(repoRoot, "notebooks", name === "full" ? "what-matters-results.json" : "what-matters-quick.json")),
    cacheDir: path.resolve(get("--cache") ?? path.join(repoRoot, ".cache", "what-matters")),
    driver,
    log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  runStudy(opts).then(
    (r) => console.log(`wrote ${opts.out}: ${r.runs.length} merged models, ${r.environment.seconds.total.toFixed(0)} s on ${r.environment.backend}`),
    (e) => {
      const rendered = (e as { rendered?: string }).rendered;
      console.error(rendered ?? (e instanceof MergelabError ? `mergelab: error: ${e.message}` : e));
      process.exit(1);
    },
  );
}
