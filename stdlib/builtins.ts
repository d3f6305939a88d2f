/**
 * Built-in functions of the merge language that are not merge methods:
 * loading and saving checkpoints, printing, list/number utilities, results
 * tables, schedules and explain. Relative paths resolve against ctx.cwd.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import { headerOnlyModel, loadModel, mapTensors, isModel, type ModelValue } from "../engine/model.js";
import { loraModel } from "../engine/lora.js";
import { alignVocab } from "../engine/vocab.js";
import type { TokenOverride } from "../io/vocab.js";
import { fetchHubHeaders, isHubReference, isOfflineEnv, parseHubId, resolveCached, resolveHubModel, type DownloadProgress } from "../io/hub.js";
import { layers as layerSchedule, match as matchSchedule, isSchedule, type Schedule } from "../engine/param-schedule.js";
import { explainPlan } from "../engine/plan.js";
import type { Progress, SaveSummary } from "../engine/exec/index.js";
import { planSave, save as saveModel, type SaveRequest } from "../engine/save.js";
import { withProgress } from "../core/progress.js";
import { type Args, type CallContext, type FunctionSpec } from "./spec.js";
import { Dict, Table, type Value } from "../core/values.js";
import { formatValue } from "../core/present.js";
import { describeValue } from "./check.js";

/** What a script run records besides values (explain and the CLI read it). */
export interface ScriptHooks {
  /** Every save() call, in order (in dry runs too). */
  saved: Array<{ model: ModelValue; path: string; dtype?: string }>;
  /** Engine progress while a save runs (the CLI's progress line). */
  progress?: (p: Progress) => void;
  /** A save finished (replaces the default "saved …" line on stdout). */
  onSaved?: (s: SaveSummary) => void;
}
type ScriptContext = CallContext & { hooks?: ScriptHooks };

const str = (v: Value | undefined) => v as string;

// ---------------------------------------------------------------- files

/** Glob relative to `cwd`: `*` and `?` within a path segment, `**` for any number of directories. Sorted. */
export function glob(pattern: string, cwd: string): string[] {
  const abs = path.resolve(cwd, pattern);
  const root = path.parse(abs).root;
  const segments = abs.slice(root.length).split(path.sep).filter((s) => s !== "");
  const toRegex = (seg: string) => new RegExp(`^${seg.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`);
  const out = new Set<string>();
  const walk = (dir: string, i: number): void => {
    if (i === segments.length) {
      out.add(dir);
      return;
    }
    const seg = segments[i]!;
    if (seg === "**") {
      walk(dir, i + 1);
      for (const e of readDir(dir)) if (e.isDirectory() && !e.name.startsWith(".")) walk(path.join(dir, e.name), i);
      return;
    }
    if (!/[*?]/.test(seg)) {
      const next = path.join(dir, seg);
      if (fs.existsSync(next)) walk(next, i + 1);
      return;
    }
    const re = toRegex(seg);
    for (const e of readDir(dir)) if (re.test(e.name) && !(e.name.startsWith(".") && !seg.startsWith("."))) walk(path.join(dir, e.name), i + 1);
  };
  walk(root, 0);
  return [...out].sort();
}

function readDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** A checkpoint: a directory with model.safetensors (or shards + index), or a .safetensors file. */
function isCheckpoint(p: string): boolean {
  try {
    if (fs.statSync(p).isFile()) return p.endsWith(".safetensors");
    return fs.readdirSync(p).some((f) => f.endsWith(".safetensors") || f.endsWith(".safetensors.index.json"));
  } catch {
    return false;
  }
}

/** Download progress on stderr, at most every 2 s and at the end of each file. */
function downloadReporter(id: string, ctx: CallContext): ((p: DownloadProgress) => void) | undefined {
  if (ctx.options.quiet || !ctx.stderr) return undefined;
  let last = 0;
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  return (p) => {
    const now = Date.now();
    if (now - last < 2000 && p.fileBytes < p.fileTotal) return;
    last = now;
    ctx.stderr!(`downloading ${id}: ${mb(p.bytesDone)} of ${mb(p.bytesTotal)}, ${p.filesDone}/${p.filesTotal} files (${p.file})\n`);
  };
}

