/**
 * ModelValue: a lazy set of named tensors. Nothing is read when a model is
 * loaded or combined: a model is tensor metadata plus, per tensor, a recipe
 * that adds the tensor's computation to a plan graph (engine/ir.ts).
 * Leaf models (checkpoints, in-memory tensors) register their source in the
 * graph; `mapTensors` is the one way to build a model from others.
 *
 * Float tensors (F32/F16/BF16) are computed in float32; every other dtype is
 * carried through unchanged from the first model (by convention the base).
 */
import path from "node:path";
import fs from "node:fs";
import { MergelabError } from "../core/errors.js";
import { openCheckpoint, compareTensorNames, type Checkpoint } from "../io/index.js";
import { DTYPES, isComputedFloat, type DType } from "../io/index.js";
import type { tf } from "../core/runtime.js";
import type { MimeBundle } from "../core/values.js";
import { Graph, type BinaryOp, type Node } from "./ir.js";
import { countLayers, tensorContext, type TensorContext } from "./param-schedule.js";
import { escapeHtml, shownPath } from "../core/present.js";
import { ComputedSource as ComputedSourceImpl, type ComputedSource } from "./computed.js";
import { checkArchitectures, EMBEDDING_TENSORS, readHfConfig, tiedHead, type GuardInput, type HfConfig } from "../io/hfconfig.js";

export interface TensorMeta {
  shape: number[];
  dtype: DType;
}

/** Adds tensor `tensor` of this model to graph `g` and returns its node. */
export type Recipe = (g: Graph, tensor: string) => Node;

/** A safetensors checkpoint read by byte ranges (io). */
export class CheckpointSource {
  readonly kind = "checkpoint";
  /** `name`: how the user wrote it when that is not a path (a Hub id), for cards and provenance. */
  constructor(
    readonly checkpoint: Checkpoint,
    readonly name?: string,
  ) {}
  get label(): string {
    return this.name ?? this.checkpoint.path;
  }
}

export interface MemoryTensor {
  shape: number[];
  dtype: DType;
  /** Float tensors: decoded float32 values; other dtypes: raw little-endian bytes. */
  data: Float32Array | Uint8Array;
}

/** Tensors held in memory (modelFromTensors): small models, tests, notebook experiments. */
export class MemorySource {
  readonly kind = "memory";
  constructor(
    readonly tensors: ReadonlyMap<string, MemoryTensor>,
    readonly label = "<tensors>",
  ) {}
}

export type Source = CheckpointSource | MemorySource | ComputedSource;

/** Where a carried-through (non-float) tensor's bytes come from. */
export interface CarrySpec {
  source: Source;
  tensor: string;
}

/**
 * One step of how a model was made — a method or block call with its inputs and parameters as
 * resolved when the call was made. A model's `steps` (innermost first) are what its model card
 * describes: exactly the calls this model's plan contains, never parsed from script text.
 */
export interface MergeStep {
  /** The function's name (`ties`, `trim`…). */
  name: string;
  kind: "method" | "block";
  paper?: { title: string; url: string };
  /** Labels of the models merged (the base excluded). */
  models: readonly string[];
  /** Label of the base model, for methods that take one. */
  base?: string;
  /** Every other argument, spelled as in the language (`0.2`, `"model"`, `layers([0, 1])`). */
  params: ReadonlyArray<readonly [string, string]>;
}

export interface ModelInit {
  tensors: ReadonlyMap<string, TensorMeta>;
  recipe: Recipe;
  carry: (tensor: string) => CarrySpec;
  origin?: Checkpoint;
  label: string;
  inputs: readonly Source[];
  /** The merge steps of this model's plan (default: none — a checkpoint or in-memory tensors). */
  steps?: readonly MergeStep[];
  /** The Hugging Face config.json this model's architecture is described by (its origin's, for a checkpoint). */
  hfConfig?: HfConfig;
  /** Files an output of this model writes over the copied ones (the tokenizer of a re-indexed vocabulary). */
  outputFiles?: Readonly<Record<string, string>>;
  /** The layer of its config's model that layer `l` comes from (default: `l`; slices and stacks renumber). */
  layerSource?: (layer: number) => number;
}

