/**
 * Plans: what the executor runs. Per output tensor, one hash-consed graph
 * (ir.ts) holding every root that needs the tensor (one per model saved
 * together, or named scalar statistics), serialized as plain data (it crosses
 * to worker threads), and its passes:
 *
 *   a statistic (reduce, kth) over a vector needs one pass over its inputs
 *   before anything that uses it; kth is an exact radix select in two passes
 *   (histogram of the high 16 bits of the order-preserving key, then of the
 *   low 16 within the selected bin). A vector is computed in the first pass
 *   where all statistics it uses are known, so a TIES merge is 3 passes:
 *   kth high bits, kth low bits, apply.
 *
 * Model-scope statistics (kthModel) are computed in a model-level pre-pass
 * (two radix passes over every tensor that uses the key) before the tensor
 * passes, where they are known constants.
 */
import os from "node:os";
import { MergelabError } from "../core/errors.js";
import { compareTensorNames } from "../io/index.js";
import { DTYPES, isComputedFloat, type DType } from "../io/index.js";
import type { MimeBundle } from "../core/values.js";
import { Graph, constValue, isAxisReduce, isReduceNode, type Axis, type Node } from "./ir.js";
import { formatCount, type ModelValue, type Source } from "./model.js";

/** A node as plain data; `src` are indices into the job's node list (topological order). */
export interface SerialNode {
  op: Node["op"];
  src: number[];
  arg: unknown;
  scalar: boolean;
  /** Row values (ir.ts): the axis of their rows. */
  axis?: Axis;
}

/** One pass over a tensor's elements: the vectors it computes and what they feed. */
export interface PassSpec {
  /** Vector nodes evaluated per element, topological order (inputs and rand included). */
  vectors: number[];
  /** Input nodes read in this pass. */
  inputs: number[];
  /** Reduce nodes accumulated in this pass (final after it). */
  reduces: number[];
  /** Row reductions (sumAlong, …) accumulated in this pass, one float64 accumulator per row (final after it). */
  axisReduces?: number[];
  /** kth / kthModel nodes whose high-16-bit histogram is built in this pass. */
  kthHigh: number[];
  /** kth / kthModel nodes whose low-16-bit histogram (within the selected high bin) is built in this pass. */
  kthLow: number[];
  /** Indices into job.outputs written in this pass. */
  outputs: number[];
}

export interface JobOutput {
  /** Index of the root model (plan.roots) this output belongs to. */
  root: number;
  node: number;
  dtype: DType;
}

export interface ComputeJob {
  kind: "compute";
  name: string;
  shape: number[];
  numel: number;
  /**
   * The graph. `nodes`, `outputs`, `scalars`, `passes`, `modelPass`, `modelKeys` and `signature` are
   * shared by every job of the same graph shape (one template per shape; read-only); an input node
   * has no `arg`: which tensor it reads is this job's `inputSources`.
   */
  nodes: SerialNode[];
  /** Per input node index: the plan source index, the tensor and its stored dtype (a sparse array in plans). */
  inputSources: Record<number, { source: number; tensor: string; dtype: DType }>;
  outputs: JobOutput[];
  /** Named scalar results (evaluateScalars). */
  scalars: Array<[string, number]>;
  passes: PassSpec[];
  /** Model-level pre-pass over this tensor (kthModel keys), when it has any. */
  modelPass?: PassSpec;
  /** kthModel node index → key. */
  modelKeys: Array<[number, string]>;
  /** Structural key: jobs with equal signatures share compiled pass functions. */
  signature: string;
}

/** What the jobs of one graph shape share (see JobBuilder.compute): planned once, read-only. */
interface Template extends Pick<ComputeJob, "nodes" | "outputs" | "scalars" | "passes" | "modelPass" | "modelKeys" | "signature"> {
  /** Indices of the input nodes. */
  inputs: number[];
}

export interface CarryJob {
  kind: "carry";
  name: string;
  shape: number[];
  dtype: DType;
  root: number;
  source: number;
  tensor: string;
  byteLength: number;
}

export type Job = ComputeJob | CarryJob;