/**
 * A Hub id → a local snapshot directory (the cache, else a download), or, in a dry run of an
 * uncached model, its headers only (ranged reads, no weights downloaded).
 */
async function resolveHub(id: string, ctx: CallContext, wantDir: boolean): Promise<{ dir: string } | { headers: Awaited<ReturnType<typeof fetchHubHeaders>> }> {
  const ref = parseHubId(id)!;
  const offline = ctx.options.offline || isOfflineEnv();
  const cached = resolveCached(ref);
  if (cached) return { dir: cached.dir };
  if (ctx.dryRun && !wantDir) return { headers: await fetchHubHeaders(ref, { offline }) };
  return { dir: (await resolveHubModel(ref, { offline, onProgress: downloadReporter(id, ctx) })).dir };
}

const load: FunctionSpec = {
  name: "load",
  category: "io",
  doc: "Open a checkpoint: a Hugging Face directory (model.safetensors or shards + index), one .safetensors file, or a Hub id `org/name[@revision]` (the Hugging Face cache, else a download of its safetensors and config files; see docs/huggingface.md). With `base`, `path` is a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) and the result is base + (α/r)·B·A, computed chunk by chunk. Reads and validates the headers only; tensor data is read when a result is consumed.",
  example: 'base = load("models/base")',
  params: [
    { name: "path", type: "string", required: true, doc: "checkpoint directory or .safetensors file (relative to the working directory), or a Hub id org/name[@revision]" },
    { name: "label", type: "string", doc: "name used in messages and explain (default: the path)" },
    { name: "base", type: "model", doc: "load `path` as a LoRA adapter on this model" },
  ],
  returns: "model",
  call: async (a, ctx) => {
    const p = str(a.path);
    const label = a.label as string | undefined;
    const base = a.base === null || a.base === undefined ? undefined : (a.base as ModelValue);
    try {
      let dir = p;
      let hubId: string | undefined;
      if (isHubReference(p, ctx.cwd)) {
        hubId = p;
        const r = await resolveHub(p, ctx, base !== undefined);
        if ("headers" in r) return headerOnlyModel(r.headers.tensors, label ?? p, r.headers.config);
        dir = r.dir;
      }
      if (base) return loraModel(base, path.resolve(ctx.cwd, dir), label ?? p);
      return loadModel(dir, { cwd: ctx.cwd, label: label ?? hubId, hubId });
    } catch (e) {
      if (!(e instanceof MergelabError) || e.details.tensor) throw e;
      // messages name the path as the user wrote it, not the absolute one
      const message = e.message.split(path.resolve(ctx.cwd, str(a.path))).join(str(a.path));
      throw new MergelabError(message, { ...e.details, param: "path" });
    }
  },
};

const loadAll: FunctionSpec = {
  name: "load_all",
  category: "io",
  doc: "Open every checkpoint matching a glob pattern (`*`, `?` within a name, `**` for any depth), sorted by path. Non-checkpoint matches are skipped; no match is an error.",
  example: 'experts = load_all("models/experts/*")',
  params: [{ name: "pattern", type: "string", required: true, doc: "glob pattern relative to the working directory" }],
  returns: "models",
  call: (a, ctx) => {
    const paths = glob(str(a.pattern), ctx.cwd).filter(isCheckpoint);
    if (paths.length === 0) throw new MergelabError(`no checkpoint matches ${JSON.stringify(a.pattern)}`, { param: "pattern" });
    return paths.map((p) => loadModel(p, { label: path.relative(ctx.cwd, p) || p }));
  },
};