export class ModelValue {
  /** In tensor-name order (numbers compare numerically). */
  readonly tensors: ReadonlyMap<string, TensorMeta>;
  readonly recipe: Recipe;
  /** Source of a non-float tensor's bytes. */
  readonly carry: (tensor: string) => CarrySpec;
  /** The checkpoint whose non-weight files (config.json, tokenizer…) an output copies. */
  readonly origin: Checkpoint | undefined;
  readonly label: string;
  /** The leaf sources this model reads. */
  readonly inputs: readonly Source[];
  /** The method and block calls its plan contains, innermost first (the model card reads these). */
  readonly steps: readonly MergeStep[];
  /** The config.json describing its architecture (the architecture guard, tied embeddings). */
  readonly hfConfig: HfConfig | undefined;
  /** Files its output writes over the copied ones (engine/vocab.ts: the aligned tokenizer). */
  readonly outputFiles: Readonly<Record<string, string>> | undefined;
  /**
   * The source layer that layer `l` of this model was taken from (identity unless a slice or stack
   * renumbered layers): the output config's per-layer lists (`layer_types` …) follow it.
   */
  readonly layerSource: (layer: number) => number;

  constructor(init: ModelInit) {
    this.tensors = init.tensors;
    // memoized per graph and tensor: a model used twice in an expression (x + x, nested
    // merges) expands once, so deep expressions stay linear instead of exponential
    // (the graph holds the memo: no per-graph entries in a WeakMap, which cost every GC)
    this.recipe = (g, tensor) => g.memo(this, tensor, () => init.recipe(g, tensor));
    this.carry = init.carry;
    this.origin = init.origin;
    this.label = init.label;
    this.inputs = init.inputs;
    this.steps = init.steps ?? [];
    this.hfConfig = init.hfConfig;
    this.outputFiles = init.outputFiles;
    this.layerSource = init.layerSource ?? ((l) => l);
  }

  /** For each of its layers, the source layer it came from (config.json's per-layer lists follow these). */
  layerSources(): number[] {
    return Array.from({ length: this.numLayers }, (_, l) => this.layerSource(l));
  }

  /** Number of layers implied by the tensor names. */
  get numLayers(): number {
    return (this.layerCount ??= countLayers(this.tensors.keys()));
  }
  private layerCount: number | undefined;

  /** The TensorContext methods see for tensor `name`. */
  context(name: string): TensorContext {
    const meta = this.tensors.get(name);
    if (!meta) throw new MergelabError(`model ${this.label} has no tensor '${name}'`, { tensor: name });
    return tensorContext(name, meta.shape, this.numLayers);
  }

  summary(): { tensors: number; params: number; dtypes: Record<string, number>; inputs: string[] } {
    let params = 0;
    const dtypes: Record<string, number> = {};
    for (const t of this.tensors.values()) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      params += n;
      dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + n;
    }
    // inputs relative to the working directory (the notebook's folder): nothing of the machine in what is shown or shared
    return { tensors: this.tensors.size, params, dtypes, inputs: this.inputs.map((s) => shownPath(s.label)) };
  }

  toString(): string {
    const s = this.summary();
    const dt = Object.entries(s.dtypes).map(([d, n]) => `${d} ${formatCount(n)}`).join(", ");
    return `model ${shownPath(this.label)}: ${s.tensors} tensors, ${formatCount(s.params)} params (${dt}); inputs: ${s.inputs.join(", ") || "none"}`;
  }

  toMimeBundle(): MimeBundle {
    const s = this.summary();
    const rows = [
      ["tensors", String(s.tensors)],
      ["params", formatCount(s.params)],
      ["dtypes", Object.entries(s.dtypes).map(([d, n]) => `${d}: ${formatCount(n)}`).join(", ")],
      ["inputs", s.inputs.map(escapeHtml).join("<br>") || "none"],
    ];
    const html =
      `<table class="mergelab-model"><caption>model ${escapeHtml(shownPath(this.label))}</caption>` +
      rows.map(([k, v]) => `<tr><th style="text-align:left">${k}</th><td style="text-align:left">${k === "inputs" ? v : escapeHtml(v)}</td></tr>`).join("") +
      `</table>`;
    return { "text/plain": this.toString(), "text/html": html };
  }
}

