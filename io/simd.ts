/**
 * WebAssembly SIMD kernels for the conversions on the merge hot path (32
 * elements per loop step, several times a scalar JS loop). Each thread instantiates
 * its own small module; data passes through its memory in sub-chunks of
 * SIMD_CHUNK elements: region A at 0 (input), region B at 4·SIMD_CHUNK (output).
 *
 * Semantics are exactly those of the scalar code in dtypes.ts (the tests check
 * both paths against each other):
 * - bf16 → f32: bits << 16 (zero-extend, shift; V8's general shuffle is slower);
 * - f16 → f32: ((h & 0x7fff) << 13) as f32 × 2^112 (rebias; exact for
 *   subnormals too), exponent forced to all-ones for Inf/NaN, sign or'ed in;
 * - f32 → bf16: (x + 0x7fff + ((x >> 16) & 1)) >> 16 (RNE), NaN → (x >> 16) | 0x40.
 * Set MERGELAB_SIMD=0 to use the scalar loops.
 */

export const SIMD_CHUNK = 1 << 16;

// tsconfig's lib (ES2023) has no WebAssembly types and @types/node 20 does not declare them: the little used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (desc: { initial: number }) => WasmMemory;
};

export interface SimdKernels {
  memory: WasmMemory;
  /** Byte offsets of the input and output regions (each 4·SIMD_CHUNK bytes). */
  a: number;
  b: number;
  /** n must be a multiple of SIMD_STEP and ≤ SIMD_CHUNK. */
  bf16ToF32(src: number, dst: number, n: number): void;
  f16ToF32(src: number, dst: number, n: number): void;
  f32ToBf16(src: number, dst: number, n: number): void;
}

// ---------------------------------------------------------------- a tiny assembler

const uleb = (v: number): number[] => {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const sleb = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const str = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, "utf8")];

const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const i32 = (v: number) => [0x41, ...sleb(v | 0)];
const simd = (op: number) => [0xfd, ...uleb(op)];
const load = (off: number) => [...simd(0x00), 0, ...uleb(off)];
const store = (off: number) => [...simd(0x0b), 0, ...uleb(off)];
const splat = (v: number) => [...i32(v), ...simd(0x11)];
const f32splat = (bits: number) => [0x43, bits & 0xff, (bits >>> 8) & 0xff, (bits >>> 16) & 0xff, bits >>> 24, ...simd(0x13)];
const AND = simd(0x4e), OR = simd(0x50), BITSELECT = simd(0x52);
const SHL = simd(0xab), SHR_U = simd(0xad), ADD = simd(0xae), EQ = simd(0x37), GT_S = simd(0x3b);
const EXT_LO = simd(0xa9), EXT_HI = simd(0xaa), NARROW_U = simd(0x86), FMUL = simd(0xe6);

const SRC = 0, DST = 1, N = 2, X = 3; // params, then a v128 local

/** Elements per loop iteration (4 vectors of 8): callers hand the kernels multiples of this. */
export const SIMD_STEP = 32;
const UNROLL = SIMD_STEP / 8;