export interface ModelStatSpec {
  key: string;
  m: number;
}

// ---------------------------------------------------------------- passes

interface Readiness {
  /** Pass after which a scalar is known (0: before any pass); for vectors, the first pass that can compute them. */
  ready: number[];
  /** kth: pass of its high-bits histogram. */
  kthHighPass: Map<number, number>;
}

function readiness(nodes: SerialNode[]): Readiness {
  const ready: number[] = new Array(nodes.length).fill(0);
  const kthHighPass = new Map<number, number>();
  nodes.forEach((n, i) => {
    const r = (j: number) => ready[j];
    if (n.op === "input" || n.op === "const" || n.op === "numel" || n.op === "rand" || n.op === "indexHi" || n.op === "indexLo" || n.op === "kthModel") ready[i] = 0;
    else if (isReduceNode(n) || isAxisReduce(n.op)) ready[i] = r(n.src[0]) + 1;
    else if (n.op === "kth") {
      const low = Math.max(r(n.src[0]) + 1, r(n.src[1]));
      kthHighPass.set(i, low - 1);
      ready[i] = low + 1;
    } else ready[i] = Math.max(0, ...n.src.map(r));
  });
  return { ready, kthHighPass };
}

/** Vector nodes (topological) needed to compute the values of `roots` per element. */
function vectorClosure(nodes: SerialNode[], roots: number[]): number[] {
  const need = new Set<number>();
  const visit = (i: number) => {
    if (need.has(i) || nodes[i].scalar) return;
    need.add(i);
    for (const s of nodes[i].src) visit(s);
  };
  roots.forEach(visit);
  return [...need].sort((a, b) => a - b);
}

function passSpec(nodes: SerialNode[], feeds: number[], init: Partial<PassSpec>): PassSpec {
  const vectors = vectorClosure(nodes, feeds);
  return {
    vectors,
    inputs: vectors.filter((i) => nodes[i].op === "input"),
    reduces: init.reduces ?? [],
    axisReduces: init.axisReduces ?? [],
    kthHigh: init.kthHigh ?? [],
    kthLow: init.kthLow ?? [],
    outputs: init.outputs ?? [],
  };
}

/** Schedule the statistics and outputs of a job into passes (see the file comment). */
export function schedulePasses(nodes: SerialNode[], outputs: JobOutput[], scalars: number[]): PassSpec[] {
  const { ready, kthHighPass } = readiness(nodes);
  const used = new Set<number>();
  const mark = (i: number) => {
    if (used.has(i)) return;
    used.add(i);
    // kthModel sources belong to the model pre-pass, not to the tensor passes
    if (nodes[i].op !== "kthModel") nodes[i].src.forEach(mark);
  };
  outputs.forEach((o) => mark(o.node));
  scalars.forEach(mark);
  let count = 0;
  for (const o of outputs) count = Math.max(count, ready[o.node] + 1);
  for (const s of scalars) count = Math.max(count, ready[s]);
  const passes: PassSpec[] = [];
  for (let p = 0; p < count; p++) {
    const reduces = [...used].filter((i) => isReduceNode(nodes[i]) && ready[i] === p + 1).sort((a, b) => a - b);
    const axisReduces = [...used].filter((i) => isAxisReduce(nodes[i].op) && ready[i] === p + 1).sort((a, b) => a - b);
    const kthHigh = [...used].filter((i) => kthHighPass.get(i) === p).sort((a, b) => a - b);
    const kthLow = [...used].filter((i) => kthHighPass.get(i) === p - 1).sort((a, b) => a - b);
    const outs = outputs.map((o, k) => (ready[o.node] === p ? k : -1)).filter((k) => k >= 0);
    const feeds = [...reduces, ...axisReduces, ...kthHigh, ...kthLow].map((i) => nodes[i].src[0]).concat(outs.map((k) => outputs[k].node));
    passes.push(passSpec(nodes, feeds, { reduces, axisReduces, kthHigh, kthLow, outputs: outs }));
  }
  return passes;
}

// ---------------------------------------------------------------- serialization