export const isModel = (v: unknown): v is ModelValue => v instanceof ModelValue;


export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

// ---------------------------------------------------------------- leaves

/** A model over one source: its recipe is an input node of that source. */
function leafModel(source: Source, tensors: ReadonlyMap<string, TensorMeta>, label: string, origin?: Checkpoint, hfConfig?: HfConfig): ModelValue {
  return new ModelValue({
    hfConfig,
    tensors,
    recipe: (g, tensor) => g.input(g.sourceIndex(source), tensor),
    carry: (tensor) => ({ source, tensor }),
    origin,
    label,
    inputs: [source],
  });
}

const loaded = new Map<string, { mtimeMs: number; model: ModelValue }>();

/**
 * Open a checkpoint (directory or .safetensors file) and validate its headers;
 * reads no tensor data. Loading the same unchanged path twice gives the same
 * source, so the plan reads it once.
 */
export function loadModel(p: string, opts: { cwd?: string; label?: string; hubId?: string } = {}): ModelValue {
  const abs = path.resolve(opts.cwd ?? process.cwd(), p);
  let mtimeMs = 0;
  try {
    mtimeMs = fs.statSync(abs).mtimeMs;
  } catch {
    // openCheckpoint reports the missing path
  }
  const hit = loaded.get(abs);
  if (hit && hit.mtimeMs === mtimeMs && !opts.label) return hit.model;
  const ckpt = openCheckpoint(abs);
  // the checkpoint's own name table (its entries have shape and dtype): no second map of 100k entries (issue #17)
  const tensors: ReadonlyMap<string, TensorMeta> = ckpt.tensorMap;
  let hfConfig: HfConfig | undefined;
  try {
    hfConfig = readHfConfig(abs);
  } catch {
    hfConfig = undefined; // a broken config.json is only an error where it is read for output
  }
  const model = leafModel(new CheckpointSource(ckpt, opts.hubId), tensors, opts.label ?? (p.replace(/\/+$/, "") || abs), ckpt, hfConfig);
  if (!opts.label) loaded.set(abs, { mtimeMs, model });
  return model;
}

/**
 * A model known only from its safetensors headers (a Hub model `check` has not
 * downloaded): it plans, checks and explains like any model; running it is an
 * error that says to run without --dry-run.
 */
export function headerOnlyModel(tensors: ReadonlyArray<{ name: string; dtype: string; shape: number[] }>, label: string, hfConfig?: HfConfig): ModelValue {
  const metas = new Map<string, TensorMeta>();
  for (const t of [...tensors].sort((a, b) => compareTensorNames(a.name, b.name))) {
    if (!(t.dtype in DTYPES)) throw new MergelabError(`${label}: tensor '${t.name}' has dtype ${t.dtype}, which mergelab does not read`, { tensor: t.name });
    metas.set(t.name, { shape: [...t.shape], dtype: t.dtype as DType });
  }
  const source = new ComputedSourceImpl(label, metas, () => {
    throw new MergelabError(`${label}: only its headers were fetched (a dry run); run without --dry-run to download it`);
  }, []);
  return leafModel(source, metas, label, undefined, hfConfig);
}

const TF_DTYPES: Record<string, DType> = { float32: "F32", int32: "I32", bool: "BOOL" };

/**
 * A model over in-memory tfjs tensors (float32 → F32 computed; int32 → I32 and
 * bool → BOOL carried through). The data is copied now (dataSync).
 */
