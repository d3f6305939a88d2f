/**
 * Fusion: one generated JavaScript loop per pass. Each element's vector nodes
 * are computed into locals, rounded with Math.fround after every op (exactly
 * evaluateNaive's numerics), and fed to reductions (float64 accumulators
 * carried across chunks in element order), kth histograms and outputs. No
 * closures or allocation per element; scalar values are loaded into locals
 * before the loop. Compiled functions are cached by the job's structure, so
 * every tensor with the same graph shape shares one (and V8 optimizes it once).
 */
import { constValue, INDEX_UNIT, randAt, type Node } from "../ir.js";
import { isF32Const, isSmallIntConst, type PassSpec, type SerialNode } from "../plan.js";

/**
 * Row statistics of a job (ir.ts): G the known row values by node (Float64Array per row),
 * GA the accumulators of the pass's axisReduces (read and written back), `last` = shape[-1]
 * and `inner` = numel / shape[0] (row of element i: floor(i / last) for axis -1, i mod inner for axis 0).
 */
export interface RowState {
  G: Array<Float64Array | undefined>;
  GA: Float64Array[];
  last: number;
  inner: number;
}

export const NO_ROWS: RowState = { G: [], GA: [], last: 1, inner: 1 };

/**
 * (I, O, S, A, H, B, RK, start, from, to, R): I input chunks (pass.inputs order), O output
 * chunks (pass.outputs order), S scalar values by node, A accumulators (pass.reduces
 * order, read and written back), H histograms (high-bit slots, then kthLow), B selected
 * high bins (kthLow order), RK rand keys by node; computes chunk elements [from, to) of
 * the chunk whose first element has tensor index `start`.
 */
export type PassFn = (
  I: Float32Array[],
  O: Float32Array[],
  S: Float64Array,
  A: Float64Array,
  H: Int32Array[],
  B: Int32Array,
  RK: Float64Array,
  start: number,
  from: number,
  to: number,
  R?: RowState,
) => void;

/**
 * Elements per call of a pass function. A long loop in one call would run in
 * V8's interpreter until on-stack replacement finishes compiling it (seconds on
 * a busy machine for a large fused body); short calls switch to the optimized
 * code as soon as it is ready. Reductions and histograms carry across calls.
 */
export const SLICE = 1 << 14;

/** Run `fn` over chunk elements [0, len) in slices. */
export function runPass(fn: PassFn, I: Float32Array[], O: Float32Array[], S: Float64Array, A: Float64Array, H: Int32Array[], B: Int32Array, RK: Float64Array, start: number, len: number, R: RowState = NO_ROWS): void {
  for (let from = 0; from < len; from += SLICE) fn(I, O, S, A, H, B, RK, start, from, Math.min(len, from + SLICE), R);
}

/** By signature, then pass index: the signature is the template's own string (its hash is kept), never a new key per tensor. */
const cache = new Map<string, Map<string, PassFn>>();

export function compilePass(signature: string, passIndex: string, nodes: SerialNode[], pass: PassSpec, outputs: number[]): PassFn {
  let passes = cache.get(signature);
  if (!passes) cache.set(signature, (passes = new Map()));
  let fn = passes.get(passIndex);
  if (!fn) {
    fn = build(nodes, pass, outputs);
    passes.set(passIndex, fn);
  }
  return fn;
}