/**
 * Nodes of `g` reachable from `roots` in topological (creation) order, and each one's position in
 * that list by node id (-1: not reachable). Iterative: a deep expression does not recurse.
 */
function reachable(g: Graph, roots: Node[]): { originals: Node[]; pos: Int32Array } {
  const byId: Array<Node | undefined> = new Array(g.size);
  const stack = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    if (byId[n.id]) continue;
    byId[n.id] = n;
    for (const s of n.src) if (!byId[s.id]) stack.push(s);
  }
  const originals: Node[] = [];
  const pos = new Int32Array(byId.length).fill(-1);
  for (let id = 0; id < byId.length; id++) {
    const n = byId[id];
    if (n) pos[id] = originals.push(n) - 1;
  }
  return { originals, pos };
}

/** What makes two jobs' graphs the same template: everything but their input tensors. */
function templateKey(originals: Node[], pos: Int32Array, outs: ReadonlyArray<{ root: number; node: Node; dtype: DType }>, named: ReadonlyArray<[string, Node]>): string {
  let key = "";
  for (const n of originals) {
    key += n.op;
    key += "(";
    for (const s of n.src) key += `${pos[s.id]},`;
    key += ")";
    const a = n.arg;
    if (n.op !== "input" && a !== undefined) key += typeof a === "number" ? `${a}` : JSON.stringify(a);
    key += ";";
  }
  key += "|";
  for (const o of outs) key += `${o.root}:${pos[o.node.id]}:${o.dtype},`;
  key += "|";
  for (const [k, n] of named) key += `${JSON.stringify(k)}:${pos[n.id]},`;
  return key;
}

/** A constant whose value is a float32 (or NaN): ops mixing it with float32 vectors stay exact where they select. */
export function isF32Const(n: SerialNode): boolean {
  const v = constValue(n as unknown as Node);
  return Number.isNaN(v) || Math.fround(v) === v;
}

/** An integer constant of magnitude ≤ 2^24 (sums and products of such stay exact in float32). */
export function isSmallIntConst(n: SerialNode): boolean {
  const v = constValue(n as unknown as Node);
  return Number.isInteger(v) && Math.abs(v) <= 2 ** 24;
}

function signatureOf(nodes: SerialNode[], outputs: JobOutput[], scalars: number[]): string {
  // structure only: constants, tensor names and seeds are runtime values
  // (whether a constant is exactly a float32 decides whether the fused code rounds after using it)
  // (a row value's axis decides which row an element reads)
  const body = nodes.map((n) => `${n.op}(${n.src.join(",")})${n.op === "const" ? (isSmallIntConst(n) ? "i" : isF32Const(n) ? "f" : "") : ""}${n.axis === undefined ? "" : `@${n.axis}`}`);
  return `${body.join(";")}|${outputs.map((o) => o.node).join(",")}|${scalars.join(",")}`;
}

// ---------------------------------------------------------------- plan

export interface PlanOptions {
  /** Output dtype override for float tensors ("bf16" | "f16" | "f32"). */
  dtype?: string;
  /** Elements per input per chunk (default 256K): a tensor at most this long is processed whole. */
  chunkSize?: number;
  workers?: number;
}

/**
 * 256K elements: a chunk of every input stays in the CPU caches between its
 * read and its pass, and buffers are small (touching fresh memory costs page
 * faults, slow on VMs). Re-reading a chunk per pass from the page cache costs
 * far less than the pass itself (measured: 4M-element chunks were slower cold
 * and no faster warm).
 */
export const DEFAULT_CHUNK = 1 << 18;

export function parseDtype(d: string | undefined): DType | undefined {
  if (d === undefined) return undefined;
  const map: Record<string, DType> = { bf16: "BF16", f16: "F16", f32: "F32", bfloat16: "BF16", float16: "F16", float32: "F32" };
  const v = map[d.toLowerCase()];
  if (!v) throw new MergelabError(`dtype "${d}": expected "bf16", "f16" or "f32"`, { param: "dtype" });
  return v;
}

