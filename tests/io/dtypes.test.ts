import { describe, expect, it } from "vitest";
import {
  bf16BitsToF32, decode16, decodeToF32, encodeFromF32, f16BitsToF32, f16BitsToF32Bits, f32BitsToBf16, f32BitsToF16, f32Bits, f32FromBits,
} from "../../io/dtypes.js";
import { allocF32, inPlaceKernels, SIMD_CHUNK, simdKernels, useSimd } from "../../io/simd.js";

const hex = (n: number) => "0x" + n.toString(16).padStart(4, "0");

describe("float32 → bf16, round to nearest even", () => {
  const cases: Array<[string, number, number]> = [
    ["1.0 exact", 0x3f800000, 0x3f80],
    ["tie, kept half even → down", 0x3f808000, 0x3f80],
    ["tie, kept half odd → up", 0x3f818000, 0x3f82],
    ["just above tie → up", 0x3f808001, 0x3f81],
    ["just below tie → down", 0x3f807fff, 0x3f80],
    ["negative tie to even (down in magnitude)", 0xbf808000, 0xbf80],
    ["negative tie to even (up in magnitude)", 0xbf818000, 0xbf82],
    ["+0", 0x00000000, 0x0000],
    ["-0", 0x80000000, 0x8000],
    ["+Inf", 0x7f800000, 0x7f80],
    ["-Inf", 0xff800000, 0xff80],
    ["max finite f32 overflows to Inf", 0x7f7fffff, 0x7f80],
    ["largest value rounding to max bf16", 0x7f7f7fff, 0x7f7f],
    ["f32 subnormal 1e-40 (bits 0x000116c2)", 0x000116c2, 0x0001],
    ["smallest f32 subnormal → 0", 0x00000001, 0x0000],
    ["subnormal tie to even", 0x00018000, 0x0002],
    ["quiet NaN", 0x7fc00000, 0x7fc0],
    ["signalling NaN stays NaN (quiet)", 0x7f800001, 0x7fc0],
    ["NaN with payload only in the low half stays NaN", 0x7f80ffff, 0x7fc0],
    ["negative NaN keeps sign", 0xffc00001, 0xffc0],
  ];
  it.each(cases)("%s", (_why, bits, want) => {
    expect(hex(f32BitsToBf16(bits))).toBe(hex(want));
  });

  it("every bf16 value survives decode → encode, and midpoints go to the even neighbour", () => {
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >>> 7) & 0xff;
      if (exp === 0xff && (h & 0x7f) !== 0) continue; // NaNs: checked above
      expect(f32BitsToBf16(f32Bits(bf16BitsToF32(h)))).toBe(h);
      if (exp === 0xff || (h & 0x7fff) === 0x7f7f) continue; // no finite upper neighbour
      const mid = ((h << 16) | 0x8000) >>> 0; // exactly halfway between h and h+1
      const even = h & 1 ? h + 1 : h;
      if (f32BitsToBf16(mid) !== even) throw new Error(`midpoint above ${hex(h)} → ${hex(f32BitsToBf16(mid))}, want ${hex(even)}`);
      if (f32BitsToBf16(mid - 1) !== h || f32BitsToBf16(mid + 1) !== h + 1) throw new Error(`near-midpoint rounding wrong at ${hex(h)}`);
    }
  });
});