const alignVocabSpec: FunctionSpec = {
  name: "align_vocab",
  category: "io",
  doc: "Re-index models to one vocabulary by token string (each model's tokenizer.json; mergekit's tokenizer_source): `source=\"union\"` (the base's tokens, then every other model's it lacks), `\"base\"` (the base's), or a model (its tokenizer). A model lacking a token gets the only model's row that has it, else the base's, else the mean of those that have it; rows past the vocabulary (`pad_to_multiple_of`) are the mean row; `tokens=` sets rows of chosen tokens (mergekit's tokenizer: tokens:). Embedding and lm_head rows are read chunk by chunk; a save writes the output tokenizer.json and tokenizer_config.json. Loaded checkpoints only (before merging).",
  example: 'ab = align_vocab([load("models/a"), load("models/b")], source="union")',
  params: [
    { name: "models", type: "models", required: true, doc: "loaded checkpoints with tokenizer.json" },
    { name: "base", type: "model", doc: "the base model (default: the first); one of `models`" },
    { name: "source", type: ["string", "model"], default: "union", doc: "\"union\", \"base\", or the model whose tokenizer the output uses" },
    { name: "pad_to_multiple_of", type: "int", range: { min: 1 }, doc: "pad the rows to a multiple of this" },
    { name: "tokens", type: "dict", doc: 'per-token rows (mergekit\'s tokenizer: tokens:): {"<|im_start|>": {source: m}} (m\'s row of that token), {source: m, token: "<s>"} or {source: m, token_id: 1} (m\'s row of another token), {source: "zero"}; force: true uses it in every model, even one that has the token. Tokens not in the vocabulary are added' },
  ],
  returns: "models",
  call: (a) => {
    const models = a.models as ModelValue[];
    const base = a.base === null || a.base === undefined ? undefined : (a.base as ModelValue);
    const baseIdx = base === undefined ? undefined : models.indexOf(base);
    if (baseIdx === -1) throw new MergelabError("base must be one of the models", { param: "base" });
    let source: "union" | "base" | { model: number };
    if (isModel(a.source)) {
      const i = models.indexOf(a.source);
      if (i < 0) throw new MergelabError("source must be \"union\", \"base\" or one of the models", { param: "source" });
      source = { model: i };
    } else if (a.source === "union" || a.source === "base") source = a.source;
    else throw new MergelabError(`source ${JSON.stringify(a.source)}: expected "union", "base" or one of the models`, { param: "source" });
    const pad = a.pad_to_multiple_of === null || a.pad_to_multiple_of === undefined ? undefined : Number(a.pad_to_multiple_of);
    const tokens = a.tokens === null || a.tokens === undefined ? undefined : tokenOverrides(a.tokens as Dict, models);
    return alignVocab(models, { base: baseIdx, source, padToMultipleOf: pad, tokens }).models;
  },
};

/** align_vocab's tokens= dict: {token: model | "zero" | {source, token | token_id, force}} → io/vocab.ts overrides. */
function tokenOverrides(d: Dict, models: readonly ModelValue[]): Record<string, TokenOverride> {
  const fail = (t: string, why: string): never => {
    throw new MergelabError(`tokens: ${JSON.stringify(t)}: ${why}`, { param: "tokens" });
  };
  const out: Record<string, TokenOverride> = {};
  for (const [token, v] of d.entries) {
    const fields = v instanceof Dict ? v.entries : new Map<string, unknown>([["source", v]]);
    for (const k of fields.keys()) if (!["source", "token", "token_id", "force"].includes(k)) fail(token, `unknown field '${k}' (source, token, token_id, force)`);
    const src = fields.get("source");
    const force = fields.get("force");
    if (force !== undefined && force !== null && typeof force !== "boolean") fail(token, "force must be true or false");
    const tok = fields.get("token");
    const id = fields.get("token_id");
    let source: TokenOverride["source"];
    if (src === "zero") {
      if (tok !== undefined || id !== undefined) fail(token, 'token/token_id need a model source, not "zero"');
      source = { kind: "zero" };
    } else if (isModel(src)) {
      const model = models.indexOf(src);
      if (model < 0) fail(token, "source must be one of the aligned models");
      if (tok !== undefined && id !== undefined) fail(token, "give token or token_id, not both");
      if (tok !== undefined && typeof tok !== "string") fail(token, "token must be a string");
      if (id !== undefined && !(typeof id === "number" && Number.isInteger(id) && id >= 0)) fail(token, "token_id must be a non-negative integer");
      source = tok !== undefined || id !== undefined ? { kind: "model_token", model, token: tok as string | undefined, tokenId: id as number | undefined } : { kind: "model", model };
    } else {
      fail(token, `source must be one of the aligned models or "zero"${src === undefined ? " (mergekit needs a source too)" : ""}`);
    }
    out[token] = { source, force: force === true };
  }
  return out;
}

