/**
 * The plan IR: one immutable node type for everything a merge computes on one
 * output tensor (the tinygrad UOp idea). Vector nodes have one value per
 * element of the tensor; scalar nodes are whole-tensor statistics or
 * constants. Nodes are hash-consed by a Graph, so a subexpression built twice
 * (a task vector used by three merges) is one node, computed once per chunk.
 *
 * Numerics (the contract every executor must meet bit for bit):
 * - vector values are float32: every vector op's result is rounded with
 *   Math.fround (inputs are decoded to float32 exactly);
 * - scalar values are float64 (reductions accumulate in float64, sequentially
 *   in element order, so chunking does not change them);
 * - booleans are 1 and 0; sign(0) = 0; NaN compares false;
 * - `kth(a, m)` is the m-th largest value of fround(a) over the tensor,
 *   m = clamp(round(m), 1, n), NaNs ignored (NaN when all are NaN);
 * - `rand` is uniform in [0, 1), a counter-based hash of (seed, stream,
 *   tensor name, element index): independent of chunking, workers and order;
 * - row statistics (`sumAlong`, `maxAlong`, `minAlong` over an `axis`) are
 *   scalar nodes with an `axis`: one float64 value per row, accumulated in
 *   element order within the row (so chunking does not change them either).
 *   Axis -1: a row is every element with the same index in all dims but the
 *   last (row r = floor(i / shape[-1])); axis 0: every element with the same
 *   index in all dims but the first (row r = i mod (n / shape[0]), torch's
 *   reductions over `dim=0`). A 1-D tensor is one row for both. Arithmetic on
 *   them (with whole-tensor scalars) is per row, in float64; a vector op reads
 *   its element's row value;
 * - `indexHi` / `indexLo` are the element's index in the tensor split as
 *   hi·4096 + lo (both exact float32s for tensors of up to 2^36 elements):
 *   what breaks ties by position (mergekit's exact trim count).
 *
 * `evaluateNaive` below is the reference semantics: slow, whole-tensor, obvious.
 * The fused, chunked, parallel executor must reproduce it bitwise.
 */

/** indexHi/indexLo split an element index as hi·INDEX_UNIT + lo. */
export const INDEX_UNIT = 4096;

export type UnaryOp =
  | "neg" | "abs" | "sign" | "sqrt" | "exp" | "log" | "floor" | "not" | "isfinite"
  // trigonometry, for slerp's whole-tensor angle
  | "sin" | "acos"
  // round to float32: a scalar rounded as if broadcast to a vector (so a method on
  // scalars gives the bits of its composition from elementwise blocks)
  | "fround";
export type BinaryOp =
  | "add" | "sub" | "mul" | "div" | "min" | "max" | "pow"
  | "gt" | "ge" | "lt" | "le" | "eq" | "ne" | "and" | "or";
export type ReduceOp = "sum" | "max" | "min";
/** Row reductions (see the file comment): one value per row along `axis`. */
export type AxisReduceOp = "sumAlong" | "maxAlong" | "minAlong";
/** -1: reduce over the last dim (a value per leading index); 0: over the first dim. */
export type Axis = -1 | 0;

export type Node =
  /** Input tensor `tensor` of input model `model` (an index into the plan's inputs), decoded to float32. */
  | N<"input", { model: number; tensor: string }>
  | N<"const", number>
  /** Element count of the output tensor (scalar). */
  | N<"numel", undefined>
  | N<"rand", { seed: number; stream: string }>
  /** The element's index i in the tensor as floor(i / 4096) (indexHi) or i mod 4096 (indexLo). */
  | N<"indexHi" | "indexLo", undefined>
  | N<UnaryOp, undefined>
  | N<BinaryOp, undefined>
  | N<"where", undefined>
  | N<ReduceOp, undefined>
  | N<AxisReduceOp, { axis: Axis }>
  | N<"kth", undefined>
  /**
   * Model-scope statistic: the m-th largest value of `src[0]` over EVERY output
   * tensor whose graph holds a kthModel node with the same `key` (e.g. one trim
   * threshold per expert over all its tensors, TIES `scope="model"`). `m` is a
   * plain number, the same for every tensor of the key (clamped to [1, count]).
   * The executor computes it in a model-level pre-pass; within one tensor it is
   * a known scalar. `src[0]` must not depend on per-tensor statistics.
   */
  | N<"kthModel", { key: string; m: number }>;