export function generateSource(nodes: SerialNode[], pass: PassSpec, outputs: number[]): string {
  const pre: string[] = [];
  const body: string[] = [];
  const post: string[] = [];
  const scalarsUsed = new Set<number>();
  const rowsUsed = new Set<number>();
  const rowVar = (axis: number) => (axis === -1 ? "rA" : "rB");
  const axesUsed = new Set<number>();
  const ref = (i: number): string => {
    const axis = nodes[i].axis;
    if (axis !== undefined) {
      rowsUsed.add(i);
      axesUsed.add(axis);
      return `g${i}[${rowVar(axis)}]`;
    }
    if (nodes[i].scalar) {
      scalarsUsed.add(i);
      return `s${i}`;
    }
    return `v${i}`;
  };
  // is the value of operand i a float32 (so exact ops need no fround)?
  const isF32 = (i: number) => !nodes[i].scalar || nodes[i].op === "kth" || nodes[i].op === "kthModel" || (nodes[i].op === "const" && isF32Const(nodes[i]));
  // integer bound of a value (Infinity when not known to be an integer; NaN allowed): results that
  // are integers of magnitude ≤ 2^24 are exact float32s, so e.g. counts of booleans need no fround
  const bound = new Map<number, number>();
  const boundOf = (i: number): number => {
    const n = nodes[i];
    if (n.scalar) return n.op === "const" && isSmallIntConst(n) ? Math.abs(constValue(n as unknown as Node)) : Infinity;
    return bound.get(i) ?? Infinity;
  };
  const exactInt = (x: number) => x <= 2 ** 24;
  let usesRand = false;
  const round = (i: number, expr: string) => (exactInt(bound.get(i) ?? Infinity) ? expr : `Math.fround(${expr})`);
  pass.inputs.forEach((n, k) => pre.push(`const in${n} = I[${k}];`));
  for (const i of pass.vectors) {
    const n = nodes[i];
    const [a, b, c] = n.src.map(ref);
    const [ba, bb, bc] = n.src.map(boundOf);
    if (["gt", "ge", "lt", "le", "eq", "ne", "and", "or", "not", "isfinite", "sign"].includes(n.op)) bound.set(i, 1);
    else if (n.op === "neg" || n.op === "abs" || n.op === "floor") bound.set(i, ba);
    else if (n.op === "add" || n.op === "sub") bound.set(i, ba + bb);
    else if (n.op === "mul") bound.set(i, ba * bb);
    else if (n.op === "where") bound.set(i, Math.max(bb, bc));
    let e: string;
    switch (n.op) {
      case "input": e = `in${i}[i]`; break;
      case "rand":
        pre.push(`const rk${i} = RK[${i}];`);
        e = `(straddle ? randAt(rk${i}, start + i) : randLow(rk${i} ^ ((start + i) >>> 0), hiMix))`;
        usesRand = true;
        break;
      case "indexHi": e = `Math.floor((start + i) / ${INDEX_UNIT})`; bound.set(i, 2 ** 24); break;
      case "indexLo": e = `((start + i) % ${INDEX_UNIT})`; bound.set(i, INDEX_UNIT - 1); break;
      case "neg": e = `-${a}`; break;
      case "abs": e = `Math.abs(${a})`; break;
      case "sign": e = `(${a} > 0 ? 1 : ${a} < 0 ? -1 : ${a} === 0 ? 0 : NaN)`; break;
      case "floor": e = `Math.floor(${a})`; break;
      case "fround": e = a; break; // vector values are float32 already
      case "not": e = `(${a} === 0 ? 1 : 0)`; break;
      case "isfinite": e = `(${a} - ${a} === 0 ? 1 : 0)`; break;
      case "sqrt": case "exp": case "log": case "sin": case "acos": e = `Math.fround(Math.${n.op}(${a}))`; break;
      case "add": e = round(i, `${a} + ${b}`); break;
      case "sub": e = round(i, `${a} - ${b}`); break;
      case "mul": e = round(i, `${a} * ${b}`); break;
      case "div": e = `Math.fround(${a} / ${b})`; break;
      case "pow": e = `Math.fround(Math.pow(${a}, ${b}))`; break;
      case "min": case "max": {
        const m = `Math.${n.op}(${a}, ${b})`;
        e = isF32(n.src[0]) && isF32(n.src[1]) ? m : `Math.fround(${m})`;
        break;
      }
      case "gt": e = `(${a} > ${b} ? 1 : 0)`; break;
      case "ge": e = `(${a} >= ${b} ? 1 : 0)`; break;
      case "lt": e = `(${a} < ${b} ? 1 : 0)`; break;
      case "le": e = `(${a} <= ${b} ? 1 : 0)`; break;
      case "eq": e = `(${a} === ${b} ? 1 : 0)`; break;
      case "ne": e = `(${a} !== ${b} ? 1 : 0)`; break;
      case "and": e = `(${a} !== 0 && ${b} !== 0 ? 1 : 0)`; break;
      case "or": e = `(${a} !== 0 || ${b} !== 0 ? 1 : 0)`; break;
      case "where": {
        const w = `(${a} !== 0 ? ${b} : ${c})`;
        e = (isF32(n.src[1]) && isF32(n.src[2])) || exactInt(bound.get(i)!) ? w : `Math.fround(${w})`;
        break;
      }
      default:
        throw new Error(`compile: ${n.op} is not a vector op`);
    }
    body.push(`const v${i} = ${e};`);
  }
  // a statistic or output over a scalar sees it broadcast as float32 (evaluateNaive's asVec)
  const elem = (i: number) => (nodes[i].scalar ? `Math.fround(${ref(i)})` : ref(i));
  pass.reduces.forEach((r, k) => {
    const x = elem(nodes[r].src[0]);
    pre.push(`let a${k} = A[${k}];`);
    if (nodes[r].op === "sum") body.push(`a${k} += ${x};`);
    else body.push(`{ const x = ${x}; if (x === x) a${k} = Math.${nodes[r].op}(a${k}, x); }`);
    post.push(`A[${k}] = a${k};`);
  });
  (pass.axisReduces ?? []).forEach((r, k) => {
    const x = elem(nodes[r].src[0]);
    const axis = nodes[r].axis!;
    axesUsed.add(axis);
    const at = `ga${k}[${rowVar(axis)}]`;
    pre.push(`const ga${k} = R.GA[${k}];`);
    if (nodes[r].op === "sumAlong") body.push(`${at} += ${x};`);
    else body.push(`{ const x = ${x}; if (x === x) ${at} = Math.${nodes[r].op === "maxAlong" ? "max" : "min"}(${at}, x); }`);
  });
  // kth nodes over the same values share one high-bits histogram, and one key computation per element
  const high = highSlots(nodes, pass.kthHigh);
  high.sources.forEach((src, k) => {
    pre.push(`const h${k} = H[${k}];`);
    body.push(`{ const x = ${elem(src)}; if (x === x) { F[0] = x + 0; const b = Q[0]; const bin = (b ^ ((b >> 31) | 0x80000000)) >>> 16; h${k}[bin]++; h${k}[${HIST_BINS} + (bin >>> 8)]++; } }`);
  });
  const lowBySource = new Map<number, number[]>();
  pass.kthLow.forEach((r, k) => {
    const src = nodes[r].src[0];
    lowBySource.set(src, [...(lowBySource.get(src) ?? []), k]);
    pre.push(`const l${k} = H[${high.sources.length + k}]; const sel${k} = B[${k}];`);
  });
  for (const [src, ks] of lowBySource) {
    const updates = ks.map((k) => `if (hi === sel${k}) { l${k}[lo]++; l${k}[${HIST_BINS} + (lo >>> 8)]++; }`).join(" ");
    body.push(`{ const x = ${elem(src)}; if (x === x) { F[0] = x + 0; const b = Q[0]; const key = b ^ ((b >> 31) | 0x80000000); const hi = key >>> 16; const lo = key & 0xffff; ${updates} } }`);
  }
  pass.outputs.forEach((o, k) => {
    pre.push(`const o${k} = O[${k}];`);
    body.push(`o${k}[i] = ${ref(outputs[o])};`);
  });
  for (const s of [...scalarsUsed].sort((x, y) => x - y)) pre.unshift(`const s${s} = S[${s}];`);
  for (const r of [...rowsUsed].sort((x, y) => x - y)) pre.push(`const g${r} = R.G[${r}];`);
  if (axesUsed.has(0)) body.unshift(`const rB = (start + i) % inner;`);
  if (axesUsed.has(-1)) body.unshift(`const rA = Math.floor((start + i) / last);`);
  if (axesUsed.size) pre.push("const last = R.last; const inner = R.inner;");
  if (usesRand) {
    // ir.ts randAt with the high word of the index hoisted out of the loop (valid unless the chunk crosses 2^32)
    pre.unshift(
      "const hiWord = Math.floor((start + from) / 4294967296);",
      "const straddle = Math.floor((start + to - 1) / 4294967296) !== hiWord;",
      "const hiMix = Math.imul(hiWord >>> 0, 0x9e3779b1) ^ 0x6a09e667;",
    );
  }
  return [...pre, "for (let i = from; i < to; i++) {", ...body.map((l) => "  " + l), "}", ...post].join("\n");
}

