/**
 * safetensors dtypes and the float conversions on the merge hot path.
 *
 * Decoding F32/F16/BF16 to float32 is exact (every f16 and bf16 value is a
 * float32). Encoding float32 → bf16/f16 rounds to nearest, ties to even (IEEE
 * 754 roundTiesToEven); NaN stays a (quiet) NaN with its sign, ±Inf stays ±Inf,
 * f16 overflow (|x| ≥ 65520) becomes ±Inf, f16 subnormals are rounded exactly.
 * All loops work on typed-array views of little-endian bytes (the safetensors
 * byte order, and the host's: checked below), on integer bit patterns — never
 * through JS numbers, which could canonicalize NaN payloads. The bf16/f16 chunk
 * paths use the WebAssembly SIMD kernels of simd.ts when available.
 */
import os from "node:os";
import { inPlaceKernels, SIMD_CHUNK, SIMD_STEP, simdKernels } from "./simd.js";

export type DType =
  | "F64" | "F32" | "F16" | "BF16"
  | "I8" | "U8" | "I16" | "U16" | "I32" | "U32" | "I64" | "U64"
  | "BOOL";

export interface DTypeInfo {
  /** Bytes per element. */
  size: number;
  /** "float" dtypes are decoded and computed in float32; the others are carried through. */
  kind: "float" | "int" | "bool";
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  F64: { size: 8, kind: "float" },
  F32: { size: 4, kind: "float" },
  F16: { size: 2, kind: "float" },
  BF16: { size: 2, kind: "float" },
  I8: { size: 1, kind: "int" },
  U8: { size: 1, kind: "int" },
  I16: { size: 2, kind: "int" },
  U16: { size: 2, kind: "int" },
  I32: { size: 4, kind: "int" },
  U32: { size: 4, kind: "int" },
  I64: { size: 8, kind: "int" },
  U64: { size: 8, kind: "int" },
  BOOL: { size: 1, kind: "bool" },
};

export const isDType = (s: unknown): s is DType => typeof s === "string" && Object.hasOwn(DTYPES, s);
export const dtypeSize = (d: DType): number => DTYPES[d].size;
/** F32, F16, BF16: decoded to float32 exactly and computed on; F64 is carried through like the integers. */
export const isComputedFloat = (d: DType): boolean => d === "F32" || d === "F16" || d === "BF16";

if (os.endianness() !== "LE") {
  throw new Error("mergelab needs a little-endian host (safetensors data is little-endian)");
}

// ---------------------------------------------------------------- scalars

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

/** bf16 is the top half of a float32. */
export const bf16BitsToF32 = (h: number): number => f32FromBits((h & 0xffff) << 16);

/** float32 bits → bf16 bits, round to nearest even; NaN kept NaN (quiet bit set). */
export function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
  // adding 0x7fff plus the lsb of the kept half rounds to nearest, ties to even;
  // a carry out of the largest finite value correctly gives Inf.
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export const f32ToBf16 = (x: number): number => f32BitsToBf16(f32Bits(x));

/** float32 bits → f16 bits, round to nearest even (subnormals included). */
export function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs >= 0x7f800000) {
    if (abs === 0x7f800000) return sign | 0x7c00;
    return sign | 0x7e00 | ((abs >>> 13) & 0x3ff); // NaN: quiet, top payload bits kept
  }
  if (abs >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 = max f16 + half ulp → Inf
  if (abs >= 0x38800000) {
    // normal f16 (≥ 2^-14): rebias the exponent by 127-15 = 112, then round 23 → 10 mantissa bits
    const r = abs - 0x38000000;
    return sign | ((r + 0x0fff + ((r >>> 13) & 1)) >>> 13);
  }
  if (abs < 0x33000000) return sign; // < 2^-25 rounds to ±0 (2^-25 itself is the tie, handled below)
  // subnormal f16: value = q · 2^-24 with q = mant · 2^(e-150+24), i.e. mant >> (126 - e)
  const e = abs >>> 23;
  const mant = (abs & 0x7fffff) | 0x800000;
  const shift = 126 - e; // 14..24
  const q = mant >>> shift;
  const rem = mant & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (q + (rem > half || (rem === half && (q & 1) === 1) ? 1 : 0));
}

export const f32ToF16 = (x: number): number => f32BitsToF16(f32Bits(x));

