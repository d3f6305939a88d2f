/**
 * Output layout: which file each tensor goes to and where (one
 * model.safetensors below the shard size, else model-0000i-of-0000N shards),
 * the safetensors header bytes of each file, and positioned chunk writes by
 * layout — plain data, so any worker thread can write its chunks.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import { compareTensorNames, SINGLE_FILE } from "./checkpoint.js";
import { DTYPES, encodeChunks, type DType } from "./dtypes.js";

export interface OutputTensor {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

export interface LaidOutTensor {
  /** Absolute path in the temp directory. */
  file: string;
  offset: number;
  byteLength: number;
  dtype: DType;
  shape: number[];
  numel: number;
}

/** Plain data (structured-cloneable): what a worker needs to write chunks. */
export interface WriterLayout {
  target: string;
  tempDir: string;
  /** File names (relative to the directory) in order, with their total sizes. */
  files: Array<{ name: string; size: number; tensors: string[] }>;
  /** By name (a Map: a 100k-entry dictionary object costs about twice as much, issue #17). */
  tensors: Map<string, LaidOutTensor>;
  /** Sum of tensor data bytes (the index's metadata.total_size). */
  totalSize: number;
}

export const DEFAULT_SHARD_SIZE = "5GB";

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** "5GB" → 5e9, "500MB" → 5e8, "2GiB" → 2^31, 1234 → 1234. */
export function parseSize(size: number | string): number {
  const bad = () => new MergelabError(`shard_size ${JSON.stringify(size)} is not a size (e.g. 5GB, 500MB, 2GiB or a number of bytes)`, { param: "shard_size" });
  if (typeof size === "number") {
    if (!Number.isFinite(size) || size <= 0) throw bad();
    return Math.floor(size);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(size);
  if (!m) throw bad();
  const bytes = Math.floor(Number(m[1]) * UNITS[(m[2] ?? "b").toLowerCase()]);
  if (bytes <= 0) throw bad();
  return bytes;
}

const shardName = (i: number, n: number) => `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`;

/** Group tensors into files: greedily in name order, a new shard when the next tensor would pass shardSize. */
export function planShards(tensors: readonly OutputTensor[], shardSize: number): Array<{ name: string; tensors: OutputTensor[] }> {
  const sorted = [...tensors].sort((a, b) => compareTensorNames(a.name, b.name));
  const bytes = (t: OutputTensor) => t.shape.reduce((a, b) => a * b, 1) * DTYPES[t.dtype].size;
  const total = sorted.reduce((s, t) => s + bytes(t), 0);
  if (total <= shardSize) return [{ name: SINGLE_FILE, tensors: sorted }];
  const groups: OutputTensor[][] = [[]];
  let used = 0;
  for (const t of sorted) {
    if (used > 0 && used + bytes(t) > shardSize) {
      groups.push([]);
      used = 0;
    }
    groups[groups.length - 1].push(t);
    used += bytes(t);
  }
  return groups.map((g, i) => ({ name: shardName(i, groups.length), tensors: g }));
}

/** The safetensors header for one file: JSON padded with spaces to a multiple of 8 bytes. */
export function encodeHeader(tensors: readonly OutputTensor[], metadata: Record<string, string>): { bytes: Buffer; offsets: number[]; dataSize: number } {
  const offsets: number[] = [];
  let pos = 0;
  for (const t of tensors) {
    offsets.push(pos);
    pos += t.shape.reduce((a, b) => a * b, 1) * DTYPES[t.dtype].size;
  }
  // one buffer: 8 bytes of length, the JSON, the padding (room reserved generously: untouched pages cost nothing)
  let room = 1024;
  for (const t of tensors) room += 2 * (t.name.length + 100);
  const out = new ByteSink(room);
  out.write("        ");
  headerJson(out, tensors, offsets, metadata, pos);
  out.write(" ".repeat((8 - ((out.length - 8) % 8)) % 8));
  const bytes = out.bytes();
  bytes.writeBigUInt64LE(BigInt(bytes.length - 8), 0);
  return { bytes, offsets, dataSize: pos };
}

/** A byte buffer written piece by piece (UTF-8), grown by doubling. */
class ByteSink {
  private buf: Buffer;
  length = 0;
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }
  write(text: string): void {
    const need = this.length + Buffer.byteLength(text, "utf8");
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    this.length += this.buf.write(text, this.length, "utf8");
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * The header's JSON text: what JSON.stringify gives for `{__metadata__, name: {dtype, shape,
 * data_offsets}, …}` built as an object, written entry by entry (the object and its 100k entries
 * were a large transient for big checkpoints). Names that are array indices are ordered first by
 * JSON.stringify, a repeated key keeps its first place: such headers are built as the object, so the
 * bytes never differ.
 */
function headerJson(out: ByteSink, tensors: readonly OutputTensor[], offsets: number[], metadata: Record<string, string>, dataSize: number): void {
  const index = /^(0|[1-9][0-9]*)$/;
  const names = new Set<string>();
  const plain = tensors.every((t) => t.name !== "__metadata__" && !index.test(t.name) && names.size < names.add(t.name).size);
  if (!plain) {
    // tensor names are keys: no prototype, so '__proto__' is a name like any other
    const header: Record<string, unknown> = Object.create(null);
    header.__metadata__ = metadata;
    tensors.forEach((t, i) => {
      const end = i + 1 < tensors.length ? offsets[i + 1] : dataSize;
      header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offsets[i], end] };
    });
    out.write(JSON.stringify(header));
    return;
  }
  // each entry's text goes to the bytes as it is made: no list of 100k strings held until a join
  // (the UTF-8 of the whole is the UTF-8 of its pieces, each a complete JSON token sequence)
  out.write(`{"__metadata__":${JSON.stringify(metadata)}`);
  tensors.forEach((t, i) => {
    const end = i + 1 < tensors.length ? offsets[i + 1] : dataSize;
    out.write(`,${JSON.stringify(t.name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":[${t.shape.join(",")}],"data_offsets":[${offsets[i]},${end}]}`);
  });
  out.write("}");
}