function build(nodes: SerialNode[], pass: PassSpec, outputs: number[]): PassFn {
  const src = generateSource(nodes, pass, outputs);
  // F/Q: a float32 and its bits (the order-preserving radix key of kth); randAt: ir.ts's generator
  const factory = new Function("randAt", "randLow", `"use strict";\nconst F = new Float32Array(1); const Q = new Int32Array(F.buffer);\nreturn function pass(I, O, S, A, H, B, RK, start, from, to, R) {\n${src}\n};`);
  return factory(randAt, randLow) as PassFn;
}

/** murmur3's fmix32 (as ir.ts), on int32 bits. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** randAt(key, index) given keyXorLo = key ^ (index mod 2^32) and hiMix = imul(index / 2^32, 0x9e3779b1) ^ 0x6a09e667. */
function randLow(keyXorLo: number, hiMix: number): number {
  return (fmix(fmix(keyXorLo) ^ hiMix) >>> 8) * 5.9604644775390625e-8; // 2^-24: exact, = / 16777216
}

// ---------------------------------------------------------------- radix select

/**
 * High-bits histogram slots of a pass: one per distinct source among `kths`
 * (in first-use order); `slotOf[j]` is the slot of kths[j]. The executor's H
 * holds these slots, then one low-bits histogram per kthLow node.
 */