/** f16 bits → float32 bits, exact (NaN payloads kept: sign | all-ones exponent | frac << 13). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 31) return (sign | 0x7f800000 | (frac << 13)) >>> 0;
  if (exp === 0) return (sign | f32Bits(frac * 2 ** -24)) >>> 0;
  return (sign | ((exp + 112) << 23) | (frac << 13)) >>> 0;
}

export const f16BitsToF32 = (h: number): number => f32FromBits(f16BitsToF32Bits(h));

let f16Table: Uint32Array | undefined;
/** All 65536 f16 values as float32 bits (256 KB): decoding is one table lookup per element. */
function f16ToF32Table(): Uint32Array {
  if (!f16Table) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  return f16Table;
}

// ---------------------------------------------------------------- chunk loops

/**
 * Decode `count` elements of `dtype` from `src` (little-endian bytes, any
 * alignment) into `out[0..count)`. Exact for F32/F16/BF16; F64 and integers are
 * rounded to the nearest float32 (only for analysis; merges carry them through).
 */
export function decodeToF32(dtype: DType, src: Uint8Array, count: number, out: Float32Array): void {
  const size = DTYPES[dtype].size;
  const bytes = count * size;
  // typed views need an aligned offset; copy to an aligned scratch buffer otherwise
  const aligned = src.byteOffset % size === 0 ? src : scratchCopy(src.subarray(0, bytes));
  const buf = aligned.buffer;
  const off = aligned.byteOffset;
  switch (dtype) {
    case "F32":
      out.set(new Float32Array(buf, off, count));
      return;
    case "BF16":
      bf16ToF32(new Uint16Array(buf, off, count), new Uint32Array(out.buffer, out.byteOffset, count));
      return;
    case "F16":
      f16ToF32(new Uint16Array(buf, off, count), new Uint32Array(out.buffer, out.byteOffset, count));
      return;
    default:
      copyNumeric(typedView(dtype, buf, off, count), out, count);
  }
}

export function bf16ToF32(src: Uint16Array, out: Uint32Array): void {
  const n = src.length;
  for (let i = 0; i < n; i++) out[i] = src[i] << 16;
}

export function f16ToF32(src: Uint16Array, out: Uint32Array): void {
  const table = f16ToF32Table();
  const n = src.length;
  for (let i = 0; i < n; i++) out[i] = table[src[i]];
}

/**
 * Decode `count` elements of a 2-byte float dtype into `out`, pulling the raw
 * little-endian bytes of elements [first, first + n) through `fill(bytes, first, n)`
 * (a positioned file read, or a copy). Fastest when `out` comes from allocF32:
 * one read into its upper half, widened in place by the SIMD kernel. Otherwise
 * with SIMD the bytes pass through the scratch kernel memory in sub-chunks;
 * without SIMD they land in the upper half of `out` and are widened in JS.
 */
export function decode16(dtype: "BF16" | "F16", count: number, out: Float32Array, fill: (bytes: Uint8Array, first: number, n: number) => void): void {
  const out32 = new Uint32Array(out.buffer, out.byteOffset, count);
  const own = inPlaceKernels(out.buffer);
  if (own) {
    // out lives in a kernel memory (allocF32): read into its upper half, widen in place
    // (safe front to back, as in widenInPlace); the last < SIMD_STEP elements in JS.
    const src = out.byteOffset + 2 * count;
    fill(new Uint8Array(out.buffer, src, 2 * count), 0, count);
    const n32 = count - (count % SIMD_STEP);
    (dtype === "BF16" ? own.bf16ToF32 : own.f16ToF32)(src, out.byteOffset, n32);
    const tail = new Uint16Array(out.buffer, src + 2 * n32, count - n32).slice();
    (dtype === "BF16" ? bf16ToF32 : f16ToF32)(tail, out32.subarray(n32));
    return;
  }
  const k = simdKernels();
  if (!k) {
    fill(new Uint8Array(out.buffer, out.byteOffset + 2 * count, 2 * count), 0, count);
    widenInPlace(dtype, out32, count);
    return;
  }
  const kernel = dtype === "BF16" ? k.bf16ToF32 : k.f16ToF32;
  for (let first = 0; first < count; first += SIMD_CHUNK) {
    const n = Math.min(SIMD_CHUNK, count - first);
    const n8 = n - (n % SIMD_STEP);
    const raw = new Uint16Array(k.memory.buffer, k.a, n);
    fill(new Uint8Array(k.memory.buffer, k.a, 2 * n), first, n);
    kernel(k.a, k.b, n8);
    out32.set(new Uint32Array(k.memory.buffer, k.b, n8), first);
    if (n8 < n) (dtype === "BF16" ? bf16ToF32 : f16ToF32)(raw.subarray(n8), out32.subarray(first + n8, first + n));
  }
}

/**
 * Widen in place: `out` holds `count` elements of a 2-byte dtype in its
 * second half (bytes [2·count, 4·count)). Safe front to back: element i is
 * written at bytes 4i..4i+4 before any unread element (at ≥ 2·count + 2(i+1))
 * is overwritten, since 4i + 4 ≤ 2·count + 2i + 2 for i < count.
 */