export class Plan {
  constructor(
    readonly roots: readonly ModelValue[],
    readonly sources: readonly Source[],
    readonly jobs: readonly Job[],
    readonly modelStats: readonly ModelStatSpec[],
    readonly options: { chunkSize: number; workers: number },
  ) {}

  get computeJobs(): ComputeJob[] {
    return this.jobs.filter((j): j is ComputeJob => j.kind === "compute");
  }

  /** Bytes of tensor data read from the sources (re-reads of chunked multi-pass tensors included). */
  get bytesRead(): number {
    let total = 0;
    for (const j of this.jobs) {
      if (j.kind === "carry") {
        total += j.byteLength;
        continue;
      }
      const whole = j.numel <= this.options.chunkSize;
      const bytesOf = (i: number) => j.numel * DTYPES[j.inputSources[i].dtype].size;
      const passes = j.modelPass ? [j.modelPass, j.modelPass, ...j.passes] : j.passes;
      const readOnce = new Set<number>();
      for (const p of passes) {
        for (const i of p.inputs) {
          if (whole && readOnce.has(i)) continue;
          readOnce.add(i);
          total += bytesOf(i);
        }
      }
    }
    return total;
  }

  get bytesWritten(): number {
    let total = 0;
    for (const j of this.jobs) {
      if (j.kind === "carry") total += j.byteLength;
      else for (const o of j.outputs) total += j.numel * DTYPES[o.dtype].size;
    }
    return total;
  }

  /** Peak working memory of the executor: per worker, input + output chunk buffers and histograms. */
  get peakMemory(): number {
    let perWorker = 0;
    for (const j of this.computeJobs) {
      const chunk = Math.min(j.numel, this.options.chunkSize);
      const inputs = Object.keys(j.inputSources).length;
      const kths = j.nodes.filter((n) => n.op === "kth" || n.op === "kthModel").length;
      perWorker = Math.max(perWorker, (inputs + j.outputs.length) * chunk * 4 + kths * 65536 * 4);
    }
    return perWorker * this.options.workers + this.modelStats.length * 65536 * 8;
  }

  explainText(): string {
    return explainText(this);
  }
  explainHtml(): string {
    return explainHtml(this);
  }
  toString(): string {
    return this.explainText();
  }
  toMimeBundle(): MimeBundle {
    return { "text/plain": this.explainText(), "text/html": this.explainHtml() };
  }
}

export interface ScalarRequest {
  models: readonly ModelValue[];
  fn: (g: Graph, inputs: Node[], name: string) => Record<string, Node>;
}

/** Plan the outputs of `roots` (saved or materialized together: shared inputs are read once per chunk). */
export function buildPlan(roots: readonly ModelValue[], opts: PlanOptions = {}): Plan {
  const override = parseDtype(opts.dtype);
  const names = [...new Set(roots.flatMap((r) => [...r.tensors.keys()]))].sort(compareTensorNames);
  const builder = new JobBuilder();
  for (const name of names) {
    const g = new Graph();
    const outs: Array<{ root: number; node: Node; dtype: DType }> = [];
    roots.forEach((r, ri) => {
      const meta = r.tensors.get(name);
      if (!meta) return;
      if (!isComputedFloat(meta.dtype)) {
        builder.carry(name, meta.shape, meta.dtype, ri, r.carry(name));
        return;
      }
      const node = r.recipe(g, name);
      outs.push({ root: ri, node, dtype: override ?? meta.dtype });
    });
    if (outs.length > 0) builder.compute(g, name, roots[outs[0].root].tensors.get(name)!.shape, outs, []);
  }
  return builder.finish(roots, opts);
}

/** Plan per-tensor scalar statistics of `models` (float tensors of the first model). */
export function buildScalarPlan(req: ScalarRequest, opts: PlanOptions = {}): Plan {
  const ref = req.models[0];
  const builder = new JobBuilder();
  for (const [name, meta] of ref.tensors) {
    if (!isComputedFloat(meta.dtype)) continue;
    const g = new Graph();
    const inputs = req.models.map((m) => m.recipe(g, name));
    const stats = req.fn(g, inputs, name);
    for (const [k, n] of Object.entries(stats)) {
      if (!n.scalar) throw new MergelabError(`statistic '${k}' of tensor '${name}' is not a scalar`, { tensor: name });
    }
    builder.compute(g, name, meta.shape, [], Object.entries(stats));
  }
  return builder.finish(req.models, opts);
}