export function modelFromTensors(record: Record<string, tf.Tensor>, label = "<tensors>"): ModelValue {
  const store = new Map<string, MemoryTensor>();
  const names = Object.keys(record).sort(compareTensorNames);
  for (const name of names) {
    const t = record[name];
    const dtype = TF_DTYPES[t.dtype];
    if (!dtype) throw new MergelabError(`tensor '${name}': tfjs dtype ${t.dtype} is not supported (float32, int32, bool)`, { tensor: name });
    const values = t.dataSync();
    let data: Float32Array | Uint8Array;
    if (dtype === "F32") data = Float32Array.from(values as Float32Array);
    else if (dtype === "I32") data = new Uint8Array(Int32Array.from(values as Int32Array).buffer);
    else data = Uint8Array.from(values as Uint8Array, (v) => (v ? 1 : 0));
    store.set(name, { shape: [...t.shape], dtype, data });
  }
  return modelFromArrays(store, label);
}

/** A model over raw arrays (what materialize and tests use without tfjs). */
export function modelFromArrays(store: ReadonlyMap<string, MemoryTensor>, label = "<tensors>"): ModelValue {
  const tensors = new Map<string, TensorMeta>();
  for (const [name, t] of [...store].sort((a, b) => compareTensorNames(a[0], b[0]))) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const want = t.data instanceof Float32Array ? numel : numel * DTYPES[t.dtype].size;
    if (t.data.length !== want) throw new MergelabError(`tensor '${name}': ${t.data.length} values for shape [${t.shape.join(", ")}]`, { tensor: name });
    tensors.set(name, { shape: [...t.shape], dtype: t.dtype });
  }
  return leafModel(new MemorySource(store, label), tensors, label);
}

// ---------------------------------------------------------------- combinators

export interface MapOptions {
  label?: string;
  /** Checkpoint whose non-weight files outputs copy (default: the first model's origin). */
  origin?: Checkpoint;
  /** Index of the model that non-float tensors and output dtypes come from (default 0: the base or first model). */
  carryFrom?: number;
  /** The call that builds this model (a method or block), recorded in its steps for the model card. */
  step?: MergeStep;
}

/**
 * Build a model tensor by tensor from `models`:
 * `fn(g, [node of models[0]'s tensor, …], t)` returns the output tensor's node.
 * Names and shapes must agree across models (MergelabError naming the tensor
 * and the two models otherwise). Non-float tensors are carried through from
 * `models[carryFrom]`.
 */
export function mapTensors(
  modelsIn: readonly ModelValue[],
  fn: (g: Graph, inputs: Node[], t: TensorContext) => Node,
  opts: MapOptions = {},
): ModelValue {
  if (modelsIn.length === 0) throw new MergelabError("no models to merge");
  guardArchitectures(modelsIn);
  const models = commonVocab(withTiedHeads(modelsIn));
  const carryFrom = opts.carryFrom ?? 0;
  const ref = models[carryFrom];
  checkCompatible(models);
  const numLayers = ref.numLayers;
  // made when the recipe runs (once per plan and tensor), not kept: a model holds nothing per tensor
  const context = (name: string): TensorContext => tensorContext(name, ref.tensors.get(name)!.shape, numLayers);
  const inputs = [...new Set(models.flatMap((m) => m.inputs))];
  const steps = [...new Set(models.flatMap((m) => m.steps))];
  if (opts.step) steps.push(opts.step);
  return new ModelValue({
    tensors: ref.tensors,
    recipe: (g, name) => fn(g, models.map((m) => m.recipe(g, name)), context(name)),
    carry: (name) => ref.carry(name),
    layerSource: ref.layerSource,
    origin: opts.origin ?? ref.origin ?? models.find((m) => m.origin)?.origin,
    label: opts.label ?? `merge(${models.map((m) => shortLabel(m.label)).join(", ")})`,
    inputs,
    steps,
    hfConfig: ref.hfConfig ?? models.find((m) => m.hfConfig)?.hfConfig,
    outputFiles: ref.outputFiles ?? models.find((m) => m.outputFiles)?.outputFiles,
  });
}

/** The architecture guard's switch: mergekit's --allow-crimes (set by the CLI for a run). */
export const architectureGuard = { allowCrimes: false };

