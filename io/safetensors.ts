/**
 * safetensors headers: read and validate a file's header before any tensor
 * data is touched.
 *
 * Layout (https://github.com/huggingface/safetensors#format): 8 bytes
 * little-endian u64 N, N bytes of UTF-8 JSON `{name: {dtype, shape,
 * data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`, then the
 * data buffer; offsets are relative to the start of the buffer (8 + N).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { MergelabError } from "../core/errors.js";
import { DTYPES, isDType, type DType } from "./dtypes.js";

/** Larger headers are refused before allocating (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  numel: number;
  /** Absolute path of the file holding the tensor. */
  file: string;
  /** Absolute byte offset of the tensor's data in `file`. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  headerLength: number;
  /** Byte offset of the data buffer (8 + headerLength). */
  dataStart: number;
  /** In header order. */
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** sha256 (hex) of the 8 length bytes and the header: identifies the file's layout for provenance. */
  sha256: string;
  /** Identity of the file when its header was read (inode, size, mtime): reads refuse a file that changed since. */
  stamp: FileStamp;
}

/** What identifies one version of a file: a rewrite (in place or by rename) changes it. */
export interface FileStamp {
  ino: number;
  size: number;
  mtimeNs: string;
}

export function stampOf(st: fs.BigIntStats): FileStamp {
  return { ino: Number(st.ino), size: Number(st.size), mtimeNs: String(st.mtimeNs) };
}

export const sameStamp = (a: FileStamp, b: FileStamp) => a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;

/** The refusal when a file changed after its header was read (a lazy model would read garbage through the old header). */
export function changedError(file: string, tensor?: string): MergelabError {
  return new MergelabError(
    `${file}: changed since its header was read (rewritten or replaced, e.g. by an earlier save() with overwrite=true or another program); load it again`,
    { file, tensor },
  );
}

/** Open a file for reading only if it is a regular file (a FIFO would block, a directory cannot be read). */
export function openRegular(file: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new MergelabError(`${file}: cannot open: ${(e as Error).message}`, { file });
  }
  if (!st.isFile()) {
    throw new MergelabError(`${file}: not a regular file (${st.isDirectory() ? "a directory" : st.isFIFO() ? "a FIFO" : "a special file"}); checkpoints are read from regular files only`, { file });
  }
  let fd: number;
  try {
    // O_NONBLOCK: if it was swapped for a FIFO since the stat, opening must not wait for a writer
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new MergelabError(`${file}: cannot open: ${(e as Error).message}`, { file });
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new MergelabError(`${file}: not a regular file; checkpoints are read from regular files only`, { file });
  }
  return fd;
}

/**
 * Process-wide I/O counters. Header reads and tensor-data reads are counted
 * apart, so tests can assert that a failing validation read no tensor data.
 */
export const ioCounters = { headerReads: 0, headerBytes: 0, dataReads: 0, dataBytes: 0 };

/** Read exactly `length` bytes at `position`, or fail naming the file. */
export function preadExact(fd: number, file: string, out: Uint8Array, position: number): void {
  let done = 0;
  while (done < out.length) {
    const n = fs.readSync(fd, out, done, out.length - done, position + done);
    if (n === 0) throw new MergelabError(`${file}: unexpected end of file at byte ${position + done}`, { file });
    done += n;
  }
}

export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = openRegular(file);
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const fileSize = Number(st.size);
    if (fileSize < 8) throw new MergelabError(`${file}: not a safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`, { file });
    const lenBytes = new Uint8Array(8);
    preadExact(fd, file, lenBytes, 0);
    const headerLength = Number(Buffer.from(lenBytes).readBigUInt64LE(0));
    checkHeaderLength(file, headerLength, fileSize, lenBytes);
    const headerBytes = new Uint8Array(headerLength);
    preadExact(fd, file, headerBytes, 8);
    ioCounters.headerReads++;
    ioCounters.headerBytes += 8 + headerLength;
    const sha256 = crypto.createHash("sha256").update(lenBytes).update(headerBytes).digest("hex");
    return { ...parseHeader(file, headerBytes, 8 + headerLength, fileSize), file, fileSize, headerLength, dataStart: 8 + headerLength, sha256, stamp: stampOf(st) };
  } finally {
    fs.closeSync(fd);
  }
}

function checkHeaderLength(file: string, n: number, fileSize: number, lenBytes: Uint8Array): void {
  if (lenBytes[0] === 0x50 && lenBytes[1] === 0x4b) {
    throw new MergelabError(`${file}: this is a zip archive (a PyTorch pickle checkpoint?), not safetensors. ${PICKLE_ADVICE}`, { file });
  }
  if (n > MAX_HEADER_BYTES) {
    throw new MergelabError(`${file}: header length ${n} bytes is absurdly large (limit ${MAX_HEADER_BYTES}); not a safetensors file or corrupted`, { file });
  }
  if (8 + n > fileSize) {
    throw new MergelabError(`${file}: header length ${n} bytes runs past the end of the file (${fileSize} bytes); truncated or not safetensors`, { file });
  }
  if (n < 2) throw new MergelabError(`${file}: header length ${n} is too small for a JSON header`, { file });
}

