// Write with CheckpointWriter, read back with openCheckpoint: bit for bit, every dtype, single file and sharded.
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CheckpointWriter, DTYPES, openCheckpoint, type DType, type OutputTensor } from "../../io/index.js";
import { fixtures, tempDir } from "../helpers.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Deterministic pseudo-random bytes (xorshift32). */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Random bit patterns for a float dtype, with signalling NaNs made quiet (the encoder quiets them). */
function floatPatterns(dtype: DType, numel: number, seed: number): Uint8Array {
  const bytes = randomBytes(numel * DTYPES[dtype].size, seed);
  if (dtype === "BF16" || dtype === "F16") {
    const u = new Uint16Array(bytes.buffer);
    const [expMask, quiet] = dtype === "BF16" ? [0x7f80, 0x0040] : [0x7c00, 0x0200];
    for (let i = 0; i < u.length; i++) if ((u[i] & expMask) === expMask && (u[i] & ~0x8000 & ~expMask) !== 0) u[i] |= quiet;
    // and the specials, at known places
    const specials = dtype === "BF16" ? [0x7f80, 0xff80, 0x0000, 0x8000, 0x0001, 0x7fc0, 0x7f7f] : [0x7c00, 0xfc00, 0x0000, 0x8000, 0x0001, 0x7e00, 0x7bff];
    specials.forEach((s, i) => (u[i] = s));
  }
  return bytes;
}

const ALL: DType[] = ["F64", "F32", "F16", "BF16", "I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64", "BOOL"];
const tensorsFor = (dtypes: DType[]): OutputTensor[] => dtypes.map((dtype, i) => ({ name: `t.${i}.${dtype.toLowerCase()}`, dtype, shape: [3 + i, 5] }));

function writeAll(target: string, tensors: OutputTensor[], shardSize: number | string, viaF32: boolean): Map<string, Uint8Array> {
  const w = CheckpointWriter.create(target, tensors, { shardSize, fsync: false });
  const originals = new Map<string, Uint8Array>();
  tensors.forEach((t, i) => {
    const numel = t.shape[0] * t.shape[1];
    const bytes = DTYPES[t.dtype].kind === "float" ? floatPatterns(t.dtype, numel, 17 + i) : randomBytes(numel * DTYPES[t.dtype].size, 17 + i);
    if (t.dtype === "BOOL") bytes.forEach((b, j) => (bytes[j] = b & 1));
    originals.set(t.name, bytes);
    if (viaF32 && (t.dtype === "F32" || t.dtype === "F16" || t.dtype === "BF16")) {
      // decode with the reader's own code path on a throwaway file? no: decode independently here
      const f = decodeIndependently(t.dtype, bytes);
      // chunks in reverse order, odd sizes
      for (let end = numel; end > 0; end -= 4) {
        const start = Math.max(0, end - 4);
        w.writeF32(t.name, start, f.subarray(start, end));
      }
    } else {
      for (let start = 0; start < bytes.length; start += 7) w.writeRaw(t.name, start, bytes.subarray(start, Math.min(bytes.length, start + 7)));
    }
  });
  w.commit();
  return originals;
}

/** bf16/f16 → float32 by arithmetic (not the library's tables). */
function decodeIndependently(dtype: DType, bytes: Uint8Array): Float32Array {
  if (dtype === "F32") return new Float32Array(bytes.slice().buffer);
  const u = new Uint16Array(bytes.slice().buffer);
  const out = new Float32Array(u.length);
  const dv = new DataView(new ArrayBuffer(4));
  u.forEach((h, i) => {
    if (dtype === "BF16") {
      dv.setUint32(0, h << 16);
      out[i] = dv.getFloat32(0);
      return;
    }
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 31;
    const m = h & 1023;
    if (e === 31) {
      if (m === 0) out[i] = s * Infinity;
      else { dv.setUint32(0, ((h & 0x8000) << 16) | 0x7f800000 | (m << 13)); out[i] = dv.getFloat32(0); }
    } else out[i] = e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
  });
  return out;
}

function expectBitExact(target: string, originals: Map<string, Uint8Array>): void {
  const c = openCheckpoint(target);
  expect(c.tensors.map((t) => t.name).sort()).toEqual([...originals.keys()].sort());
  for (const t of c.tensors) {
    const got = c.readRaw(t.name, 0, t.byteLength);
    if (!Buffer.from(got).equals(Buffer.from(originals.get(t.name)!))) throw new Error(`${t.name} (${t.dtype}) differs after round trip`);
  }
  c.close();
}

