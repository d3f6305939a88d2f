/**
 * The one API that saves a model — what the language's `save()`, the CLI (`mergelab run` of a script or
 * a mergekit config) and the TypeScript API all call:
 *
 *   planSave(model, request)   validate (dtype, shard size, output directory) and decide what is written:
 *                              the whole model, or shard I/N of it for scale-out — no tensor data read
 *   save(model, request)       planSave, then run the plan and write the checkpoint with its model card
 *                              (built from the model's merge steps and resolved parameters) and provenance
 *
 * Progress goes to `request.progress` (the CLI's line and the notebook's bar are both callers' views of it).
 * Paths in what is written — the card, `__metadata__` — are relative to `request.cwd`, never absolute.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { formatValue, shownPath } from "../core/present.js";
import { modelCard, type CardMethod } from "../io/card.js";
import { configShapes } from "../io/outconfig.js";
import { parseSize } from "../io/layout.js";
import { isEmptyOrAbsent } from "../io/staging.js";
import { checkOutputTarget, nonWeightFiles } from "../io/writer.js";
import { chatTemplateFiles, resolveChatTemplate } from "../io/chattemplate.js";
import type { Progress, SaveSummary } from "./exec/index.js";
import { inputPaths, type MergeStep, type ModelValue } from "./model.js";
import { parseDtype } from "./plan.js";
import { recipeHash, RECIPE_KEY, shardDir, shardModel, writeEmptyShard, type ShardSpec } from "./shard.js";

export interface SaveRequest {
  /** The output directory as the user wrote it (messages and the card's title use it). */
  path: string;
  /** Relative paths resolve against this; paths written into the output are relative to it. */
  cwd: string;
  /** "bf16" | "f16" | "f32" (default: each tensor's dtype in the base/first model). */
  dtype?: string;
  /** Bytes per shard: a number or "5GB", "500MB" (default 5GB). */
  shardSize?: string | number;
  overwrite?: boolean;
  /**
   * The output's chat template (mergekit's chat_template): a built-in name (chatml, llama3, alpaca,
   * mistral, exaone), "auto" (the most common among the inputs) or a Jinja template (io/chattemplate.ts).
   */
  chatTemplate?: string;
  /** Scale-out: write only shard `index` of `count` into OUT/.shards/ (`mergelab finalize OUT` assembles). */
  shard?: ShardSpec;
  /** What the card shows as the recipe: the script, and the mergekit config it was translated from. */
  recipe?: { text: string; mergekitConfig?: { file: string; text: string }; overrides?: ReadonlyArray<readonly [string, string]> };
  workers?: number;
  chunkSize?: number;
  signal?: AbortSignal;
  progress?: (p: Progress) => void;
  /** ISO date-time for the card (tests fix it); default now. */
  date?: string;
}

export interface SavePlan {
  /** What is computed: the model, or this shard's part of it. */
  model: ModelValue;
  /** Where it is written (OUT, or OUT/.shards/… for a shard). */
  target: string;
  /** The output directory (OUT), absolute. */
  output: string;
  /** Files written over the copied ones because of the request (the chat template's). */
  files: Record<string, string>;
}

/** A `param` on errors lets the language point at the argument at fault. */
function fail(message: string, param: string): never {
  throw new MergelabError(message, { param });
}

/** Validate a save and decide what it writes; reads no tensor data, writes nothing. */
export function planSave(whole: ModelValue, req: SaveRequest): SavePlan {
  const output = path.resolve(req.cwd, req.path);
  const model = req.shard ? shardModel(whole, req.shard) : whole;
  const target = req.shard ? shardDir(output, req.shard) : output;
  try {
    parseDtype(req.dtype);
  } catch (e) {
    fail((e as Error).message, "dtype");
  }
  try {
    parseSize(req.shardSize ?? "5GB");
  } catch (e) {
    fail((e as Error).message, "shard_size");
  }
  if (!req.overwrite && !isEmptyOrAbsent(target)) fail(`${req.path}: output exists and is not empty (use overwrite=true)`, "path");
  // never over, into or above an input or the working directory, nor over a directory that is not a model output
  try {
    checkOutputTarget(output, { overwrite: !req.shard && req.overwrite, cwd: req.cwd, inputs: inputPaths(whole) });
    if (req.shard) checkOutputTarget(target, { overwrite: req.overwrite });
  } catch (e) {
    if (!(e instanceof MergelabError)) throw e;
    fail(e.message.split(output).join(req.path).split(req.cwd + path.sep).join(""), "path");
  }
  return { model, target, output, files: req.chatTemplate === undefined ? {} : chatTemplateOutput(whole, req.chatTemplate) };
}