export const PICKLE_ADVICE =
  "Pickled checkpoints are refused because unpickling can execute arbitrary code. Convert it to safetensors first, " +
  "e.g. with the safetensors convert script (https://huggingface.co/spaces/safetensors/convert) or in Python: " +
  "AutoModel.from_pretrained(path).save_pretrained(out, safe_serialization=True).";

function parseHeader(file: string, bytes: Uint8Array, dataStart: number, fileSize: number): { tensors: TensorInfo[]; metadata: Record<string, string> } {
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    const scanned = scanHeader(text, bytes);
    if (scanned) return fromScan(file, scanned, dataStart, fileSize);
    json = JSON.parse(text);
  } catch (e) {
    if (e instanceof MergelabError) throw e;
    throw new MergelabError(`${file}: header is not valid JSON (${(e as Error).message})`, { file });
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new MergelabError(`${file}: header is not a JSON object`, { file });
  }
  const dataSize = fileSize - dataStart;
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> = Object.create(null);
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") metadata = parseMetadata(file, entry);
    else tensors.push(parseEntry(file, name, entry, dataStart, dataSize));
  }
  checkOverlaps(file, tensors);
  return { tensors, metadata };
}

/** A header as scanHeader reads it: the entries in header order, as parallel lists. */
interface ScannedHeader {
  names: string[];
  dtypes: string[];
  shapes: number[][];
  /** begin, end of each entry's data_offsets. */
  offsets: number[];
  /** The __metadata__ value's position among the entries (-1: none) and its value. */
  metadataAt: number;
  metadata: unknown;
}

/** The same header as JSON.parse would give it, validated by the same parseEntry / parseMetadata in the same order. */
function fromScan(file: string, h: ScannedHeader, dataStart: number, fileSize: number): { tensors: TensorInfo[]; metadata: Record<string, string> } {
  const dataSize = fileSize - dataStart;
  const tensors: TensorInfo[] = new Array(h.names.length);
  let metadata: Record<string, string> = Object.create(null);
  for (let i = 0; i < h.names.length; i++) {
    if (i === h.metadataAt) metadata = parseMetadata(file, h.metadata);
    tensors[i] = parseEntry(file, h.names[i], { dtype: h.dtypes[i], shape: h.shapes[i], data_offsets: [h.offsets[2 * i], h.offsets[2 * i + 1]] }, dataStart, dataSize);
  }
  if (h.metadataAt === h.names.length) metadata = parseMetadata(file, h.metadata);
  checkOverlaps(file, tensors);
  return { tensors, metadata };
}

/**
 * The usual safetensors header — one object of `"name": {"dtype": "F32", "shape": [..], "data_offsets":
 * [b, e]}` entries and an optional `__metadata__` — read in one pass without building a JSON tree:
 * JSON.parse of a 100k-tensor header holds the whole tree and a 100k-key dictionary at once (about
 * 90 MB for 5.6 MB of text). Anything else — escapes, other or repeated keys, names that are array
 * indices (JSON.parse reorders those), numbers that are not plain integers, missing fields — returns
 * undefined and the header goes through JSON.parse, which also reports what is wrong: the two paths
 * accept the same headers and give the same entries in the same order.
 */