class JobBuilder {
  readonly sources: Source[] = [];
  readonly jobs: Job[] = [];
  readonly modelStats = new Map<string, ModelStatSpec>();

  private sourceIndex(s: Source): number {
    let i = this.sources.indexOf(s);
    if (i < 0) i = this.sources.push(s) - 1;
    return i;
  }

  carry(name: string, shape: number[], dtype: DType, root: number, spec: { source: Source; tensor: string }): void {
    const byteLength = shape.reduce((a, b) => a * b, 1) * DTYPES[dtype].size;
    this.jobs.push({ kind: "carry", name, shape, dtype, root, source: this.sourceIndex(spec.source), tensor: spec.tensor, byteLength });
  }

  /**
   * Tensors whose graphs are equal up to their input tensors (same ops, constants, seeds, outputs)
   * share one template: its nodes, passes and signature are planned once and referenced by every
   * such job (a 100k-tensor checkpoint has a handful of templates, not 100k graphs).
   */
  private readonly templates = new Map<string, Template>();

  compute(g: Graph, name: string, shape: number[], outs: Array<{ root: number; node: Node; dtype: DType }>, named: Array<[string, Node]>): void {
    const numel = shape.reduce((a, b) => a * b, 1);
    const { originals, pos } = reachable(g, [...outs.map((o) => o.node), ...named.map(([, n]) => n)]);
    const key = templateKey(originals, pos, outs, named);
    let t = this.templates.get(key);
    if (!t) this.templates.set(key, (t = this.template(originals, pos, outs, named, name)));
    // an array indexed by input node (other indices are holes): exactly as long as needed, where a
    // plain object with number keys would get a 17-slot backing store per job
    const inputSources: ComputeJob["inputSources"] = new Array(t.inputs.length ? t.inputs[t.inputs.length - 1] + 1 : 0);
    for (const i of t.inputs) {
      const { model, tensor } = originals[i].arg as { model: number; tensor: string };
      inputSources[i] = this.resolveInput(g.sources[model] as Source, tensor, numel, name);
    }
    const { nodes, outputs, scalars, passes, modelPass, modelKeys, signature } = t;
    this.jobs.push({ kind: "compute", name, shape, numel, nodes, inputSources, outputs, scalars, passes, modelPass, modelKeys, signature });
  }

  private template(originals: Node[], pos: Int32Array, outs: Array<{ root: number; node: Node; dtype: DType }>, named: Array<[string, Node]>, name: string): Template {
    const nodes = originals.map((n): SerialNode => {
      // an input's tensor and source are the job's (inputSources), not the template's
      const node: SerialNode = { op: n.op, src: n.src.map((s) => pos[s.id]), arg: n.op === "input" ? undefined : n.arg, scalar: n.scalar };
      if (n.axis !== undefined) node.axis = n.axis;
      return node;
    });
    const inputs: number[] = [];
    const modelKeys: Array<[number, string]> = [];
    originals.forEach((n, i) => {
      if (n.op === "input") inputs.push(i);
      else if (n.op === "kthModel") modelKeys.push([i, this.modelStat(n, name)]);
    });
    const outputs = outs.map((o) => ({ root: o.root, node: pos[o.node.id], dtype: o.dtype }));
    const scalars = named.map(([k, n]) => [k, pos[n.id]] as [string, number]);
    const passes = schedulePasses(nodes, outputs, scalars.map(([, i]) => i));
    const modelPass = modelKeys.length ? checkedModelPass(nodes, modelKeys, name) : undefined;
    const signature = signatureOf(nodes, outputs, scalars.map(([, i]) => i));
    return { nodes, inputs, outputs, scalars, passes, modelPass, modelKeys, signature };
  }