/** The files that carry a chat template into the output (validated: no tensor data read). */
function chatTemplateOutput(model: ModelValue, spec: string): Record<string, string> {
  const dirOf = (p: string) => (p.endsWith(".safetensors") ? path.dirname(p) : p);
  const inputs = [...new Set(model.inputs.flatMap((s) => (s.kind === "checkpoint" ? [dirOf(s.checkpoint.path)] : [])))];
  const template = resolveChatTemplate(spec, inputs);
  if (template === undefined) return {}; // auto, and no input has a template: the output keeps its own (mergekit)
  const origin = model.origin?.path;
  const copied = origin !== undefined && fs.existsSync(origin) && fs.statSync(origin).isDirectory() ? nonWeightFiles(origin) : [];
  const own = model.outputFiles?.["tokenizer_config.json"];
  const hasTokenizer = own !== undefined || ["tokenizer.json", "tokenizer.model", "tokenizer_config.json"].some((f) => copied.includes(f));
  if (!hasTokenizer) {
    fail(`chat_template: the output has no tokenizer to hold it (${origin === undefined ? "the model has no origin checkpoint" : `${path.basename(origin)} has no tokenizer.json or tokenizer_config.json`})`, "chat_template");
  }
  const configText = own ?? (copied.includes("tokenizer_config.json") ? fs.readFileSync(path.join(origin!, "tokenizer_config.json"), "utf8") : undefined);
  return chatTemplateFiles(template, configText, copied);
}

/** Run the model's plan and write it (see the file comment); null for a shard that has no tensors. */
export async function save(whole: ModelValue, req: SaveRequest): Promise<SaveSummary | null> {
  const { model, target, output, files } = planSave(whole, req);
  // a shard records the recipe it ran (script, --set values, config): finalize refuses shards of different recipes
  const recipe = req.shard ? recipeHash(req.recipe, req.shard.count, req.path) : undefined;
  if (req.shard && model.tensors.size === 0) {
    writeEmptyShard(target, recipe); // more shards than tensors: nothing to write here
    return null;
  }
  // the executor (worker pool, writer) loads here: `check` and dry runs plan a save without it
  const { saveModel } = await import("./exec/index.js");
  return saveModel(model, target, {
    ...(recipe ? { metadata: { [RECIPE_KEY]: recipe } } : {}),
    dtype: req.dtype,
    shardSize: req.shardSize,
    overwrite: req.overwrite,
    workers: req.workers,
    chunkSize: req.chunkSize,
    signal: req.signal,
    progress: req.progress,
    cwd: req.cwd,
    extraFiles: { ...(whole.outputFiles ?? {}), ...files, "README.md": cardFor(whole, { ...req, path: path.relative(req.cwd, output) || "." }) },
    numLayers: whole.numLayers,
    layerSources: whole.layerSources(),
    wholeShapes: configShapes((n) => whole.tensors.get(n)?.shape),
  });
}

/** `ties([models/a, models/b], base=models/base, k=0.2, λ=1)`: one step with its resolved parameters. */
export function stepCall(s: MergeStep, cwd: string): string {
  const rel = (l: string) => shownPath(l, cwd);
  const args = [
    ...(s.models.length ? [formatValue(s.models.map(rel), false).replace(/"/g, "")] : []),
    ...(s.base !== undefined ? [`base=${rel(s.base)}`] : []),
    ...s.params.map(([k, v]) => `${k}=${v}`),
  ];
  return `${s.name}(${args.join(", ")})`;
}

/**
 * The model card of one saved model, from its plan: the methods its merge steps call (blocks when it
 * calls no method), the base of the outermost method, every checkpoint it reads, the resolved parameters.
 */
export function cardFor(model: ModelValue, req: Pick<SaveRequest, "path" | "cwd" | "dtype" | "recipe" | "date">): string {
  const methodSteps = model.steps.filter((s) => s.kind === "method");
  const shown = methodSteps.length ? methodSteps : model.steps;
  const methods = new Map<string, CardMethod>();
  for (const s of shown) if (!methods.has(s.name)) methods.set(s.name, { name: s.name, paper: s.paper, call: stepCall(s, req.cwd) });
  const base = [...methodSteps].reverse().find((s) => s.base !== undefined)?.base;
  const baseLabel = base === undefined ? undefined : shownPath(base, req.cwd);
  const inputs = [...new Set(model.inputs.map((i) => shownPath(i.label, req.cwd)))];
  return modelCard({
    name: path.basename(path.resolve(req.cwd, req.path)),
    // the base first, then the merged models in the order the plan reads them
    inputs: baseLabel !== undefined && inputs.includes(baseLabel) ? [baseLabel, ...inputs.filter((i) => i !== baseLabel)] : inputs,
    base: baseLabel,
    methods: [...methods.values()],
    recipe: req.recipe?.text,
    mergekitConfig: req.recipe?.mergekitConfig,
    dtype: req.dtype,
    version: VERSION,
    date: req.date ?? new Date().toISOString(),
  });
}