interface N<Op extends string, Arg> {
  readonly id: number;
  readonly op: Op;
  readonly src: readonly Node[];
  readonly arg: Arg;
  /** true for whole-tensor values (constants, statistics and arithmetic on them) and row values. */
  readonly scalar: boolean;
  /** Set on row values (scalar nodes that depend on a row reduction): the axis of their rows. */
  readonly axis?: Axis;
}

const UNARY = new Set<string>(["neg", "abs", "sign", "sqrt", "exp", "log", "floor", "not", "isfinite", "sin", "acos", "fround"]);
const BINARY = new Set<string>(["add", "sub", "mul", "div", "min", "max", "pow", "gt", "ge", "lt", "le", "eq", "ne", "and", "or"]);
const REDUCE = new Set<string>(["sum", "max", "min"]);
const AXIS_REDUCE = new Set<string>(["sumAlong", "maxAlong", "minAlong"]);
export const isAxisReduce = (op: string): op is AxisReduceOp => AXIS_REDUCE.has(op);
export const isUnary = (op: string): op is UnaryOp => UNARY.has(op);
export const isBinary = (op: string): op is BinaryOp => BINARY.has(op);
export const isReduce = (op: string): op is ReduceOp => REDUCE.has(op);
/** "min"/"max" name both a binary op and a reduction: a reduction has one source. */
export const isReduceNode = (n: { op: string; src: readonly unknown[] }): boolean => REDUCE.has(n.op) && n.src.length === 1;

type Operand = Node | number;

/** Builds hash-consed nodes. One Graph per plan: equal subexpressions are the same object. */
export class Graph {
  private readonly nodes = new Map<string, Node>();
  private nextId = 0;
  /**
   * The plan's input sources (checkpoints, in-memory tensor sets), in first-use
   * order: `input(model, …)` nodes index into this list. Leaf models register
   * their source here when their recipe runs (see engine/model.ts).
   */
  readonly sources: object[] = [];

  /** Index of `source` among this graph's inputs (registered on first use). */
  sourceIndex(source: object): number {
    const i = this.sources.indexOf(source);
    if (i >= 0) return i;
    this.sources.push(source);
    return this.sources.length - 1;
  }

  get size(): number {
    return this.nodes.size;
  }

  private readonly recipes = new Map<object, Map<string, Node>>();
  /**
   * The node of `owner`'s tensor `tensor` in this graph, made by `make` on first use (a model's
   * recipe: a model used twice in an expression expands once). Held by the graph, so it dies with it.
   */
  memo(owner: object, tensor: string, make: () => Node): Node {
    let m = this.recipes.get(owner);
    if (!m) this.recipes.set(owner, (m = new Map()));
    let node = m.get(tensor);
    if (!node) m.set(tensor, (node = make()));
    return node;
  }

  private make(op: Node["op"], src: Node[], arg: unknown, scalar: boolean): Node {
    let ids = "";
    for (let i = 0; i < src.length; i++) ids += i === 0 ? `${src[i].id}` : `,${src[i].id}`;
    const key = `${op}|${ids}|${arg === undefined ? "" : typeof arg === "number" ? `${arg}` : JSON.stringify(arg)}`;
    let node = this.nodes.get(key);
    if (!node) {
      // a row value: a row reduction, or scalar arithmetic on one (a whole-tensor reduction of it is whole-tensor)
      let axis: Axis | undefined;
      if (isAxisReduce(op)) axis = (arg as { axis: Axis }).axis;
      else if (scalar && !(REDUCE.has(op) && src.length === 1) && op !== "kth" && op !== "kthModel") {
        for (const s of src) {
          if (s.axis === undefined) continue;
          if (axis !== undefined && axis !== s.axis) throw new Error(`plan: ${op} mixes row values of axis ${axis} and ${s.axis}`);
          axis = s.axis;
        }
      }
      node = Object.freeze(axis === undefined ? { id: this.nextId++, op, src: Object.freeze(src), arg, scalar } : { id: this.nextId++, op, src: Object.freeze(src), arg, scalar, axis }) as Node;
      this.nodes.set(key, node);
    }
    return node;
  }

