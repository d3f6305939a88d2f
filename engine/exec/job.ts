/**
 * Running one output tensor (a job) in the current thread: per pass, per
 * chunk, read each input's byte range once into reused buffers, run the
 * pass's fused loop, stream outputs to the sink; between passes, finalize the
 * statistics (reduce accumulators, radix-select bins) and the scalar
 * arithmetic on them (float64, as evaluateNaive). When the tensor fits in one
 * chunk its inputs are decoded once and every pass reuses them.
 */
import { Checkpoint, type CheckpointDescription } from "../../io/index.js";
import { DTYPES, type DType } from "../../io/index.js";
import { applyBinary, applyUnary, constValue, isAxisReduce, isBinary, isReduceNode, isUnary, randKey, rowLayout, type Axis, type Node } from "../ir.js";
import type { CarryJob, ComputeJob, PassSpec } from "../plan.js";
import { openComputed, type ComputedDescription, type ComputedReader } from "../computed.js";
import { addHist, clampRank, clearHist, compilePass, highSlots, HIST_BINS, HIST_LEN, histTotal, keyToFloat, runPass, selectBin, type RowState } from "./compile.js";

/** A plan source as plain data (crosses to workers). */
export type SourceDescription =
  | { kind: "checkpoint"; description: CheckpointDescription }
  /** The plan's own opened checkpoint, for a runner in the calling thread (never sent to a worker): not reopened. */
  | { kind: "open"; checkpoint: Checkpoint }
  | ComputedDescription
  | { kind: "memory"; tensors: Record<string, { shape: number[]; dtype: DType; data: Float32Array | Uint8Array }> };

/** Where a job's results go. */
export interface JobSink {
  /** `data` (float32, reused after the call) holds elements [start, start + data.length) of output k. */
  writeF32(job: ComputeJob, k: number, start: number, data: Float32Array): void;
  writeRaw(job: CarryJob, byteStart: number, bytes: Uint8Array): void;
}

export class Readers {
  private readonly opened: Array<Checkpoint | ComputedReader | SourceDescription & { kind: "memory" }>;
  bytesRead = 0;
  rangeReads = 0;

  constructor(sources: readonly SourceDescription[]) {
    this.opened = sources.map((s) =>
      s.kind === "checkpoint" ? Checkpoint.fromDescription(s.description) : s.kind === "open" ? s.checkpoint : s.kind === "computed" ? openComputed(s) : s,
    );
  }

  /** Elements [start, start+count) of `tensor` in source `i` as float32 (into `buf`, or a view of in-memory data). */
  readF32(i: number, tensor: string, start: number, count: number, buf: Float32Array): Float32Array {
    const s = this.opened[i];
    this.rangeReads++;
    if (s instanceof Checkpoint) {
      const out = s.readF32(tensor, start, count, buf);
      this.bytesRead += count * DTYPES[s.tensor(tensor).dtype].size;
      return out;
    }
    if (!("kind" in s)) return s.readF32(tensor, start, count, buf);
    const data = s.tensors[tensor].data as Float32Array;
    this.bytesRead += count * 4;
    return data.subarray(start, start + count);
  }

  readRaw(i: number, tensor: string, start: number, count: number, buf: Uint8Array): Uint8Array {
    const s = this.opened[i];
    this.rangeReads++;
    this.bytesRead += count;
    if (s instanceof Checkpoint) return s.readRaw(tensor, start, count, buf);
    if (!("kind" in s)) throw new Error(`computed source: '${tensor}' is not a carried-through tensor`);
    return (s.tensors[tensor].data as Uint8Array).subarray(start, start + count);
  }

  close(): void {
    for (const s of this.opened) if (s instanceof Checkpoint || !("kind" in s)) s.close();
  }
}

/** Reused buffers: one per slot, grown when needed (no allocation per chunk). */
export class Buffers {
  private f32: Float32Array[] = [];
  private hist: Int32Array[] = [];
  raw = new Uint8Array(0);