function scanHeader(text: string, bytes: Uint8Array): ScannedHeader | undefined {
  const n = text.length;
  let i = 0;
  // names as strings of their own: a slice of the text would keep the whole header text alive
  // (ASCII text: character i is byte i; else an object key's copy)
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const own = bytes.length === n ? (s: string, start: number) => raw.toString("latin1", start, start + s.length) : (s: string) => Object.keys({ [s]: 0 })[0];
  const dtypes = new Map<string, string>();
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const eat = (c: number): boolean => {
    ws();
    if (text.charCodeAt(i) !== c) return false;
    i++;
    return true;
  };
  // a string without escapes or control characters (else undefined)
  const str = (): string | undefined => {
    if (!eat(0x22)) return undefined;
    const start = i;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) return text.slice(start, i++);
      if (c === 0x5c || c < 0x20) return undefined;
    }
    return undefined;
  };
  // a non-negative integer of at most 15 digits, no leading zero, fraction or exponent (else -1)
  const int = (): number => {
    ws();
    const start = i;
    let v = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
    }
    const len = i - start;
    if (len === 0 || len > 15 || (len > 1 && text.charCodeAt(start) === 0x30)) return -1;
    const c = text.charCodeAt(i);
    if (c === 0x2e || c === 0x65 || c === 0x45) return -1;
    return v;
  };
  const ints = (): number[] | undefined => {
    if (!eat(0x5b)) return undefined;
    const out: number[] = [];
    if (eat(0x5d)) return out;
    for (;;) {
      const v = int();
      if (v < 0) return undefined;
      out.push(v);
      if (eat(0x5d)) return out;
      if (!eat(0x2c)) return undefined;
    }
  };
  // the end of any JSON value starting at i (strings may hold escapes); JSON.parse checks the slice
  const skipValue = (): boolean => {
    ws();
    let depth = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        for (i++; i < n && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
        if (i >= n) return false;
      } else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) return true;
        if (--depth === 0) {
          i++;
          return true;
        }
      } else if (depth === 0 && c === 0x2c) return true;
    }
    return depth === 0;
  };
  const h: ScannedHeader = { names: [], dtypes: [], shapes: [], offsets: [], metadataAt: -1, metadata: undefined };
  const seen = new Set<string>();
  if (!eat(0x7b)) return undefined;
  if (!eat(0x7d)) {
    for (;;) {
      const sliced = str();
      if (sliced === undefined) return undefined;
      const name = own(sliced, i - 1 - sliced.length);
      if (seen.has(name) || /^(0|[1-9][0-9]*)$/.test(name) || !eat(0x3a)) return undefined;
      seen.add(name);
      if (name === "__metadata__") {
        ws();
        const start = i;
        if (!skipValue()) return undefined;
        h.metadataAt = h.names.length;
        try {
          h.metadata = JSON.parse(text.slice(start, i));
        } catch {
          return undefined; // JSON.parse of the whole header words the error
        }
      } else {
        if (!eat(0x7b)) return undefined;
        let dtype: string | undefined;
        let shape: number[] | undefined;
        let offsets: number[] | undefined;
        for (let k = 0; k < 3; k++) {
          if (k > 0 && !eat(0x2c)) return undefined;
          const key = str();
          if (!eat(0x3a)) return undefined;
          // each field once, each value of its type: any other entry goes through JSON.parse
          if (key === "dtype" && dtype === undefined) {
            if ((dtype = str()) === undefined) return undefined;
            // one string per dtype, not one per tensor
            dtype = dtypes.get(dtype) ?? (dtypes.set(dtype, dtype), dtype);
          } else if (key === "shape" && shape === undefined) {
            if ((shape = ints()) === undefined) return undefined;
          } else if (key === "data_offsets" && offsets === undefined) {
            if ((offsets = ints()) === undefined) return undefined;
          } else return undefined;
        }
        if (dtype === undefined || shape === undefined || offsets === undefined || offsets.length !== 2 || !eat(0x7d)) return undefined;
        h.names.push(name);
        h.dtypes.push(dtype);
        h.shapes.push(shape);
        h.offsets.push(offsets[0], offsets[1]);
      }
      if (eat(0x7d)) break;
      if (!eat(0x2c)) return undefined;
    }
  }
  ws();
  return i === n ? h : undefined;
}

function parseMetadata(file: string, entry: unknown): Record<string, string> {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw new MergelabError(`${file}: __metadata__ must be an object of strings`, { file });
  }
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== "string") throw new MergelabError(`${file}: __metadata__ entry '${k}' is not a string`, { file });
  }
  return Object.assign(Object.create(null), entry) as Record<string, string>;
}

const isCount = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;

function parseEntry(file: string, name: string, entry: unknown, dataStart: number, dataSize: number): TensorInfo {
  const fail = (why: string) => new MergelabError(`${file}: tensor '${name}': ${why}`, { file, tensor: name });
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) throw fail("header entry is not an object");
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (!isDType(dtype)) throw fail(`unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPES).join(", ")})`);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw fail(`bad shape ${JSON.stringify(shape)} (must be a list of non-negative integers)`);
  const numel = shape.reduce((a: number, b: number) => a * b, 1);
  if (!Number.isSafeInteger(numel)) throw fail(`shape ${JSON.stringify(shape)} has too many elements`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw fail(`bad data_offsets ${JSON.stringify(offsets)} (must be [begin, end])`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) {
    throw fail(`data_offsets [${begin}, ${end}] out of range (data buffer is ${dataSize} bytes)`);
  }
  const expectedBytes = numel * DTYPES[dtype].size;
  if (end - begin !== expectedBytes) {
    throw fail(`data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${JSON.stringify(shape)} × ${dtype} needs ${expectedBytes}`);
  }
  return { name, dtype, shape: sharedShape(shape as number[]), numel, file, offset: dataStart + begin, byteLength: expectedBytes };
}

/**
 * One frozen array per distinct shape (issue #17): a checkpoint of 100k tensors has a handful of
 * shapes, and a copy per tensor was ~56 bytes each. Frozen, so a shared shape is never changed
 * through one tensor; the table is small (distinct shapes) and is emptied if it ever grows large.
 */
const shapes = new Map<string, readonly number[]>();

function sharedShape(shape: readonly number[]): number[] {
  const key = shape.join(",");
  let s = shapes.get(key);
  if (s === undefined) {
    if (shapes.size >= 4096) shapes.clear();
    s = Object.freeze([...shape]);
    shapes.set(key, s);
  }
  return s as number[];
}

function checkOverlaps(file: string, tensors: TensorInfo[]): void {
  const byOffset = [...tensors].filter((t) => t.byteLength > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1];
    const cur = byOffset[i];
    if (cur.offset < prev.offset + prev.byteLength) {
      throw new MergelabError(`${file}: tensors '${prev.name}' and '${cur.name}' overlap in the data buffer`, { file, tensor: cur.name });
    }
  }
}
