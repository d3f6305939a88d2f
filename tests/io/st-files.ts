// Test helpers: safetensors files built byte by byte (independent of the writer under test).
import fs from "node:fs";
import path from "node:path";

/** 8-byte little-endian length (or `lengthOverride`), the header text, then `data`. */
export function rawSafetensors(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Buffer {
  const text = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(text.length));
  return Buffer.concat([len, text, Buffer.from(data)]);
}

/** Copy a fixture (file or directory) into `dir`, writable. */
export function copyFixture(src: string, dir: string): string {
  const dest = path.join(dir, path.basename(src));
  fs.cpSync(src, dest, { recursive: true });
  const chmod = (p: string) => {
    fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);
    if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p)) chmod(path.join(p, f));
  };
  chmod(dest);
  return dest;
}

/** Every path under `dir` (relative), sorted: to assert nothing was created or left behind. */
export function listTree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

/** Name of small tensor `i`: a hundred per layer, like a model's layers. */
export const smallTensorName = (i: number) => `model.layers.${Math.floor(i / 100)}.t${i % 100}.weight`;

/**
 * Write a safetensors file of `n` F32 tensors of shape [4] (smallTensorName), values from `seed` (an LCG),
 * with mergelab's writer nowhere involved; `metadata` goes in as `__metadata__`. Returns the values written.
 */
export function writeSmallTensors(file: string, n: number, seed: number, metadata?: Record<string, string>): Float32Array {
  const data = new Float32Array(n * 4);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32) * 2 - 1;
  }
  const entries = Array.from({ length: n }, (_, i) => `"${smallTensorName(i)}":{"dtype":"F32","shape":[4],"data_offsets":[${16 * i},${16 * i + 16}]}`);
  if (metadata) entries.unshift(`"__metadata__":${JSON.stringify(metadata)}`);
  let header = `{${entries.join(",")}}`;
  header += " ".repeat((8 - (header.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(header, "latin1"), Buffer.from(data.buffer)]));
  return data;
}