describe("float32 → f16, round to nearest even", () => {
  const cases: Array<[string, number, number]> = [
    ["1.0", 1.0, 0x3c00],
    ["-0", -0, 0x8000],
    ["+Inf", Infinity, 0x7c00],
    ["-Inf", -Infinity, 0xfc00],
    ["max f16 65504", 65504, 0x7bff],
    ["65519.996 (just below the overflow threshold) → 65504", f32FromBits(0x477fefff), 0x7bff],
    ["65520 (half-way to 2^16) overflows to Inf", 65520, 0x7c00],
    ["-65520 → -Inf", -65520, 0xfc00],
    ["1e6 → Inf", 1e6, 0x7c00],
    ["tie 1 + 2^-11 → 1 (even)", 1 + 2 ** -11, 0x3c00],
    ["tie 1 + 3·2^-11 → 1 + 2^-9 (even)", 1 + 3 * 2 ** -11, 0x3c02],
    ["just above tie → up", f32FromBits(f32Bits(1 + 2 ** -11) + 1), 0x3c01],
    ["smallest normal 2^-14", 2 ** -14, 0x0400],
    ["largest subnormal 1023·2^-24", 1023 * 2 ** -24, 0x03ff],
    ["rounds up from subnormal into the smallest normal", 1023.5 * 2 ** -24 + 2 ** -40, 0x0400],
    ["subnormal tie 1.5·2^-24 → 2·2^-24 (even)", 1.5 * 2 ** -24, 0x0002],
    ["subnormal tie 2.5·2^-24 → 2·2^-24 (even)", 2.5 * 2 ** -24, 0x0002],
    ["smallest subnormal 2^-24", 2 ** -24, 0x0001],
    ["2^-25 is a tie → 0 (even)", 2 ** -25, 0x0000],
    ["just above 2^-25 → smallest subnormal", f32FromBits(0x33000001), 0x0001],
    ["-2^-25 → -0", -(2 ** -25), 0x8000],
    ["f32 subnormal → 0", 1e-40, 0x0000],
    ["quiet NaN", NaN, 0x7e00],
    ["negative NaN with payload", f32FromBits(0xffc02000), 0xfe01],
    ["signalling NaN (low payload) stays NaN", f32FromBits(0x7f800001), 0x7e00],
  ];
  it.each(cases)("%s", (_why, x, want) => {
    expect(hex(f32BitsToF16(f32Bits(x)))).toBe(hex(want));
  });

  it("every f16 value survives decode → encode, and midpoints go to the even neighbour", () => {
    for (let h = 0; h < 0x7c00; h++) {
      for (const s of [0, 0x8000]) {
        const x = f16BitsToF32(h | s);
        expect(f32BitsToF16(f32Bits(x))).toBe(h | s);
      }
      // midpoint between h and h+1 (exact in float32: f16 has 11 significant bits)
      const lo = f16BitsToF32(h);
      const hi = h + 1 === 0x7c00 ? 65536 : f16BitsToF32(h + 1);
      const mid = (lo + hi) / 2;
      const even = h & 1 ? h + 1 : h;
      const midBits = f32Bits(mid);
      if (f32FromBits(midBits) !== mid) throw new Error(`midpoint not exact at ${hex(h)}`);
      if (f32BitsToF16(midBits) !== even) throw new Error(`midpoint above ${hex(h)} → ${hex(f32BitsToF16(midBits))}, want ${hex(even)}`);
      if (f32BitsToF16(midBits - 1) !== h) throw new Error(`just below midpoint above ${hex(h)} rounds wrong`);
      if (f32BitsToF16(midBits + 1) !== h + 1) throw new Error(`just above midpoint above ${hex(h)} rounds wrong`);
    }
  });

  it("decodes special f16 patterns exactly", () => {
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
  });
});

describe("chunk loops", () => {
  const values = new Float32Array([1, -2.5, 0, -0, Infinity, -Infinity, NaN, 65520, 65519, 1e-40, 2 ** -24, 3.14159]);

  it.each(["BF16", "F16"] as const)("%s chunk encode equals the scalar conversion, and decode inverts it", (dtype) => {
    const bytes = new Uint8Array(values.length * 2);
    encodeFromF32(dtype, values, bytes);
    const u16 = new Uint16Array(bytes.buffer);
    const scalar = dtype === "BF16" ? f32BitsToBf16 : f32BitsToF16;
    const decode = dtype === "BF16" ? bf16BitsToF32 : f16BitsToF32;
    values.forEach((v, i) => expect(hex(u16[i])).toBe(hex(scalar(f32Bits(v)))));
    const back = new Float32Array(values.length);
    decodeToF32(dtype, bytes, values.length, back);
    back.forEach((v, i) => expect(Object.is(v, Math.fround(decode(u16[i])))).toBe(true));
  });

  it("decodes unaligned input (copies to an aligned scratch)", () => {
    const buf = new Uint8Array(1 + 8);
    new DataView(buf.buffer).setFloat32(1, 1.5, true);
    new DataView(buf.buffer).setFloat32(5, -7, true);
    const out = new Float32Array(2);
    decodeToF32("F32", buf.subarray(1), 2, out);
    expect(Array.from(out)).toEqual([1.5, -7]);
  });

  it("decodes integer dtypes to their values", () => {
    const i64 = new BigInt64Array([-3n, 0n, 9007199254740993n]);
    const out = new Float32Array(3);
    decodeToF32("I64", new Uint8Array(i64.buffer), 3, out);
    expect(Array.from(out)).toEqual([-3, 0, Math.fround(9007199254740993)]);
    decodeToF32("I8", new Uint8Array([0xff, 0x7f, 0x80]), 3, out);
    expect(Array.from(out)).toEqual([-1, 127, -128]);
  });

  it("refuses to encode float32 as an integer dtype", () => {
    expect(() => encodeFromF32("I64", new Float32Array(1), new Uint8Array(8))).toThrow(/carried through/);
  });
});