const save: FunctionSpec = {
  name: "save",
  category: "io",
  doc: "Run a model's plan and write it as a checkpoint directory (model.safetensors, or shards + index above shard_size), with the base's config and tokenizer files. Written to a temporary sibling and renamed at the end. In a dry run (check, --dry-run) everything is validated and nothing is written.",
  example: 'save(m, "out/ties", dtype="bf16")',
  params: [
    { name: "model", type: "model", required: true, doc: "the model to write" },
    { name: "path", type: "string", required: true, doc: "output directory (relative to the working directory)" },
    { name: "dtype", type: "string", choices: ["bf16", "f16", "f32"], doc: "dtype of float tensors (default: as in the base/first model)" },
    { name: "shard_size", type: ["string", "number"], default: "5GB", doc: 'maximum bytes per shard ("5GB", "500MB" or a number)' },
    { name: "overwrite", type: "bool", default: false, doc: "replace a non-empty output directory" },
    { name: "chat_template", type: "string", doc: 'the output tokenizer\'s chat template: "chatml", "llama3", "alpaca", "mistral", "exaone", "auto" (the most common among the inputs) or a Jinja template; parsed and rendered at check time' },
  ],
  returns: "any",
  call: async (a, ctx: ScriptContext) => {
    const model = a.model as ModelValue;
    const request: SaveRequest = {
      path: str(a.path),
      cwd: ctx.cwd,
      dtype: a.dtype as string | undefined,
      shardSize: a.shard_size as string | number,
      overwrite: a.overwrite as boolean,
      chatTemplate: a.chat_template === null || a.chat_template === undefined ? undefined : str(a.chat_template),
      shard: ctx.options.shard,
      recipe: ctx.options.recipe,
      workers: ctx.options.workers,
      chunkSize: ctx.options.chunkSize,
      signal: ctx.signal,
    };
    const planned = planSave(model, request);
    ctx.hooks?.saved.push({ model: planned.model, path: planned.target, dtype: request.dtype });
    // a dry run stops here: arguments, schedules and ranges were checked when the model was built
    if (ctx.dryRun) return null;
    // the notebook's live bar (core/progress.ts) and the CLI's line (hooks.progress) both follow the engine
    const summary = await withProgress(ctx, `saving ${request.path}`, (bar) =>
      saveModel(model, { ...request, progress: (p) => (ctx.hooks?.progress?.(p), bar(p)) }),
    );
    if (!summary) return null;
    if (ctx.hooks?.onSaved) ctx.hooks.onSaved(summary);
    else if (!ctx.options.quiet) {
      ctx.stdout(`saved ${request.path}: ${summary.tensors} tensors, ${(summary.bytes / 1e6).toFixed(1)} MB in ${summary.seconds.toFixed(2)} s\n`);
    }
    return null;
  },
};

// ---------------------------------------------------------------- output

const print: FunctionSpec = {
  name: "print",
  category: "util",
  doc: "Write values to standard output (the notebook cell's output), separated by `sep`.",
  example: 'print("k =", 0.2)',
  params: [
    { name: "values", type: "any", rest: true, data: true, doc: "values to print" },
    { name: "sep", type: "string", default: " ", doc: "separator between values" },
  ],
  returns: "any",
  call: (a, ctx) => {
    ctx.stdout((a.values as Value[]).map((v) => formatValue(v)).join(str(a.sep)) + "\n");
    return null;
  },
};

const warn: FunctionSpec = {
  name: "warn",
  category: "util",
  doc: "Write values to standard error (the notebook cell's stderr stream, shown highlighted), separated by `sep`: for warnings that should stand out from results.",
  example: 'warn("k =", 0.9, "keeps almost every parameter")',
  params: [
    { name: "values", type: "any", rest: true, data: true, doc: "values to write" },
    { name: "sep", type: "string", default: " ", doc: "separator between values" },
  ],
  returns: "any",
  call: (a, ctx) => {
    (ctx.stderr ?? ctx.stdout)((a.values as Value[]).map((v) => formatValue(v)).join(str(a.sep)) + "\n");
    return null;
  },
};

const clearOutput: FunctionSpec = {
  name: "clear_output",
  category: "util",
  doc: "Clear the notebook cell's output so far (e.g. to redraw a figure in a loop). With `wait=true` the old output stays until new output arrives, which avoids flicker. Outside a notebook it does nothing.",
  example: "clear_output(wait=true)",
  params: [{ name: "wait", type: "bool", default: false, doc: "keep the old output until the next output replaces it" }],
  returns: "any",
  call: (a, ctx) => {
    ctx.clearOutput?.(a.wait === true);
    return null;
  },
};

