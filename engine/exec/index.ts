/**
 * What the language and the methods call to run plans: save a model to a
 * checkpoint directory, materialize it in memory, or stream per-tensor scalar
 * statistics (analysis functions).
 */
import path from "node:path";
import { MergelabError } from "../../core/errors.js";
import { VERSION } from "../../core/version.js";
import { compareTensorNames } from "../../io/index.js";
import type { DType } from "../../io/index.js";
import { CheckpointWriter, provenanceMetadata, type OutputTensor } from "../../io/index.js";
import { configShapes } from "../../io/outconfig.js";
import type { tf } from "../../core/runtime.js";
import type { Graph, Node } from "../ir.js";
import { inputPaths, type ModelValue } from "../model.js";
import { buildPlan, buildScalarPlan, type Plan } from "../plan.js";
import type { TensorContext } from "../param-schedule.js";
import { execute, type ExecOptions, type Progress } from "./pool.js";

export type { ExecOptions, Progress };

export interface SaveOptions extends ExecOptions {
  /** "bf16" | "f16" | "f32": output dtype of float tensors (default: each tensor's dtype in the base/first model). */
  dtype?: string;
  /** Shard size: bytes or "5GB", "500MB" (default 5GB). */
  shardSize?: number | string;
  overwrite?: boolean;
  /** Extra `__metadata__` entries (e.g. the recipe text). */
  metadata?: Record<string, string>;
  /** Extra text files for the output directory (e.g. README.md). */
  extraFiles?: Record<string, string>;
  /** Input paths in `__metadata__` are written relative to this (default: the process's working directory). */
  cwd?: string;
  /** Layers of the whole output (config.json's layer count; default: the model's own, from its tensor names). */
  numLayers?: number;
  /** Output layer l comes from layer layerSources[l] of the config's model (config.json's per-layer lists). */
  layerSources?: readonly number[];
  /** Shapes of the whole output's embedding and head tensors (a shard writes only some): config.json's vocab_size and tie_word_embeddings (io/outconfig.ts configShapes). */
  wholeShapes?: Record<string, number[]>;
}

export interface SaveSummary {
  path: string;
  tensors: number;
  bytes: number;
  seconds: number;
  /** Tensor data read from the inputs, and in how many byte-range reads. */
  bytesRead: number;
  rangeReads: number;
}

function outputTensors(plan: Plan): OutputTensor[] {
  return plan.jobs.map((j) => ({ name: j.name, shape: j.shape, dtype: j.kind === "carry" ? j.dtype : j.outputs[0].dtype }));
}

/** `__metadata__` provenance: version, inputs (relative to `cwd`, with their header hashes), the model's label. */
function provenance(model: ModelValue, plan: Plan, cwd: string): Record<string, string> {
  // a Hub id stays the id (never the cache's absolute path); a path is made relative to cwd
  const where = (c: { path: string }, name?: string) => name ?? (path.relative(cwd, c.path) || ".");
  const inputs = plan.sources.flatMap((s) =>
    s.kind === "checkpoint" ? [{ ...s.checkpoint, path: where(s.checkpoint, s.name) }]
    : s.kind === "computed" ? s.reads.map((c) => ({ ...c, path: where(c, path.isAbsolute(s.label) ? undefined : s.label) }))
    : [],
  );
  return { ...provenanceMetadata({ version: VERSION, inputs }), mergelab_model: model.label };
}

/**
 * Run `model` and write it to checkpoint directory `dir` (written to a temp
 * sibling and renamed at the end; interrupted or failed runs leave nothing).
 * Non-weight files are copied from the model's origin.
 */
export async function saveModel(model: ModelValue, dir: string, opts: SaveOptions = {}): Promise<SaveSummary> {
  const t0 = Date.now();
  const plan = buildPlan([model], { dtype: opts.dtype, chunkSize: opts.chunkSize, workers: opts.workers });
  verifyInputs(plan);
  const writer = CheckpointWriter.create(dir, outputTensors(plan), {
    shardSize: opts.shardSize,
    overwrite: opts.overwrite,
    inputs: inputPaths(model),
    // an input rewritten while the run read it gives a wrong output: it is refused, not committed
    beforeCommit: () => verifyInputs(plan),
    metadata: { ...provenance(model, plan, opts.cwd ?? process.cwd()), ...(opts.metadata ?? {}) },
    copyFrom: model.origin?.path,
    extraFiles: opts.extraFiles,
    configFacts: { numLayers: opts.numLayers ?? model.numLayers, layerSources: opts.layerSources ?? model.layerSources(), shapes: opts.wholeShapes ?? configShapes((n) => model.tensors.get(n)?.shape) },
  });
  try {
    // each tensor's bytes are noted as it finishes: no per-tensor results kept until the end
    const run = await execute(plan, { ...opts, layouts: [writer.describe()], onResult: (r) => r.written.forEach(([, name, bytes]) => writer.noteWritten(name, bytes)) });
    const target = writer.commit();
    return { path: target, tensors: plan.jobs.length, bytes: writer.layout.totalSize, seconds: (Date.now() - t0) / 1000, bytesRead: run.bytesRead, rangeReads: run.rangeReads };
  } catch (e) {
    writer.abort();
    throw e;
  }
}