describe("SIMD kernels agree bit for bit with the scalar loops", () => {
  const every16 = new Uint16Array(65536).map((_, i) => i);
  const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

  /** Decoded bits through the scratch SIMD path, in place in an allocF32 buffer (offset by 3 elements), and the scalar loops. */
  function decodeAll(dtype: "BF16" | "F16", src: Uint16Array): [Uint32Array, Uint32Array, Uint32Array] {
    const fill = (bytes: Uint8Array, first: number, n: number) => bytes.set(bytesOf(src.subarray(first, first + n)));
    useSimd(true);
    const scratch = new Float32Array(src.length);
    decode16(dtype, src.length, scratch, fill);
    const own = allocF32(src.length + 3).subarray(3);
    decode16(dtype, src.length, own, fill);
    useSimd(false);
    const scalar = new Float32Array(src.length);
    decode16(dtype, src.length, scalar, fill);
    useSimd(true);
    return [scratch, own, scalar].map((a) => new Uint32Array(a.buffer, a.byteOffset, a.length)) as [Uint32Array, Uint32Array, Uint32Array];
  }

  it("SIMD is available here (else the fast path is untested)", () => {
    useSimd(true);
    expect(simdKernels()).not.toBeNull();
    expect(inPlaceKernels(allocF32(8).buffer)).toBeDefined();
  });

  it.each(["BF16", "F16"] as const)("%s decode of all 65536 patterns equals the exact scalar decode", (dtype) => {
    const [simd, own, scalar] = decodeAll(dtype, every16);
    const ref = dtype === "BF16" ? (h: number) => (h << 16) >>> 0 : f16BitsToF32Bits;
    for (let h = 0; h < 65536; h++) {
      if (simd[h] !== ref(h) || own[h] !== ref(h) || scalar[h] !== ref(h)) {
        throw new Error(`${dtype} ${hex(h)}: simd ${simd[h].toString(16)} in place ${own[h].toString(16)} scalar ${scalar[h].toString(16)} want ${ref(h).toString(16)}`);
      }
    }
  });

  it("decodes counts that are not multiples of 8 and span several SIMD sub-chunks", () => {
    const n = 2 * SIMD_CHUNK + 13;
    const src = new Uint16Array(n).map((_, i) => (i * 2654435761) >>> 16);
    for (const dtype of ["BF16", "F16"] as const) {
      const [simd, own, scalar] = decodeAll(dtype, src);
      const b = (a: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      expect(b(simd).equals(b(scalar))).toBe(true);
      expect(b(own).equals(b(scalar))).toBe(true);
    }
  });

  it("bf16 encode of random and special float32 patterns equals the scalar RNE", () => {
    const n = SIMD_CHUNK + 11;
    const bits = new Uint32Array(n);
    let x = 12345;
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      bits[i] = x;
    }
    const specials = [0x3f808000, 0x3f818000, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7f800001, 0xffc00001, 0x80000000, 0x00018000, 0x7f7f7fff];
    specials.forEach((b, i) => (bits[i] = b));
    bits.set(specials, n - specials.length); // also in the scalar tail
    const src = new Float32Array(bits.buffer);
    const out = new Uint8Array(2 * n);
    useSimd(true);
    encodeFromF32("BF16", src, out);
    const u16 = new Uint16Array(out.buffer);
    for (let i = 0; i < n; i++) if (u16[i] !== f32BitsToBf16(bits[i])) throw new Error(`element ${i}: bits ${bits[i].toString(16)} → ${hex(u16[i])}, want ${hex(f32BitsToBf16(bits[i]))}`);
  });
});