  private resolveInput(source: Source | undefined, tensor: string, numel: number, output: string) {
    if (!source) throw new Error(`plan: input of tensor '${output}' has no registered source`);
    const meta =
      source.kind === "checkpoint" ? (source.checkpoint.has(tensor) ? source.checkpoint.tensor(tensor) : undefined)
      : source.kind === "computed" ? source.meta(tensor)
      : source.tensors.get(tensor);
    if (!meta) throw new MergelabError(`${source.label}: no tensor '${tensor}' (needed for output tensor '${output}')`, { tensor });
    const n = meta.shape.reduce((a, b) => a * b, 1);
    if (n !== numel) {
      throw new MergelabError(`tensor '${tensor}' of ${source.label} has ${n} elements but output tensor '${output}' has ${numel}`, { tensor });
    }
    if (!isComputedFloat(meta.dtype)) throw new MergelabError(`tensor '${tensor}' of ${source.label} is ${meta.dtype}, not a float tensor to compute on`, { tensor });
    return { source: this.sourceIndex(source), tensor, dtype: meta.dtype };
  }

  private modelStat(n: Node, tensor: string): string {
    const { key, m } = n.arg as ModelStatSpec;
    const prev = this.modelStats.get(key);
    if (prev && prev.m !== m) {
      throw new MergelabError(`model statistic '${key}': m = ${m} for tensor '${tensor}' but ${prev.m} elsewhere (must be one value per key)`, { tensor });
    }
    this.modelStats.set(key, { key, m });
    return key;
  }

  finish(roots: readonly ModelValue[], opts: PlanOptions): Plan {
    const chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK));
    const workers = Math.max(0, Math.floor(opts.workers ?? defaultWorkers()));
    return new Plan(roots, this.sources, this.jobs, [...this.modelStats.values()], { chunkSize, workers });
  }
}

function checkedModelPass(nodes: SerialNode[], modelKeys: Array<[number, string]>, tensor: string): PassSpec {
  const { ready } = readiness(nodes);
  for (const [i, key] of modelKeys) {
    if (ready[nodes[i].src[0]] !== 0) {
      throw new MergelabError(`model statistic '${key}' on tensor '${tensor}' depends on a per-tensor statistic (not supported)`, { tensor });
    }
  }
  const ids = modelKeys.map(([i]) => i);
  return passSpec(nodes, ids.map((i) => nodes[i].src[0]), { kthHigh: ids });
}

export function defaultWorkers(): number {
  const env = Number(process.env.MERGELAB_WORKERS);
  if (Number.isFinite(env) && env >= 0 && process.env.MERGELAB_WORKERS !== "") return Math.floor(env);
  return (os.availableParallelism?.() ?? os.cpus().length) || 1;
}
// ---------------------------------------------------------------- explain

export function explainPlan(models: ModelValue | readonly ModelValue[], opts: PlanOptions = {}): Plan {
  return buildPlan(Array.isArray(models) ? models : [models as ModelValue], opts);
}

const fmtBytes = (b: number) => (b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(2)} GiB` : b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

function nodeText(n: SerialNode, input?: { source: number; tensor: string }): string {
  if (n.op === "input") return `input(#${input?.source} ${input?.tensor})`;
  if (n.op === "const") return `${constValue(n as unknown as Node)}`;
  if (n.op === "rand") {
    const a = n.arg as { seed: number; stream: string };
    return `rand(seed=${a.seed}, ${JSON.stringify(a.stream)})`;
  }
  if (n.op === "kthModel") {
    const a = n.arg as ModelStatSpec;
    return `kthModel(%${n.src[0]}, key=${JSON.stringify(a.key)}, m=${a.m})`;
  }
  return `${n.op}(${n.src.map((s) => `%${s}`).join(", ")})`;
}

interface Group {
  jobs: ComputeJob[];
}

function groups(plan: Plan): Group[] {
  const by = new Map<string, ComputeJob[]>();
  for (const j of plan.computeJobs) {
    const list = by.get(j.signature) ?? [];
    list.push(j);
    by.set(j.signature, list);
  }
  return [...by.values()].map((jobs) => ({ jobs }));
}