const explain: FunctionSpec = {
  name: "explain",
  category: "util",
  doc: "The execution plan of one or more models: per output tensor the op DAG (shared subexpressions computed once per chunk), with the bytes read and written and the peak memory. Text in the terminal, HTML in notebooks.",
  example: "explain(ties(experts, base=base, k=0.2))",
  params: [{ name: "models", type: ["model", "models"], required: true, doc: "a model or a list of models planned together" }],
  returns: "any",
  call: (a, ctx) => explainPlan(Array.isArray(a.models) ? (a.models as ModelValue[]) : [a.models as ModelValue], { workers: ctx.options.workers, chunkSize: ctx.options.chunkSize }),
};

// ---------------------------------------------------------------- numbers and lists

function numbersOrModels(name: string, xs: Value[]): "numbers" | "models" {
  if (xs.length === 0) throw new MergelabError(`${name}() of an empty list`, { param: "xs" });
  if (xs.every((x) => typeof x === "number")) return "numbers";
  if (xs.every(isModel)) return "models";
  const bad = xs.find((x) => typeof x !== typeof xs[0] || (isModel(xs[0]) && !isModel(x)));
  throw new MergelabError(`${name}() needs a list of numbers or a list of models, got ${describeValue(bad ?? xs[0])} in it`, { param: "xs" });
}

/** Σ x_i per tensor: one n-ary node chain per tensor (the engine's mapTensors). */
export function sumModels(models: ModelValue[], scale = 1): ModelValue {
  const label = `${scale === 1 ? "sum" : "mean"}(${models.map((m) => m.label).join(", ")})`;
  return mapTensors(models, (g, inputs) => {
    const total = inputs.slice(1).reduce((acc, x) => g.add(acc, x), inputs[0]!);
    return scale === 1 ? total : g.mul(total, scale);
  }, { label });
}

const sum: FunctionSpec = {
  name: "sum",
  category: "util",
  doc: "Sum of a list of numbers, or of a list of models tensor by tensor (e.g. the sum of task vectors).",
  example: "m = base + 0.3 * sum(experts - base)",
  params: [{ name: "xs", type: "list", required: true, data: true, doc: "numbers or models" }],
  returns: "any",
  call: (a) => {
    const xs = a.xs as Value[];
    if (numbersOrModels("sum", xs) === "numbers") return (xs as number[]).reduce((s, x) => s + x, 0);
    return sumModels(xs as ModelValue[]);
  },
};

const mean: FunctionSpec = {
  name: "mean",
  category: "util",
  doc: "Mean of a list of numbers, or of a list of models tensor by tensor (uniform model soup).",
  example: "soup = mean(experts)",
  params: [{ name: "xs", type: "list", required: true, data: true, doc: "numbers or models" }],
  returns: "any",
  call: (a) => {
    const xs = a.xs as Value[];
    if (numbersOrModels("mean", xs) === "numbers") return (xs as number[]).reduce((s, x) => s + x, 0) / xs.length;
    return sumModels(xs as ModelValue[], 1 / xs.length);
  },
};

function extreme(name: "min" | "max"): FunctionSpec {
  return {
    name,
    category: "util",
    doc: `The ${name === "min" ? "smallest" : "largest"} of a list of numbers (or of the numbers given).`,
    example: `${name}([0.1, 0.5, 0.2])`,
    params: [{ name: "xs", type: ["list", "number"], rest: true, data: true, doc: "a list of numbers, or numbers" }],
    returns: "number",
    call: (a) => {
      const args = a.xs as Value[];
      const xs = args.length === 1 && Array.isArray(args[0]) ? (args[0] as Value[]) : args;
      if (xs.length === 0) throw new MergelabError(`${name}() of an empty list`, { param: "xs" });
      if (!xs.every((x) => typeof x === "number")) throw new MergelabError(`${name}() needs numbers`, { param: "xs" });
      return name === "min" ? Math.min(...(xs as number[])) : Math.max(...(xs as number[]));
    },
  };
}