/** Refuse (naming the file) if a checkpoint the plan reads changed since its header was read. */
function verifyInputs(plan: Plan): void {
  for (const s of plan.sources) if (s.kind === "checkpoint") s.checkpoint.verifyUnchanged();
}

export interface ArrayTensor {
  shape: number[];
  dtype: DType;
  /** Float tensors: float32 values (computed); others: raw bytes (carried through). */
  data: Float32Array | Uint8Array;
}

/** Compute every tensor of `model` into memory as plain arrays (tensor-name order). */
export async function materializeArrays(model: ModelValue, opts: ExecOptions = {}): Promise<Record<string, ArrayTensor>> {
  const plan = buildPlan([model], { chunkSize: opts.chunkSize, workers: opts.workers });
  verifyInputs(plan);
  const run = await execute(plan, { ...opts, collect: true });
  verifyInputs(plan);
  const byName = new Map<string, Float32Array | Uint8Array>();
  for (const r of run.results) for (const [, name, data] of r.arrays) byName.set(name, data);
  const out: Record<string, ArrayTensor> = Object.create(null); // tensor names as keys: no prototype
  for (const j of plan.jobs) {
    const data = byName.get(j.name) ?? (j.kind === "carry" ? new Uint8Array(0) : new Float32Array(0));
    out[j.name] = { shape: j.shape, dtype: j.kind === "carry" ? j.dtype : "F32", data };
  }
  return out;
}

/**
 * Compute `model` into tfjs tensors (float32; carried integer tensors as int32,
 * BOOL as bool, F64 as float32). Call `tf.dispose` on them when done.
 */
export async function materialize(model: ModelValue, opts: ExecOptions = {}): Promise<Record<string, tf.Tensor>> {
  // loaded on first use: the CLI and the workers never need tfjs
  const runtime = await import("../../core/runtime.js");
  await runtime.initRuntime();
  const arrays = await materializeArrays(model, opts);
  const out: Record<string, tf.Tensor> = Object.create(null);
  for (const [name, t] of Object.entries(arrays)) out[name] = toTf(runtime.tf, name, t);
  return out;
}

function toTf(tf: typeof import("../../core/runtime.js").tf, name: string, t: ArrayTensor): tf.Tensor {
  if (t.data instanceof Float32Array) return tf.tensor(t.data, t.shape, "float32");
  const b = t.data;
  const buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  const n = t.shape.reduce((x, y) => x * y, 1);
  switch (t.dtype) {
    case "BOOL": return tf.tensor(Uint8Array.from(b, (v) => (v ? 1 : 0)), t.shape, "bool");
    case "F64": return tf.tensor(Float32Array.from(new Float64Array(buf)), t.shape, "float32");
    case "I64": return tf.tensor(Int32Array.from(new BigInt64Array(buf), (v) => Number(v)), t.shape, "int32");
    case "U64": return tf.tensor(Int32Array.from(new BigUint64Array(buf), (v) => Number(v)), t.shape, "int32");
    case "I32": return tf.tensor(new Int32Array(buf, 0, n), t.shape, "int32");
    case "U32": return tf.tensor(Int32Array.from(new Uint32Array(buf)), t.shape, "int32");
    case "I16": return tf.tensor(Int32Array.from(new Int16Array(buf)), t.shape, "int32");
    case "U16": return tf.tensor(Int32Array.from(new Uint16Array(buf)), t.shape, "int32");
    case "I8": return tf.tensor(Int32Array.from(new Int8Array(buf)), t.shape, "int32");
    case "U8": return tf.tensor(Int32Array.from(new Uint8Array(buf)), t.shape, "int32");
    default: throw new MergelabError(`tensor '${name}': cannot convert ${t.dtype} to a tfjs tensor`, { tensor: name });
  }
}

export interface ScalarResult {
  tensor: string;
  values: Record<string, number>;
}

/**
 * Per-tensor scalar statistics over `models` (float tensors of the first),
 * streamed like a merge: `fn(g, [node of each model], t)` returns named scalar
 * nodes (sum, kth, …). Results in tensor-name order.
 */
export async function evaluateScalars(
  models: readonly ModelValue[],
  fn: (g: Graph, inputs: Node[], t: TensorContext) => Record<string, Node>,
  opts: ExecOptions = {},
): Promise<ScalarResult[]> {
  if (models.length === 0) throw new MergelabError("no models to evaluate");
  const ref = models[0];
  const plan = buildScalarPlan({ models, fn: (g, inputs, name) => fn(g, inputs, ref.context(name)) }, { chunkSize: opts.chunkSize, workers: opts.workers });
  verifyInputs(plan);
  const run = await execute(plan, opts);
  verifyInputs(plan);
  return run.results
    .map((r) => ({ tensor: r.name, values: r.scalars ?? {} }))
    .sort((a, b) => compareTensorNames(a.tensor, b.tensor));
}