function passText(j: ComputeJob, p: PassSpec, k: number, label = `pass ${k + 1}`): string {
  const parts: string[] = [];
  if (p.kthHigh.length) parts.push(`kth high bits %${p.kthHigh.join(", %")}`);
  if (p.kthLow.length) parts.push(`kth low bits %${p.kthLow.join(", %")}`);
  if (p.reduces.length) parts.push(`reduce %${p.reduces.join(", %")}`);
  if (p.axisReduces?.length) parts.push(`row reduce %${p.axisReduces!.join(", %")}`);
  if (p.outputs.length) parts.push(`write ${p.outputs.map((o) => `%${j.outputs[o].node}`).join(", ")}`);
  return `${label}: reads ${p.inputs.length} input(s), ${p.vectors.length} fused vector op(s); ${parts.join("; ")}`;
}

function explainText(plan: Plan): string {
  const lines: string[] = [];
  const compute = plan.computeJobs;
  const carry = plan.jobs.length - compute.length;
  lines.push(`plan: ${plan.roots.length} output model(s), ${plan.jobs.length} tensors (${compute.length} computed, ${carry} carried through)`);
  lines.push(`inputs: ${plan.sources.map((s, i) => `#${i} ${s.label}`).join(", ") || "none"}`);
  if (plan.modelStats.length) lines.push(`model-scope statistics (2 pre-passes over their tensors): ${plan.modelStats.map((s) => `${s.key} (m=${s.m})`).join(", ")}`);
  lines.push(
    `reads ${fmtBytes(plan.bytesRead)}, writes ${fmtBytes(plan.bytesWritten)}; chunk ${formatCount(plan.options.chunkSize)} elements, ` +
      `${plan.options.workers || 1} worker(s), peak working memory ≈ ${fmtBytes(plan.peakMemory)}`,
  );
  for (const { jobs } of groups(plan)) {
    const j = jobs[0];
    const more = jobs.length > 1 ? ` (and ${jobs.length - 1} more with the same graph)` : "";
    lines.push("");
    lines.push(`${j.name} [${j.shape.join(", ")}]${more}: ${j.nodes.length} nodes, ${j.passes.length} pass(es)`);
    j.nodes.forEach((n, i) => lines.push(`  %${i} = ${nodeText(n, j.inputSources[i])}${n.axis !== undefined ? `  (per row, axis ${n.axis})` : n.scalar && n.op !== "const" ? "  (scalar)" : ""}`));
    if (j.modelPass) lines.push(`  ${passText(j, j.modelPass, 0, "model pre-pass (×2)")}`);
    j.passes.forEach((p, k) => lines.push(`  ${passText(j, p, k)}`));
  }
  return lines.join("\n");
}

function explainHtml(plan: Plan): string {
  const esc = (s: string) => s.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
  const compute = plan.computeJobs;
  const head =
    `<p><b>plan</b>: ${plan.roots.length} output model(s), ${plan.jobs.length} tensors (${compute.length} computed, ` +
    `${plan.jobs.length - compute.length} carried through); reads ${fmtBytes(plan.bytesRead)}, writes ${fmtBytes(plan.bytesWritten)}, ` +
    `peak working memory ≈ ${fmtBytes(plan.peakMemory)}</p>`;
  const rows = groups(plan)
    .map(({ jobs }) => {
      const j = jobs[0];
      const graph = j.nodes.map((n, i) => `%${i} = ${nodeText(n, j.inputSources[i])}`).join("\n");
      const passes = j.passes.map((p, k) => passText(j, p, k)).join("<br>");
      return `<tr><td style="text-align:left">${esc(j.name)}${jobs.length > 1 ? ` <i>+${jobs.length - 1}</i>` : ""}</td><td>[${j.shape.join(", ")}]</td>` +
        `<td style="text-align:left">${passes}</td><td style="text-align:left"><details><summary>${j.nodes.length} nodes</summary><pre>${esc(graph)}</pre></details></td></tr>`;
    })
    .join("");
  return `${head}<table class="mergelab-plan"><tr><th>tensor</th><th>shape</th><th>passes</th><th>graph</th></tr>${rows}</table>`;
}