  f32At(slot: number, n: number): Float32Array {
    let b = this.f32[slot];
    if (!b || b.length < n) this.f32[slot] = b = new Float32Array(Math.max(n, 1));
    return b;
  }
  /** A zeroed radix histogram with block counts (compile.ts HIST_LEN). */
  histAt(slot: number): Int32Array {
    let h = this.hist[slot];
    if (!h) this.hist[slot] = h = new Int32Array(HIST_LEN);
    else clearHist(h);
    return h;
  }
  rawOf(n: number): Uint8Array {
    if (this.raw.length < n) this.raw = new Uint8Array(n);
    return this.raw;
  }
}

export interface RunContext {
  readers: Readers;
  buffers: Buffers;
  chunkSize: number;
  /** Values of model-scope statistics (kthModel), by key. */
  modelValues: Record<string, number>;
}

/** State of one job's scalars between passes. */
class ScalarState {
  readonly S: Float64Array;
  readonly known: Uint8Array;
  readonly RK: Float64Array;
  /** Row values (by node) and the row layout: what pass functions read as R. */
  readonly R: RowState;
  private readonly rowCount: Record<Axis, number>;
  constructor(private readonly job: ComputeJob, modelValues: Record<string, number>) {
    const n = job.nodes.length;
    const a = rowLayout(job.shape, job.numel, -1);
    const b = rowLayout(job.shape, job.numel, 0);
    this.rowCount = { [-1]: a.count, 0: b.count } as Record<Axis, number>;
    this.R = { G: [], GA: [], last: a.last, inner: b.inner };
    this.S = new Float64Array(n);
    this.known = new Uint8Array(n);
    this.RK = new Float64Array(n);
    job.nodes.forEach((node, i) => {
      if (node.op === "const") this.set(i, constValue(node as unknown as Node));
      else if (node.op === "numel") this.set(i, job.numel);
      else if (node.op === "kthModel") {
        const v = modelValues[(node.arg as { key: string }).key];
        if (v !== undefined) this.set(i, v);
      } else if (node.op === "rand") {
        const { seed, stream } = node.arg as { seed: number; stream: string };
        this.RK[i] = randKey(seed, stream, job.name);
      }
    });
  }
  set(i: number, v: number): void {
    this.S[i] = v;
    this.known[i] = 1;
  }
  setRows(i: number, v: Float64Array): void {
    this.R.G[i] = v;
    this.known[i] = 1;
  }
  /** A fresh accumulator for row reduction node i. */
  rowAccumulator(i: number): Float64Array {
    const n = this.job.nodes[i];
    const init = n.op === "sumAlong" ? 0 : n.op === "maxAlong" ? -Infinity : Infinity;
    return new Float64Array(this.rowCount[n.axis!]).fill(init);
  }
  /**
   * Evaluate scalar arithmetic whose operands are known (float64, no rounding: evaluateNaive's scalars).
   * Runs a few times per tensor: plain loops, no closure or array per node (100k tensors, issue #17).
   */
  propagate(): void {
    const nodes = this.job.nodes;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      if (!n.scalar || this.known[i] || !this.allKnown(n.src)) continue;
      const op = n.op;
      if (isReduceNode(n) || isAxisReduce(op) || op === "kth" || op === "kthModel") continue;
      if (n.axis === undefined) {
        const S = this.S;
        const src = n.src;
        this.set(i, isUnary(op) ? applyUnary(op, S[src[0]]) : isBinary(op) ? applyBinary(op, S[src[0]], S[src[1]]) : S[src[0]] !== 0 ? S[src[1]] : S[src[2]]);
        continue;
      }
      const apply = (s: number[]) => (isUnary(op) ? applyUnary(op, s[0]) : isBinary(op) ? applyBinary(op, s[0], s[1]) : s[0] !== 0 ? s[1] : s[2]);
      // per row, in float64 (whole-tensor scalars broadcast)
      const v = new Float64Array(this.rowCount[n.axis]);
      const rows = n.src.map((j) => this.R.G[j]);
      const s = n.src.map((j) => this.S[j]);
      for (let r = 0; r < v.length; r++) v[r] = apply(s.map((x, k) => (rows[k] ? rows[k]![r] : x)));
      this.setRows(i, v);
    }
  }

  private allKnown(src: readonly number[]): boolean {
    for (let k = 0; k < src.length; k++) if (!this.known[src[k]]) return false;
    return true;
  }
}