  private lift(x: Operand): Node {
    return typeof x === "number" ? this.const(x) : x;
  }

  input(model: number, tensor: string): Node {
    return this.make("input", [], { model, tensor }, false);
  }
  const(value: number): Node {
    // -0 and NaN must stay distinct keys; JSON.stringify(-0) is "0"
    return this.make("const", [], Object.is(value, -0) ? "-0" : Number.isNaN(value) ? "NaN" : value, true) as Node &
      { arg: number };
  }
  numel(): Node {
    return this.make("numel", [], undefined, true);
  }
  rand(seed: number, stream: string): Node {
    return this.make("rand", [], { seed, stream }, false);
  }
  /** floor(i / 4096) or i mod 4096 of each element's index i (see the file comment). */
  index(part: "hi" | "lo"): Node {
    return this.make(part === "hi" ? "indexHi" : "indexLo", [], undefined, false);
  }
  unary(op: UnaryOp, a: Operand): Node {
    const x = this.lift(a);
    return this.make(op, [x], undefined, x.scalar);
  }
  binary(op: BinaryOp, a: Operand, b: Operand): Node {
    const x = this.lift(a);
    const y = this.lift(b);
    return this.make(op, [x, y], undefined, x.scalar && y.scalar);
  }
  where(cond: Operand, a: Operand, b: Operand): Node {
    const s = [this.lift(cond), this.lift(a), this.lift(b)];
    return this.make("where", s, undefined, s.every((n) => n.scalar));
  }
  reduce(op: ReduceOp, a: Node): Node {
    return this.make(op, [a], undefined, true);
  }
  /** One value per row of `a` along `axis` (see the file comment): the row's sum, max or min. */
  reduceAlong(op: "sum" | "max" | "min", a: Node, axis: Axis): Node {
    return this.make(`${op}Along` as AxisReduceOp, [a], { axis }, true);
  }
  /** The m-th largest value of `a` over the whole tensor (m clamped to [1, n]). */
  kth(a: Node, m: Operand): Node {
    const mm = this.lift(m);
    if (a.axis !== undefined || mm.axis !== undefined) throw new Error("plan: kth of a row value is not supported");
    return this.make("kth", [a, mm], undefined, true);
  }
  /** The m-th largest of `a` over all tensors that use `key` (model-scope statistic, see the Node type). */
  kthModel(key: string, a: Node, m: number): Node {
    return this.make("kthModel", [a], { key, m }, true);
  }

  // sugar
  add = (a: Operand, b: Operand) => this.binary("add", a, b);
  sub = (a: Operand, b: Operand) => this.binary("sub", a, b);
  mul = (a: Operand, b: Operand) => this.binary("mul", a, b);
  div = (a: Operand, b: Operand) => this.binary("div", a, b);
  abs = (a: Operand) => this.unary("abs", a);
  sign = (a: Operand) => this.unary("sign", a);
  sum = (a: Node) => this.reduce("sum", a);
}

/** Value of a const node (handles the "-0"/"NaN" key encoding). */
export function constValue(node: Node): number {
  const a = node.arg as number | string;
  return a === "-0" ? -0 : a === "NaN" ? NaN : (a as number);
}

// ---------------------------------------------------------------- elementwise semantics

export function applyUnary(op: UnaryOp, x: number): number {
  switch (op) {
    case "neg": return -x;
    case "abs": return Math.abs(x);
    case "sign": return x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN;
    case "sqrt": return Math.sqrt(x);
    case "exp": return Math.exp(x);
    case "log": return Math.log(x);
    case "floor": return Math.floor(x);
    case "not": return x === 0 ? 1 : 0;
    case "isfinite": return Number.isFinite(x) ? 1 : 0;
    case "sin": return Math.sin(x);
    case "acos": return Math.acos(x);
    case "fround": return Math.fround(x);
  }
}

