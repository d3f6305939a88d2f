/**
 * Test checkpoints written by hand (the safetensors layout is: u64 header
 * length, JSON header, raw little-endian data), with values exactly
 * representable in their dtype, so the float64 reference sees the same inputs
 * as mergelab.
 */
import fs from "node:fs";
import path from "node:path";
import { rng } from "../../helpers.js";

export type TestDType = "F32" | "F16" | "BF16";

export interface TestTensor {
  shape: number[];
  /** Values exactly representable in the file's dtype. */
  values: Float64Array;
}

export { rng };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A random value exactly representable in `dtype`, roughly N(0, scale²)-sized. */
export function randomValue(r: () => number, dtype: TestDType, scale = 1): number {
  const gauss = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r()) * scale;
  if (dtype === "F32") return Math.fround(gauss);
  if (dtype === "BF16") {
    f32[0] = gauss;
    u32[0] = u32[0] & 0xffff0000; // truncate to the top 16 bits: a bf16 value
    return f32[0];
  }
  // F16: multiples of 2^-10 below 2 in magnitude have ≤ 11 significant bits
  return Math.max(-2047, Math.min(2047, Math.round(gauss * 1024))) / 1024;
}

function f16Bits(v: number): number {
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  const sign = v < 0 ? 0x8000 : 0;
  let a = Math.abs(v);
  let e = Math.floor(Math.log2(a));
  if (e < -14) {
    // subnormal: a = m · 2^-24
    return sign | Math.round(a / 2 ** -24);
  }
  let m = a / 2 ** e - 1;
  if (m >= 1) { e++; m = a / 2 ** e - 1; }
  if (m < 0) { e--; m = a / 2 ** e - 1; }
  const mant = Math.round(m * 1024);
  if (mant !== m * 1024) throw new Error(`${v} is not an f16 value`);
  return sign | ((e + 15) << 10) | mant;
}

function encode(values: Float64Array, dtype: TestDType): Buffer {
  if (dtype === "F32") return Buffer.from(Float32Array.from(values).buffer);
  const out = new Uint16Array(values.length);
  values.forEach((v, i) => {
    if (dtype === "BF16") {
      f32[0] = v;
      if ((u32[0] & 0xffff) !== 0) throw new Error(`${v} is not a bf16 value`);
      out[i] = u32[0] >>> 16;
    } else out[i] = f16Bits(v);
  });
  return Buffer.from(out.buffer);
}

/** Write one .safetensors file; extra raw tensors (e.g. I64) may be added. */
export function writeSafetensors(
  file: string,
  tensors: Record<string, TestTensor>,
  dtype: TestDType,
  raw: Record<string, { dtype: string; shape: number[]; bytes: Buffer }> = {},
): void {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  const parts: Buffer[] = [];
  let offset = 0;
  const add = (name: string, dt: string, shape: number[], bytes: Buffer) => {
    header[name] = { dtype: dt, shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  };
  for (const [name, t] of Object.entries(tensors)) add(name, dtype, t.shape, encode(t.values, dtype));
  for (const [name, t] of Object.entries(raw)) add(name, t.dtype, t.shape, t.bytes);
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += " ";
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json, "utf8"), ...parts]));
}

/** Read a .safetensors file's float tensors (F32/F16/BF16) as float64 values, plus raw bytes of the others. */
export function readSafetensors(file: string): Record<string, { dtype: string; shape: number[]; values?: Float64Array; bytes: Buffer }> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  const out: Record<string, { dtype: string; shape: number[]; values?: Float64Array; bytes: Buffer }> = {};
  for (const [name, info] of Object.entries<any>(header)) {
    if (name === "__metadata__") continue;
    const bytes = buf.subarray(8 + n + info.data_offsets[0], 8 + n + info.data_offsets[1]);
    let values: Float64Array | undefined;
    const copy = Buffer.from(bytes); // aligned copy
    if (info.dtype === "F32") values = Float64Array.from(new Float32Array(copy.buffer, copy.byteOffset, copy.length / 4));
    else if (info.dtype === "BF16" || info.dtype === "F16") {
      const h = new Uint16Array(copy.buffer, copy.byteOffset, copy.length / 2);
      values = Float64Array.from(h, (x) => (info.dtype === "BF16" ? bf16(x) : f16(x)));
    }
    out[name] = { dtype: info.dtype, shape: info.shape, values, bytes: Buffer.from(bytes) };
  }
  return out;
}

function bf16(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** The shapes every method is tested on: 0-d, 1-d, 2-d, 3-d (names carry layer indices for schedules). */
export const SHAPES: Record<string, number[]> = {
  "model.norm.weight": [],
  "model.layers.0.mlp.bias": [7],
  "model.layers.1.self_attn.q_proj.weight": [5, 6],
  "model.layers.2.mlp.up_proj.weight": [2, 3, 4],
  // more than 32 elements: DELLA's rank is quantized to 32 buckets here
  "model.layers.2.mlp.down_proj.weight": [3, 5, 7],
};

/** Random tensors of SHAPES (the same draws for a given seed), around `center`. */
export function randomModel(seed: number, dtype: TestDType, center?: Record<string, Float64Array>, scale = 1): Record<string, TestTensor> {
  const r = rng(seed);
  const out: Record<string, TestTensor> = {};
  for (const [name, shape] of Object.entries(SHAPES)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const c = center?.[name];
    const values = Float64Array.from({ length: n }, (_, j) => {
      const v = (c ? c[j] : 0) + randomValue(r, "F32", scale);
      return quantize(v, dtype);
    });
    out[name] = { shape, values };
  }
  return out;
}

/** Round a value onto the dtype's grid (truncation for bf16, 2^-10 steps for f16), so it is exact there. */
export function quantize(v: number, dtype: TestDType): number {
  if (dtype === "F32") return Math.fround(v);
  if (dtype === "BF16") {
    f32[0] = v;
    u32[0] = u32[0] & 0xffff0000;
    return f32[0];
  }
  return Math.max(-2047, Math.min(2047, Math.round(v * 1024))) / 1024;
}