/** Models whose config.json disagree on architecture, hidden size, head or layer counts are refused (io/hfconfig.ts). */
function guardArchitectures(models: readonly ModelValue[]): void {
  if (architectureGuard.allowCrimes) return;
  const seen = new Set<HfConfig>();
  const inputs: GuardInput[] = [];
  for (const m of models) {
    if (!m.hfConfig || seen.has(m.hfConfig)) continue;
    seen.add(m.hfConfig);
    inputs.push({ label: m.label, config: m.hfConfig });
  }
  checkArchitectures(inputs);
}

/**
 * A model without an output head whose config ties it to the input embeddings
 * (tie_word_embeddings, transformers' default) reads its embeddings as its head
 * when another model of the merge has a head; when none has, all stay tied.
 */
function withTiedHeads(models: readonly ModelValue[]): readonly ModelValue[] {
  return models.map((m) => {
    const tied = tiedHead(m.hfConfig, m.tensors);
    if (!tied || !models.some((o) => o.tensors.has(tied.head))) return m;
    const tensors = new Map(m.tensors);
    tensors.set(tied.head, m.tensors.get(tied.embed)!);
    const alias = (n: string) => (n === tied.head ? tied.embed : n);
    return new ModelValue({
      tensors: new Map([...tensors].sort((a, b) => compareTensorNames(a[0], b[0]))),
      recipe: (g, n) => m.recipe(g, alias(n)),
      carry: (n) => m.carry(alias(n)),
      layerSource: m.layerSource,
      origin: m.origin,
      label: m.label,
      inputs: m.inputs,
      steps: m.steps,
      hfConfig: m.hfConfig,
    });
  });
}

/**
 * mergekit's rule for embeddings of different vocabulary sizes and no tokenizer
 * option (rectify_embed_sizes): every model's embedding / head is cut to the
 * common sub-matrix, its first rows (the smallest vocabulary). Leaf checkpoints
 * only; the rows are read from the checkpoint as they are.
 */
function commonVocab(models: readonly ModelValue[]): readonly ModelValue[] {
  const cut = new Map<string, number>();
  for (const name of EMBEDDING_TENSORS) {
    const shapes = models.map((m) => m.tensors.get(name)?.shape);
    if (shapes.some((s) => !s || s.length !== 2) || new Set(shapes.map((s) => s![1])).size !== 1) continue;
    const rows = Math.min(...shapes.map((s) => s![0]));
    if (shapes.some((s) => s![0] !== rows)) cut.set(name, rows);
  }
  if (cut.size === 0) return models;
  return models.map((m) => {
    const mine = [...cut].filter(([n, rows]) => m.tensors.get(n)!.shape[0] > rows);
    const src = m.inputs.length === 1 ? m.inputs[0] : undefined;
    if (mine.length === 0 || !src || src.kind !== "checkpoint") return m;
    const ckpt = src.checkpoint;
    const metas = new Map<string, TensorMeta>();
    const tensors: Record<string, { dim: number; vocab: number; sources: Array<{ kind: "row"; model: number; row: number }>; inputs: Array<{ checkpoint: ReturnType<Checkpoint["describe"]>; tensor: string }> }> = {};
    for (const [n, rows] of mine) {
      const dim = m.tensors.get(n)!.shape[1];
      metas.set(n, { shape: [rows, dim], dtype: "F32" });
      tensors[n] = { dim, vocab: rows, sources: Array.from({ length: rows }, (_, r) => ({ kind: "row" as const, model: 0, row: r })), inputs: [{ checkpoint: ckpt.describe(), tensor: ckpt.has(n) ? n : (tiedHead(m.hfConfig, new Set(ckpt.tensors.map((t) => t.name)))?.embed ?? n) }] };
    }
    const source = new ComputedSourceImpl(`${m.label} (first rows)`, metas, () => ({ kind: "computed", type: "rows", label: m.label, tensors }), [ckpt]);
    const all = new Map(m.tensors);
    for (const [n, meta] of metas) all.set(n, { shape: meta.shape, dtype: m.tensors.get(n)!.dtype });
    return new ModelValue({
      tensors: all,
      recipe: (g, n) => (metas.has(n) ? g.input(g.sourceIndex(source), n) : m.recipe(g, n)),
      carry: (n) => m.carry(n),
      layerSource: m.layerSource,
      origin: m.origin,
      label: m.label,
      inputs: [...m.inputs, source],
      steps: m.steps,
      hfConfig: m.hfConfig,
      outputFiles: m.outputFiles,
    });
  });
}