export function applyBinary(op: BinaryOp, x: number, y: number): number {
  switch (op) {
    case "add": return x + y;
    case "sub": return x - y;
    case "mul": return x * y;
    case "div": return x / y;
    case "min": return Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y);
    case "max": return Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y);
    case "pow": return Math.pow(x, y);
    case "gt": return x > y ? 1 : 0;
    case "ge": return x >= y ? 1 : 0;
    case "lt": return x < y ? 1 : 0;
    case "le": return x <= y ? 1 : 0;
    case "eq": return x === y ? 1 : 0;
    case "ne": return x !== y ? 1 : 0;
    case "and": return x !== 0 && y !== 0 ? 1 : 0;
    case "or": return x !== 0 || y !== 0 ? 1 : 0;
  }
}

// ---------------------------------------------------------------- randomness

/** FNV-1a of a string, for keying the generator by tensor name and stream. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Final mixer of murmur3 (a bijection on 32 bits). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Key for rand(seed, stream) on a tensor: mix once per tensor, then per element. */
export function randKey(seed: number, stream: string, tensor: string): number {
  return fmix32(fmix32((seed >>> 0) ^ 0x9e3779b9) ^ hashString(stream) ^ fmix32(hashString(tensor)));
}

/** Uniform float32 in [0, 1) for element `index` (< 2^53) under `key`: 24 random bits / 2^24. */
export function randAt(key: number, index: number): number {
  const lo = index >>> 0;
  const hi = Math.floor(index / 4294967296) >>> 0;
  const h = fmix32(fmix32(key ^ lo) ^ Math.imul(hi, 0x9e3779b1) ^ 0x6a09e667);
  return (h >>> 8) / 16777216;
}

// ---------------------------------------------------------------- reference semantics

export interface NaiveEnv {
  /** The output tensor's name (keys rand). */
  tensor: string;
  numel: number;
  /** The tensor's shape (rows of row statistics); default [numel]. */
  shape?: readonly number[];
  /** Decoded float32 input data, by `${model}\u0000${tensor}`. */
  inputs: Map<string, Float32Array>;
  /** Values of model-scope statistics (kthModel), by key: computed by the caller over all tensors. */
  modelStats?: Map<string, number>;
}

export const inputKey = (model: number, tensor: string) => `${model}\u0000${tensor}`;

/**
 * m-th largest of fround(values), NaNs ignored, m clamped to [1, count]. Reference: sorts a copy.
 * -0 and +0 are the same value: a zero result is +0 (a stable sort would otherwise make its sign
 * depend on element order).
 */
export function kthLargestNaive(values: Float32Array, m: number): number {
  const finiteOrInf = Array.from(values).filter((v) => !Number.isNaN(v));
  if (finiteOrInf.length === 0) return NaN;
  finiteOrInf.sort((a, b) => b - a);
  const mm = Math.min(Math.max(Math.round(m), 1), finiteOrInf.length);
  return finiteOrInf[mm - 1] + 0;
}

/**
 * Rows of a tensor along `axis` (see the file comment): how many, and the row of element i.
 * Axis -1: rows of shape[-1] consecutive elements; axis 0: element i is in row i mod (n / shape[0]).
 */
export function rowLayout(shape: readonly number[], numel: number, axis: Axis): { count: number; last: number; inner: number } {
  const last = shape.length ? shape[shape.length - 1] : 1;
  const inner = shape.length && shape[0] > 0 ? numel / shape[0] : 1;
  return { count: numel === 0 ? 0 : axis === -1 ? numel / last : inner, last, inner };
}
export const rowOf = (axis: Axis, i: number, last: number, inner: number): number => (axis === -1 ? Math.floor(i / last) : i % inner);

/**
 * Evaluate a node over a whole tensor: Float32Array for vectors, number for
 * scalars, Float64Array (one value per row) for row values.
 */