const len: FunctionSpec = {
  name: "len",
  category: "util",
  doc: "Number of items of a list, characters of a string, entries of a dict, rows of a table, or tensors of a model.",
  example: "len(experts)",
  params: [{ name: "x", type: ["list", "string", "dict", "table", "model"], required: true, data: true, doc: "the collection" }],
  returns: "int",
  call: (a) => {
    const x = a.x;
    if (Array.isArray(x) || typeof x === "string") return x.length;
    if (x instanceof Dict) return x.entries.size;
    if (x instanceof Table) return x.rows.length;
    return (x as ModelValue).tensors.size;
  },
};

const MAX_RANGE = 1_000_000;
const range: FunctionSpec = {
  name: "range",
  category: "util",
  doc: "The list start, start+step, … below stop (Python's range): range(3) is [0, 1, 2]; range(0, 1, 0.25) works with fractions too.",
  example: "[k / 10 for k in range(1, 6)]",
  params: [
    { name: "start", type: "number", required: true, doc: "first value, or the stop when it is the only argument" },
    { name: "stop", type: "number", doc: "values stay below this" },
    { name: "step", type: "number", default: 1, doc: "increment (not 0)" },
  ],
  returns: "list",
  call: (a) => {
    const [start, stop] = a.stop === undefined || a.stop === null ? [0, a.start as number] : [a.start as number, a.stop as number];
    const step = a.step as number;
    if (step === 0 || !Number.isFinite(step)) throw new MergelabError("range() step must be a non-zero number", { param: "step" });
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (!(n <= MAX_RANGE)) throw new MergelabError(`range() of ${n} values is too long (at most ${MAX_RANGE})`, { param: "stop" });
    return Array.from({ length: n }, (_, i) => start + i * step);
  },
};

const round: FunctionSpec = {
  name: "round",
  category: "util",
  doc: "A number rounded to `digits` decimals (half away from zero).",
  example: "round(0.12345, 3)",
  params: [
    { name: "x", type: "number", required: true, data: true, doc: "a number" },
    { name: "digits", type: "int", default: 0, range: { min: 0, max: 15 }, doc: "decimals to keep" },
  ],
  returns: "number",
  call: (a) => {
    const f = 10 ** (a.digits as number);
    const x = a.x as number;
    return (Math.sign(x) * Math.round(Math.abs(x) * f)) / f;
  },
};

const strFn: FunctionSpec = {
  name: "str",
  category: "util",
  doc: "The text of a value, as print shows it.",
  example: 'name = "k=" + str(0.2)',
  params: [{ name: "x", type: "any", required: true, data: true, doc: "any value" }],
  returns: "string",
  call: (a) => formatValue(a.x ?? null),
};

const zip: FunctionSpec = {
  name: "zip",
  category: "util",
  doc: "Pairs up lists item by item (as long as the shortest): zip([1, 2], [a, b]) is [[1, a], [2, b]].",
  example: "pairs = zip([0.3, 0.7], experts)",
  params: [{ name: "lists", type: "list", rest: true, data: true, doc: "lists to pair up" }],
  returns: "list",
  call: (a) => {
    const ls = a.lists as Value[][];
    const n = ls.length === 0 ? 0 : Math.min(...ls.map((l) => l.length));
    return Array.from({ length: n }, (_, i) => ls.map((l) => l[i] as Value));
  },
};

// ---------------------------------------------------------------- tables

function rowsToTable(rows: Value[]): Table {
  const columns: string[] = [];
  for (const [i, r] of rows.entries()) {
    if (!(r instanceof Dict)) throw new MergelabError(`table(): row ${i} is ${describeValue(r)}, expected a record like {k: 0.2, acc: 0.9}`, { param: "rows" });
    for (const k of r.entries.keys()) if (!columns.includes(k)) columns.push(k);
  }
  return new Table(columns, rows.map((r) => columns.map((c) => (r as Dict).entries.get(c) ?? null)));
}