/** Tensor maps already found compatible (derived models share their first input's map): checked once, not per call. */
const compatible = new WeakMap<ReadonlyMap<string, TensorMeta>, WeakSet<ReadonlyMap<string, TensorMeta>>>();

function checkCompatible(models: readonly ModelValue[]): void {
  const a = models[0];
  for (const b of models.slice(1)) {
    if (b.tensors === a.tensors || compatible.get(a.tensors)?.has(b.tensors)) continue;
    for (const [name, ta] of a.tensors) {
      const tb = b.tensors.get(name);
      if (!tb) throw new MergelabError(`tensor '${name}' is in ${a.label} but missing from ${b.label}`, { tensor: name });
      if (ta.shape.length !== tb.shape.length || ta.shape.some((d, i) => d !== tb.shape[i])) {
        throw new MergelabError(`tensor '${name}': shape [${ta.shape.join(", ")}] in ${a.label} but [${tb.shape.join(", ")}] in ${b.label}`, { tensor: name });
      }
      if (isComputedFloat(ta.dtype) !== isComputedFloat(tb.dtype)) {
        throw new MergelabError(`tensor '${name}' has incompatible dtypes: ${ta.dtype} in ${a.label}, ${tb.dtype} in ${b.label}`, { tensor: name });
      }
    }
    for (const name of b.tensors.keys()) {
      if (!a.tensors.has(name)) throw new MergelabError(`tensor '${name}' is in ${b.label} but missing from ${a.label}`, { tensor: name });
    }
    let set = compatible.get(a.tensors);
    if (!set) compatible.set(a.tensors, (set = new WeakSet()));
    set.add(b.tensors);
  }
}

/** Labels of derived models quote their inputs' labels, shortened so that deep expressions stay readable. */
function shortLabel(label: string): string {
  return label.length > 48 ? `${label.slice(0, 45)}…` : label;
}

const OPS: Record<string, BinaryOp> = { "+": "add", "-": "sub", "*": "mul", "/": "div" };

/** `a op b` per tensor, for models and numbers (at least one a model). */
export function combine(op: "+" | "-" | "*" | "/", a: ModelValue | number, b: ModelValue | number): ModelValue | number {
  const bop = OPS[op];
  if (!bop) throw new MergelabError(`unknown operator '${op}'`);
  const name = (x: ModelValue | number) => (typeof x === "number" ? String(x) : shortLabel(x.label));
  const label = `(${name(a)} ${op} ${name(b)})`;
  if (typeof a === "number" && typeof b === "number") {
    return op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : a / b;
  }
  if (typeof a === "number") return mapTensors([b as ModelValue], (g, [y]) => g.binary(bop, a, y), { label });
  if (typeof b === "number") return mapTensors([a], (g, [x]) => g.binary(bop, x, b), { label });
  return mapTensors([a, b], (g, [x, y]) => g.binary(bop, x, y), { label });
}

/** Paths of the checkpoints a model reads (what a save must never write over, into or above). */
export function inputPaths(model: ModelValue): string[] {
  return model.inputs.flatMap((s) => (s.kind === "checkpoint" ? [s.checkpoint.path, ...s.checkpoint.files.map((f) => f.path)] : []));
}

/** Total bytes of a model's tensors at their dtypes. */
export function modelBytes(m: ModelValue): number {
  let bytes = 0;
  for (const t of m.tensors.values()) bytes += t.shape.reduce((x, y) => x * y, 1) * DTYPES[t.dtype].size;
  return bytes;
}