export function highSlots(nodes: SerialNode[], kths: readonly number[]): { sources: number[]; slotOf: number[] } {
  const sources: number[] = [];
  const slotOf = kths.map((r) => {
    const src = nodes[r].src[0];
    let k = sources.indexOf(src);
    if (k < 0) k = sources.push(src) - 1;
    return k;
  });
  return { sources, slotOf };
}

/** The float32 whose order-preserving key is `key` (inverse of b ^ ((b >> 31) | 0x80000000)). */
export function keyToFloat(key: number): number {
  const bits = key & 0x80000000 ? key ^ 0x80000000 : ~key;
  KQ[0] = bits;
  return KF[0];
}
const KF = new Float32Array(1);
const KQ = new Int32Array(KF.buffer);

/** m as evaluateNaive clamps it: round, then into [1, count]; NaN when m is NaN. */
export function clampRank(m: number, count: number): number {
  return Math.min(Math.max(Math.round(m), 1), count);
}

/**
 * A tensor's radix histogram (an Int32Array of HIST_LEN): 65536 bins, then 256 block counts (block
 * b = the sum of bins [256b, 256b + 256)), which the pass functions keep up to date. Walking,
 * totalling and clearing it cost the blocks plus the occupied ones, not 65536 bins per tensor: a
 * model of 100k small tensors would spend most of its time scanning empty bins.
 */
export const HIST_BINS = 65536;
export const HIST_BLOCKS = 256;
export const HIST_LEN = HIST_BINS + HIST_BLOCKS;
const BLOCK = HIST_BINS / HIST_BLOCKS;

/** A histogram with block counts (HIST_LEN long) rather than bins only (65536: the model-level sums). */
const blocked = (hist: ArrayLike<number>) => hist.length === HIST_LEN;

/**
 * Walk a histogram from the top bin down to the bin holding the rank-th largest
 * element; returns the bin and the rank within it.
 */
export function selectBin(hist: ArrayLike<number>, rank: number): { bin: number; rank: number } {
  let above = 0;
  let top = HIST_BINS - 1;
  if (blocked(hist)) {
    // skip whole blocks above the one holding the rank-th element
    let blk = HIST_BLOCKS - 1;
    for (; blk > 0; blk--) {
      const c = hist[HIST_BINS + blk];
      if (above + c >= rank) break;
      above += c;
    }
    top = blk * BLOCK + BLOCK - 1;
  }
  for (let b = top; b >= 0; b--) {
    const c = hist[b];
    if (above + c >= rank) return { bin: b, rank: rank - above };
    above += c;
  }
  throw new Error(`radix select: rank ${rank} beyond ${above} elements`);
}

export function histTotal(hist: ArrayLike<number>): number {
  let t = 0;
  if (blocked(hist)) for (let b = HIST_BINS; b < HIST_LEN; b++) t += hist[b];
  else for (let b = 0; b < HIST_BINS; b++) t += hist[b];
  return t;
}

/** Zero a histogram with block counts: only its occupied blocks. */
export function clearHist(hist: Int32Array): void {
  for (let blk = 0; blk < HIST_BLOCKS; blk++) {
    if (hist[HIST_BINS + blk] === 0) continue;
    hist.fill(0, blk * BLOCK, blk * BLOCK + BLOCK);
    hist[HIST_BINS + blk] = 0;
  }
}

/** acc[b] += hist[b] for every bin of a histogram with block counts (occupied blocks only). */
export function addHist(acc: Float64Array, hist: Int32Array): void {
  for (let blk = 0; blk < HIST_BLOCKS; blk++) {
    if (hist[HIST_BINS + blk] === 0) continue;
    for (let b = blk * BLOCK; b < blk * BLOCK + BLOCK; b++) acc[b] += hist[b];
  }
}