export function evaluateNaive(root: Node, env: NaiveEnv): Float32Array | Float64Array | number {
  type V = Float32Array | Float64Array | number;
  const memo = new Map<number, V>();
  const n = env.numel;
  const shape = env.shape ?? [n];
  const lay = { [-1]: rowLayout(shape, n, -1), 0: rowLayout(shape, n, 0) } as Record<Axis, ReturnType<typeof rowLayout>>;
  const row = (axis: Axis, i: number) => rowOf(axis, i, lay[axis].last, lay[axis].inner);
  // a value per element: scalars and row values broadcast, rounded to float32 (what a statistic over them sees)
  const asVec = (v: V, node: Node): Float32Array => {
    if (typeof v === "number") return new Float32Array(n).fill(v);
    if (v instanceof Float32Array) return v;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = v[row(node.axis!, i)];
    return out;
  };
  const ev = (node: Node): V => {
    const hit = memo.get(node.id);
    if (hit !== undefined) return hit;
    let out: V;
    const op = node.op;
    if (op === "input") {
      const { model, tensor } = node.arg as { model: number; tensor: string };
      const data = env.inputs.get(inputKey(model, tensor));
      if (!data) throw new Error(`naive eval: no input ${model}/${tensor}`);
      out = data;
    } else if (op === "const") {
      out = constValue(node);
    } else if (op === "numel") {
      out = n;
    } else if (op === "rand") {
      const { seed, stream } = node.arg as { seed: number; stream: string };
      const key = randKey(seed, stream, env.tensor);
      out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = randAt(key, i);
    } else if (op === "indexHi" || op === "indexLo") {
      out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = op === "indexHi" ? Math.floor(i / INDEX_UNIT) : i % INDEX_UNIT;
    } else if (isAxisReduce(op)) {
      const axis = node.axis!;
      const a = asVec(ev(node.src[0]), node.src[0]);
      const acc = new Float64Array(lay[axis].count).fill(op === "sumAlong" ? 0 : op === "maxAlong" ? -Infinity : Infinity);
      for (let i = 0; i < n; i++) {
        const x = a[i];
        const r = row(axis, i);
        if (op === "sumAlong") acc[r] += x;
        else if (Number.isNaN(x)) continue;
        else acc[r] = op === "maxAlong" ? Math.max(acc[r], x) : Math.min(acc[r], x);
      }
      out = acc;
    } else if (isReduceNode(node)) {
      const a = asVec(ev(node.src[0]), node.src[0]);
      let acc = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
      for (let i = 0; i < n; i++) {
        const x = a[i];
        if (op === "sum") acc += x;
        else if (Number.isNaN(x)) continue;
        else acc = op === "max" ? Math.max(acc, x) : Math.min(acc, x);
      }
      out = acc;
    } else if (op === "kthModel") {
      const { key } = node.arg as { key: string; m: number };
      const v = env.modelStats?.get(key);
      if (v === undefined) throw new Error(`naive eval: no model statistic '${key}'`);
      out = v;
    } else if (op === "kth") {
      out = kthLargestNaive(asVec(ev(node.src[0]), node.src[0]), ev(node.src[1]) as number);
    } else {
      const srcs = node.src.map(ev);
      const apply = (s: number[]) => (isUnary(op) ? applyUnary(op, s[0]) : isBinary(op) ? applyBinary(op, s[0], s[1]) : s[0] !== 0 ? s[1] : s[2]);
      if (node.scalar && node.axis !== undefined) {
        const v = new Float64Array(lay[node.axis].count);
        for (let r = 0; r < v.length; r++) v[r] = apply(srcs.map((s) => (typeof s === "number" ? s : s[r])));
        out = v;
      } else if (node.scalar) {
        out = apply(srcs as number[]);
      } else {
        const v = new Float32Array(n);
        const get = srcs.map((s, k) => {
          if (typeof s === "number") return () => s;
          if (s instanceof Float64Array) {
            const axis = node.src[k].axis!;
            return (i: number) => s[row(axis, i)];
          }
          return (i: number) => s[i];
        });
        for (let i = 0; i < n; i++) {
          if (isUnary(op)) v[i] = applyUnary(op, get[0](i));
          else if (isBinary(op)) v[i] = applyBinary(op, get[0](i), get[1](i));
          else v[i] = get[0](i) !== 0 ? get[1](i) : get[2](i);
        }
        out = v; // Float32Array stores round with fround
      }
    }
    memo.set(node.id, out);
    return out;
  };
  return ev(root);
}