// ---------------------------------------------------------------- chunk writes (any thread)

const openFds = new Map<string, number>();

function fdFor(file: string): number {
  let fd = openFds.get(file);
  if (fd === undefined) {
    fd = fs.openSync(file, "r+");
    openFds.set(file, fd);
  }
  return fd;
}

function pwriteAll(file: string, bytes: Uint8Array, position: number): void {
  const fd = fdFor(file);
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

export function wrapWriteError(layout: WriterLayout, e: unknown, what: string): MergelabError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === "ENOSPC" ? "no space left on device" : err.message;
  return new MergelabError(`${layout.target}: writing ${what} failed: ${why}`, { file: layout.target });
}

function laidOut(layout: WriterLayout, name: string): LaidOutTensor {
  const t = layout.tensors.get(name);
  if (!t) throw new MergelabError(`${layout.target}: tensor '${name}' is not among the output tensors`, { file: layout.target, tensor: name });
  return t;
}

/** Encode `data` (float32) to the tensor's dtype (RNE) and write it at element `elemStart`. Returns bytes written. */
export function writeChunkF32(layout: WriterLayout, name: string, elemStart: number, data: Float32Array): number {
  const t = laidOut(layout, name);
  if (!Number.isSafeInteger(elemStart) || elemStart < 0 || elemStart + data.length > t.numel) {
    throw new RangeError(`tensor '${name}': elements [${elemStart}, ${elemStart + data.length}) out of range (${t.numel})`);
  }
  const size = DTYPES[t.dtype].size;
  try {
    encodeChunks(t.dtype, data, (bytes, first) => pwriteAll(t.file, bytes, t.offset + (elemStart + first) * size));
  } catch (e) {
    throw wrapWriteError(layout, e, `tensor '${name}'`);
  }
  return data.length * size;
}

/** Write raw bytes (carried-through tensors, any dtype) at byte `byteStart` of the tensor. Returns bytes written. */
export function writeChunkRaw(layout: WriterLayout, name: string, byteStart: number, bytes: Uint8Array): number {
  const t = laidOut(layout, name);
  if (!Number.isSafeInteger(byteStart) || byteStart < 0 || byteStart + bytes.length > t.byteLength) {
    throw new RangeError(`tensor '${name}': bytes [${byteStart}, ${byteStart + bytes.length}) out of range (${t.byteLength})`);
  }
  try {
    pwriteAll(t.file, bytes, t.offset + byteStart);
  } catch (e) {
    throw wrapWriteError(layout, e, `tensor '${name}'`);
  }
  return bytes.length;
}

/** Close this thread's cached file descriptors for a layout (call in workers when done). */
export function closeChunkFiles(layout: WriterLayout): void {
  for (const f of layout.files) {
    const file = path.join(layout.tempDir, f.name);
    const fd = openFds.get(file);
    if (fd !== undefined) {
      openFds.delete(file);
      fs.closeSync(fd);
    }
  }
}