function widenInPlace(dtype: "BF16" | "F16", out: Uint32Array, count: number): void {
  const half = new Uint16Array(out.buffer, out.byteOffset + 2 * count, count);
  if (dtype === "BF16") {
    for (let i = 0; i < count; i++) out[i] = half[i] << 16;
  } else {
    const table = f16ToF32Table();
    for (let i = 0; i < count; i++) out[i] = table[half[i]];
  }
}

/**
 * Encode float32 `src` to `dtype` in pieces, handing each encoded piece to
 * `sink(bytes, firstElem)` (valid only during the call). BF16 uses the SIMD
 * kernel when available; the pieces are then its sub-chunks.
 */
export function encodeChunks(dtype: DType, src: Float32Array, sink: (bytes: Uint8Array, first: number) => void): void {
  const k = dtype === "BF16" ? simdKernels() : null;
  if (dtype === "F32") {
    sink(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), 0);
    return;
  }
  if (!k) {
    const bytes = scratchBytes(src.length * DTYPES[dtype].size);
    encodeScalar(dtype, src, bytes);
    sink(bytes, 0);
    return;
  }
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let first = 0; first < src.length; first += SIMD_CHUNK) {
    const n = Math.min(SIMD_CHUNK, src.length - first);
    const n8 = n - (n % SIMD_STEP);
    new Uint32Array(k.memory.buffer, k.a, n).set(bits.subarray(first, first + n));
    k.f32ToBf16(k.a, k.b, n8);
    const out = new Uint16Array(k.memory.buffer, k.b, n);
    for (let i = n8; i < n; i++) out[i] = f32BitsToBf16(bits[first + i]);
    sink(new Uint8Array(k.memory.buffer, k.b, 2 * n), first);
  }
}

/**
 * Encode `src` (float32) to `dtype` into `out` (little-endian bytes,
 * `src.length × size` of them, offset aligned to the element size).
 * Float dtypes round to nearest even; integer/bool dtypes are not encodable from float32.
 */
export function encodeFromF32(dtype: DType, src: Float32Array, out: Uint8Array): void {
  const size = DTYPES[dtype].size;
  encodeChunks(dtype, src, (bytes, first) => out.set(bytes, first * size));
}

function encodeScalar(dtype: DType, src: Float32Array, out: Uint8Array): void {
  const n = src.length;
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  switch (dtype) {
    case "F32":
      out.set(new Uint8Array(src.buffer, src.byteOffset, n * 4));
      return;
    case "BF16": {
      const o = new Uint16Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) {
        const b = bits[i];
        o[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x0040 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
      }
      return;
    }
    case "F16": {
      const o = new Uint16Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) o[i] = f32BitsToF16(bits[i]);
      return;
    }
    case "F64": {
      const o = new Float64Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) o[i] = src[i];
      return;
    }
    default:
      throw new Error(`cannot encode float32 data as ${dtype}; integer tensors are carried through as raw bytes`);
  }
}

type NumericView = Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

function typedView(dtype: DType, buf: ArrayBufferLike, off: number, n: number): NumericView {
  switch (dtype) {
    case "F64": return new Float64Array(buf, off, n);
    case "I8": return new Int8Array(buf, off, n);
    case "U8": case "BOOL": return new Uint8Array(buf, off, n);
    case "I16": return new Int16Array(buf, off, n);
    case "U16": return new Uint16Array(buf, off, n);
    case "I32": return new Int32Array(buf, off, n);
    case "U32": return new Uint32Array(buf, off, n);
    case "I64": return new BigInt64Array(buf, off, n);
    case "U64": return new BigUint64Array(buf, off, n);
    default: throw new Error(`no plain view for ${dtype}`);
  }
}

function copyNumeric(v: NumericView, out: Float32Array, n: number): void {
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[i] = Number(v[i]);
  } else {
    for (let i = 0; i < n; i++) out[i] = v[i];
  }
}

let encodeScratch = new ArrayBuffer(0);
function scratchBytes(n: number): Uint8Array {
  if (encodeScratch.byteLength < n) encodeScratch = new ArrayBuffer(Math.max(n, 2 * encodeScratch.byteLength));
  return new Uint8Array(encodeScratch, 0, n);
}

let scratch = new Uint8Array(0);
function scratchCopy(src: Uint8Array): Uint8Array {
  if (scratch.length < src.length) scratch = new Uint8Array(Math.max(src.length, 2 * scratch.length));
  const s = scratch.subarray(0, src.length);
  s.set(src);
  return s;
}