describe.each([
  ["single file", "5GB"],
  ["sharded", 200],
] as const)("round trip, %s", (_label, shardSize) => {
  it("every dtype through writeRaw, bit for bit", () => {
    const target = path.join(dir, "out");
    const originals = writeAll(target, tensorsFor(ALL), shardSize, false);
    expectBitExact(target, originals);
  });

  it("F32, F16, BF16 through writeF32 (encode) and readF32 (decode), bit for bit", () => {
    const target = path.join(dir, "out");
    const originals = writeAll(target, tensorsFor(["F32", "F16", "BF16", "BF16", "F16"]), shardSize, true);
    expectBitExact(target, originals);
    const c = openCheckpoint(target);
    for (const t of c.tensors) {
      const want = decodeIndependently(t.dtype, originals.get(t.name)!);
      const got = c.readF32(t.name, 0, t.numel);
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), t.name).toBe(true);
    }
  });
});

describe("layout", () => {
  it("one model.safetensors below the shard size, no index", () => {
    const target = path.join(dir, "out");
    writeAll(target, tensorsFor(["F32", "BF16"]), "1MB", false);
    expect(fs.readdirSync(target).sort()).toEqual(["model.safetensors"]);
  });

  it("shards named model-0000i-of-0000N with an index whose total_size is the data size", () => {
    const target = path.join(dir, "out");
    const tensors = tensorsFor(["F32", "F32", "F32", "F32"]); // 60, 80, 100, 120 bytes
    writeAll(target, tensors, 150, false);
    const files = fs.readdirSync(target).sort();
    expect(files).toEqual(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json"]);
    const index = JSON.parse(fs.readFileSync(path.join(target, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata.total_size).toBe(60 + 80 + 100 + 120);
    expect(index.weight_map).toEqual({
      "t.0.f32": "model-00001-of-00003.safetensors", "t.1.f32": "model-00001-of-00003.safetensors",
      "t.2.f32": "model-00002-of-00003.safetensors", "t.3.f32": "model-00003-of-00003.safetensors",
    });
  });

  it("headers are padded to 8 bytes and data is contiguous to the end of the file (as the reference reader requires)", () => {
    const target = path.join(dir, "out");
    writeAll(target, tensorsFor(["BF16", "I8", "F64"]), "5GB", false);
    const buf = fs.readFileSync(path.join(target, "model.safetensors"));
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
    const spans = Object.entries(header).filter(([k]) => k !== "__metadata__").map(([, v]) => (v as { data_offsets: number[] }).data_offsets).sort((a, b) => a[0] - b[0]);
    let pos = 0;
    for (const [b, e] of spans) {
      expect(b).toBe(pos);
      pos = e;
    }
    expect(8 + n + pos).toBe(buf.length);
  });

  it("accepts shard sizes as 5GB, 500MB, 2GiB or bytes", async () => {
    const { parseSize } = await import("../../io/index.js");
    expect(parseSize("5GB")).toBe(5e9);
    expect(parseSize("500MB")).toBe(5e8);
    expect(parseSize("2GiB")).toBe(2 ** 31);
    expect(parseSize("1.5 gb")).toBe(1.5e9);
    expect(parseSize(1234)).toBe(1234);
    expect(() => parseSize("five gigs")).toThrow(/shard_size "five gigs" is not a size/);
    expect(() => parseSize(0)).toThrow(/not a size/);
  });
});

describe("re-encoding a fixture", () => {
  it("bf16 fixture → writeF32 as BF16 reproduces the fixture's bytes; as F16, 65536 overflows to Inf", () => {
    const src = openCheckpoint(path.join(fixtures, "tiny-llama-bf16-sharded"));
    const tensors = src.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape }));
    for (const dtype of ["BF16", "F16"] as const) {
      const target = path.join(dir, dtype);
      const w = CheckpointWriter.create(target, tensors.map((t) => ({ ...t, dtype })), { fsync: false });
      for (const t of src.tensors) w.writeF32(t.name, 0, src.readF32(t.name, 0, t.numel));
      w.commit();
      const out = openCheckpoint(target);
      for (const t of src.tensors) {
        if (dtype === "BF16") expect(Buffer.from(out.readRaw(t.name, 0, t.byteLength)).equals(Buffer.from(src.readRaw(t.name, 0, t.byteLength)))).toBe(true);
      }
      if (dtype === "F16") {
        const v = out.readF32("model.layers.0.input_layernorm.weight", 0, 6);
        expect(Array.from(v)).toEqual([Infinity, -Infinity, 0, -0, 0, Infinity]);
        expect(Object.is(v[3], -0)).toBe(true);
      }
    }
  });
});