interface KthState {
  bin: number;
  rank: number;
}

const NO_F64 = new Float64Array(0);
const NO_I32 = new Int32Array(0);

/** Run a compute job; returns its named scalars. */
export function runComputeJob(job: ComputeJob, ctx: RunContext, sink: JobSink): Record<string, number> {
  const st = new ScalarState(job, ctx.modelValues);
  const kth = new Map<number, KthState>();
  const whole = job.numel <= ctx.chunkSize;
  const chunk = Math.max(1, Math.min(job.numel, ctx.chunkSize));
  const loaded = new Map<number, Float32Array>();
  const slotOf = new Map<number, number>();
  for (const k of Object.keys(job.inputSources)) slotOf.set(Number(k), slotOf.size);
  const outSlot0 = slotOf.size;
  st.propagate();
  job.passes.forEach((pass, p) => {
    const fn = compilePass(job.signature, String(p), job.nodes, pass, job.outputs.map((o) => o.node));
    // per tensor and pass: no typed array when there is nothing to hold (100k tensors, issue #17)
    const A = pass.reduces.length ? new Float64Array(pass.reduces.length) : NO_F64;
    st.R.GA = (pass.axisReduces ?? []).map((r) => st.rowAccumulator(r));
    pass.reduces.forEach((r, k) => (A[k] = job.nodes[r].op === "sum" ? 0 : job.nodes[r].op === "max" ? -Infinity : Infinity));
    const high = highSlots(job.nodes, pass.kthHigh);
    const H = [...high.sources, ...pass.kthLow].map((_, k) => ctx.buffers.histAt(k));
    const B = pass.kthLow.length ? Int32Array.from(pass.kthLow, (r) => kth.get(r)!.bin) : NO_I32;
    const O = pass.outputs.map((_, k) => ctx.buffers.f32At(outSlot0 + k, chunk));
    const I: Float32Array[] = new Array(pass.inputs.length);
    for (let start = 0; start < job.numel; start += chunk) {
      const len = Math.min(chunk, job.numel - start);
      pass.inputs.forEach((n, k) => (I[k] = readInput(job, n, start, len, whole, loaded, slotOf.get(n)!, ctx)));
      runPass(fn, I, O, st.S, A, H, B, st.RK, start, len, st.R);
      pass.outputs.forEach((o, k) => sink.writeF32(job, o, start, len === O[k].length ? O[k] : O[k].subarray(0, len)));
    }
    if (job.numel === 0) pass.outputs.forEach((o, k) => sink.writeF32(job, o, 0, O[k].subarray(0, 0)));
    finishPass(job, pass, st, kth, A, H, high.slotOf);
  });
  st.propagate();
  const out: Record<string, number> = {};
  for (const [name, i] of job.scalars) out[name] = st.S[i];
  return out;
}

function readInput(job: ComputeJob, n: number, start: number, len: number, whole: boolean, loaded: Map<number, Float32Array>, slot: number, ctx: RunContext): Float32Array {
  const hit = whole ? loaded.get(n) : undefined;
  if (hit) return hit;
  const src = job.inputSources[n];
  const data = ctx.readers.readF32(src.source, src.tensor, start, len, ctx.buffers.f32At(slot, len));
  if (whole) loaded.set(n, data);
  return data;
}