/** for (; n; n -= SIMD_STEP, src += UNROLL·srcStep, dst += UNROLL·dstStep) body(0) … body(UNROLL-1) */
function loop(srcStep: number, dstStep: number, body: (u: number) => number[]): number[] {
  const code = [
    0x02, 0x40, 0x03, 0x40,
    ...get(N), 0x45, 0x0d, 1,
    ...Array.from({ length: UNROLL }, (_, u) => body(u)).flat(),
    ...get(SRC), ...i32(UNROLL * srcStep), 0x6a, ...set(SRC),
    ...get(DST), ...i32(UNROLL * dstStep), 0x6a, ...set(DST),
    ...get(N), ...i32(SIMD_STEP), 0x6b, ...set(N),
    0x0c, 0, 0x0b, 0x0b, 0x0b,
  ];
  const locals = [1, 1, 0x7b]; // one v128 local
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

const bf16ToF32Body = (u: number) => [
  ...get(SRC), ...load(16 * u), ...set(X),
  ...get(DST), ...get(X), ...EXT_LO, ...i32(16), ...SHL, ...store(32 * u),
  ...get(DST), ...get(X), ...EXT_HI, ...i32(16), ...SHL, ...store(32 * u + 16),
];

function f16Half(u: number, ext: number[], off: number): number[] {
  return [
    ...get(SRC), ...load(16 * u), ...ext, ...set(X),
    ...get(DST),
    ...get(X), ...splat(0x7fff), ...AND, ...i32(13), ...SHL, ...f32splat(0x77800000 /* 2^112 */), ...FMUL,
    ...get(X), ...splat(0x7c00), ...AND, ...splat(0x7c00), ...EQ, ...splat(0x7f800000), ...AND, ...OR,
    ...get(X), ...splat(0x8000), ...AND, ...i32(16), ...SHL, ...OR,
    ...store(32 * u + off),
  ];
}
const f16ToF32Body = (u: number) => [...f16Half(u, EXT_LO, 0), ...f16Half(u, EXT_HI, 16)];

function bf16Round(off: number): number[] {
  return [
    ...get(SRC), ...load(off), ...set(X),
    ...get(X), ...i32(16), ...SHR_U, ...splat(0x40), ...OR, // NaN: quiet
    ...get(X), ...get(X), ...i32(16), ...SHR_U, ...splat(1), ...AND, ...ADD, ...splat(0x7fff), ...ADD, ...i32(16), ...SHR_U,
    ...get(X), ...splat(0x7fffffff), ...AND, ...splat(0x7f800000), ...GT_S, // is NaN
    ...BITSELECT,
  ];
}
const f32ToBf16Body = (u: number) => [...get(DST), ...bf16Round(32 * u), ...bf16Round(32 * u + 16), ...NARROW_U, ...store(16 * u)];

/** The module imports its memory ("env", "mem"): one compiled module, instantiated per memory. */
function moduleBytes(): Uint8Array {
  const names = ["bf16ToF32", "f16ToF32", "f32ToBf16"];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 3, 0x7f, 0x7f, 0x7f, 0]])),
    ...section(2, vec([[...str("env"), ...str("mem"), 2, 0, 1]])),
    ...section(3, vec(names.map(() => [0]))),
    ...section(7, vec(names.map((n, i) => [...str(n), 0, i]))),
    ...section(10, vec([loop(16, 32, bf16ToF32Body), loop(16, 32, f16ToF32Body), loop(32, 16, f32ToBf16Body)])),
  ]);
}

type Kernel = (src: number, dst: number, n: number) => void;
interface Instance {
  bf16ToF32: Kernel;
  f16ToF32: Kernel;
  f32ToBf16: Kernel;
}

let compiled: object | null | undefined;
function compiledModule(): object | null {
  if (compiled === undefined) {
    compiled = null;
    if (process.env.MERGELAB_SIMD !== "0" && typeof WebAssembly === "object") {
      const bytes = moduleBytes();
      if (WebAssembly.validate(bytes)) compiled = new WebAssembly.Module(bytes);
    }
  }
  return compiled;
}

function instantiate(module: object, memory: WasmMemory): Instance {
  const e = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
  return { bf16ToF32: e.bf16ToF32 as Kernel, f16ToF32: e.f16ToF32 as Kernel, f32ToBf16: e.f32ToBf16 as Kernel };
}

const pages = (bytes: number) => Math.max(1, Math.ceil(bytes / 65536));

let kernels: SimdKernels | null | undefined;

/** Switch the SIMD kernels off (scalar loops) or back on, e.g. to test both paths. */
export function useSimd(enabled: boolean): void {
  kernels = enabled ? undefined : null;
}

/** The scratch kernels, or null when WebAssembly SIMD is unavailable (or MERGELAB_SIMD=0). */
export function simdKernels(): SimdKernels | null {
  if (kernels !== undefined) return kernels;
  kernels = null;
  const module = compiledModule();
  if (!module) return kernels;
  const memory = new WebAssembly.Memory({ initial: pages(8 * SIMD_CHUNK) });
  kernels = { memory, a: 0, b: 4 * SIMD_CHUNK, ...instantiate(module, memory) };
  return kernels;
}

const inPlace = new WeakMap<ArrayBufferLike, Instance>();

/**
 * A float32 buffer that checkpoint reads decode into in place: bf16/f16 data
 * is read straight into its upper half and widened there by the SIMD kernel,
 * saving a copy per chunk. It lives in its own (fixed-size) WebAssembly
 * memory; without SIMD it is an ordinary Float32Array.
 */
export function allocF32(count: number): Float32Array {
  const module = kernels === null ? null : compiledModule();
  if (!module) return new Float32Array(count);
  const memory = new WebAssembly.Memory({ initial: pages(4 * count) });
  inPlace.set(memory.buffer, instantiate(module, memory));
  return new Float32Array(memory.buffer, 0, count);
}

/** The kernels that can work in place on `buf`'s memory (a buffer from allocF32), if any. */
export function inPlaceKernels(buf: ArrayBufferLike): Instance | undefined {
  return kernels === null ? undefined : inPlace.get(buf);
}