const table: FunctionSpec = {
  name: "table",
  category: "util",
  doc: "A results table from a list of records (one row each; columns in order of first appearance, missing cells none) or from a dict of equally long column lists. Tables display in notebooks and feed plot().",
  example: "results = table([{k: k, acc: 0.5 + k} for k in [0.1, 0.2]])",
  params: [{ name: "rows", type: ["list", "dict"], required: true, data: true, doc: "records, or {column: [values]}" }],
  returns: "table",
  call: (a) => {
    if (Array.isArray(a.rows)) return rowsToTable(a.rows);
    const cols = a.rows as Dict;
    const lists = [...cols.entries.values()];
    if (!lists.every(Array.isArray)) throw new MergelabError("table(): every column of a dict must be a list", { param: "rows" });
    const n = (lists[0] as Value[] | undefined)?.length ?? 0;
    if (lists.some((l) => (l as Value[]).length !== n)) throw new MergelabError("table(): columns have different lengths", { param: "rows" });
    return new Table([...cols.entries.keys()], Array.from({ length: n }, (_, i) => lists.map((l) => (l as Value[])[i] as Value)));
  },
};

const records: FunctionSpec = {
  name: "records",
  category: "util",
  doc: "The rows of a table as a list of records (the inverse of table()).",
  example: "[r.acc for r in records(results)]",
  params: [{ name: "t", type: "table", required: true, doc: "a table" }],
  returns: "list",
  call: (a) => {
    const t = a.t as Table;
    return t.rows.map((r) => new Dict(new Map(t.columns.map((c, i) => [c, r[i] as Value]))));
  },
};

const keys: FunctionSpec = {
  name: "keys",
  category: "util",
  doc: "The keys of a dict or record, or the column names of a table, or the tensor names of a model.",
  example: 'keys({"mlp": 0.1, "self_attn": 0.3})',
  params: [{ name: "x", type: ["dict", "table", "model"], required: true, doc: "a dict, table or model" }],
  returns: "list",
  call: (a) => (a.x instanceof Dict ? [...a.x.entries.keys()] : a.x instanceof Table ? [...a.x.columns] : [...(a.x as ModelValue).tensors.keys()]),
};

// ---------------------------------------------------------------- schedules

const layers: FunctionSpec = {
  name: "layers",
  category: "schedule",
  doc: "A per-layer value, mergekit's gradient: linearly interpolated over the layer index in the tensor name (`layers.N.`, `layer.N.`, `h.N.`, `blocks.N.`); every tensor outside the layer stack (embeddings, final norm, lm_head) takes the first value, and a one-layer stack the last (mergekit's t = 0 and t = 1).",
  example: "m = slerp(a, b, t=layers([0, 0.5, 1]))",
  params: [{ name: "values", type: "list", required: true, doc: "values from the first layer to the last" }],
  returns: "schedule",
  call: (a) => {
    const vs = a.values as Value[];
    if (vs.length === 0) throw new MergelabError("layers() needs at least one value", { param: "values" });
    const bad = vs.find((v) => typeof v !== "number");
    if (bad !== undefined) throw new MergelabError(`layers() values must be numbers, got ${describeValue(bad)}`, { param: "values" });
    return layerSchedule(vs as number[]);
  },
};

const match: FunctionSpec = {
  name: "match",
  category: "schedule",
  doc: "A per-tensor value chosen by name: the first key that is a substring of the tensor name wins, else `default` (mergekit's filter rule). Values may themselves be schedules.",
  example: 'k = match({"self_attn": 0.3, "mlp": 0.1}, default=0.2)',
  params: [
    { name: "table", type: "dict", required: true, doc: "{substring: value}" },
    { name: "default", type: ["number", "schedule"], required: true, doc: "value for tensors no key matches" },
  ],
  returns: "schedule",
  call: (a) => {
    const entries = new Map<string, number | Schedule>();
    for (const [k, v] of (a.table as Dict).entries) {
      if (typeof v !== "number" && !isSchedule(v)) throw new MergelabError(`match(): the value for ${JSON.stringify(k)} must be a number or a schedule, got ${describeValue(v)}`, { param: "table" });
      entries.set(k, v as number | Schedule);
    }
    return matchSchedule(entries, a.default as number | Schedule);
  },
};

export const specs: FunctionSpec[] = [
  load, loadAll, alignVocabSpec, save,
  print, warn, clearOutput, explain,
  sum, mean, extreme("min"), extreme("max"), len, range, round, strFn, zip,
  table, records, keys,
  layers, match,
];

export type { Args };