/** After a pass: reduce results, kth low → value, scalar arithmetic, kth high → selected bin. */
function finishPass(job: ComputeJob, pass: PassSpec, st: ScalarState, kth: Map<number, KthState>, A: Float64Array, H: Int32Array[], slotOf: number[]): void {
  const lowBase = H.length - pass.kthLow.length;
  pass.reduces.forEach((r, k) => st.set(r, A[k]));
  (pass.axisReduces ?? []).forEach((r, k) => st.setRows(r, st.R.GA[k]));
  pass.kthLow.forEach((r, k) => {
    const s = kth.get(r)!;
    if (s.bin < 0) return;
    const low = selectBin(H[lowBase + k], s.rank).bin;
    st.set(r, keyToFloat(((s.bin << 16) | low) | 0));
  });
  st.propagate();
  pass.kthHigh.forEach((r, j) => {
    const h = H[slotOf[j]];
    const total = histTotal(h);
    const m = clampRank(st.S[job.nodes[r].src[1]], total);
    if (total === 0 || !(m >= 1)) {
      kth.set(r, { bin: -1, rank: 0 });
      st.set(r, NaN);
      return;
    }
    kth.set(r, selectBin(h, m));
  });
}

/**
 * One model-level radix pass over this tensor's contributions to kthModel
 * statistics: "high" adds the high-16-bit histogram of each key's values into
 * `hists[key]`; "low" the low-16-bit histogram within `bins[key]`.
 */
export function runModelPass(job: ComputeJob, ctx: RunContext, stage: "high" | "low", hists: Map<string, Float64Array>, bins: Record<string, number>): void {
  const base = job.modelPass!;
  const ids = base.kthHigh;
  const pass: PassSpec = stage === "high" ? base : { ...base, kthHigh: [], kthLow: ids };
  const fn = compilePass(job.signature, `model-${stage}`, job.nodes, pass, []);
  const st = new ScalarState(job, ctx.modelValues);
  st.propagate();
  const high = highSlots(job.nodes, ids);
  const H = (stage === "high" ? high.sources : ids).map((_, k) => ctx.buffers.histAt(k));
  const keyOf = new Map(job.modelKeys);
  const B = Int32Array.from(ids, (r) => bins[keyOf.get(r)!] ?? -1);
  const whole = job.numel <= ctx.chunkSize;
  const chunk = Math.max(1, Math.min(job.numel, ctx.chunkSize));
  const slotOf = new Map<number, number>();
  for (const k of Object.keys(job.inputSources)) slotOf.set(Number(k), slotOf.size);
  const loaded = new Map<number, Float32Array>();
  const I: Float32Array[] = new Array(pass.inputs.length);
  for (let start = 0; start < job.numel; start += chunk) {
    const len = Math.min(chunk, job.numel - start);
    pass.inputs.forEach((n, k) => (I[k] = readInput(job, n, start, len, whole, loaded, slotOf.get(n)!, ctx)));
    runPass(fn, I, [], st.S, new Float64Array(0), H, B, st.RK, start, len, st.R);
  }
  ids.forEach((r, k) => {
    const key = keyOf.get(r)!;
    let acc = hists.get(key);
    if (!acc) hists.set(key, (acc = new Float64Array(HIST_BINS)));
    addHist(acc, H[stage === "high" ? high.slotOf[k] : k]);
  });
}

/** Copy a carried-through tensor's bytes in chunks. */
export function runCarryJob(job: CarryJob, ctx: RunContext, sink: JobSink): void {
  const step = Math.max(4096, ctx.chunkSize * 4);
  const buf = ctx.buffers.rawOf(Math.min(step, Math.max(job.byteLength, 1)));
  for (let start = 0; start < job.byteLength; start += step) {
    const n = Math.min(step, job.byteLength - start);
    sink.writeRaw(job, start, ctx.readers.readRaw(job.source, job.tensor, start, n, buf));
  }
  if (job.byteLength === 0) sink.writeRaw(job, 0, buf.subarray(0, 0));
}
