/**
 * A checkpoint opened for streaming: every header validated up front (nothing
 * reads tensor data until asked), then synchronous positioned reads of byte
 * ranges — never whole files, so a 10 GB tensor needs only a chunk of memory.
 *
 * Accepts a Hugging Face directory (`model.safetensors`, or shards plus
 * `model.safetensors.index.json`) or a single `.safetensors` file. Pickled
 * checkpoints are refused. Works in worker threads: `describe()` gives a plain
 * serializable object and `Checkpoint.fromDescription()` reopens it without
 * re-validating.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import { decode16, decodeToF32, DTYPES, type DType } from "./dtypes.js";
import {
  changedError, ioCounters, openRegular, PICKLE_ADVICE, preadExact, readSafetensorsHeader, sameStamp, stampOf,
  type FileStamp, type SafetensorsHeader, type TensorInfo,
} from "./safetensors.js";
import { recoverCommits } from "./staging.js";

export const INDEX_FILE = "model.safetensors.index.json";
export const SINGLE_FILE = "model.safetensors";
const PICKLE_EXT = /\.(bin|pt|pth|ckpt|pkl|pickle)$/i;

export interface CheckpointFile {
  path: string;
  size: number;
  headerLength: number;
  /** sha256 of the file's header (provenance). */
  sha256: string;
  /** The file's identity when the header was read: data is read only while it still matches. */
  stamp: FileStamp;
}

/** Plain data: everything needed to reopen a checkpoint (e.g. in a worker) without re-validating. */
export interface CheckpointDescription {
  path: string;
  files: CheckpointFile[];
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** `metadata` of model.safetensors.index.json (sharded checkpoints), e.g. total_size. */
  indexMetadata: Record<string, unknown>;
}

export interface ReadStats {
  rangeReads: number;
  bytesRead: number;
}

/**
 * Tensor-name order for listings and outputs: numbers in names compare numerically (layers.2 < layers.10).
 * A name is its pieces `name.split(/(\d+)/)` — text, digits, text, … — compared piece by piece: digits
 * by value (then as text), text as text; when one runs out of pieces, fewer pieces first. Walked in
 * place, without splitting: sorting 100k names calls this two million times.
 */
export function compareTensorNames(a: string, b: string): number {
  let ia = 0;
  let ib = 0;
  for (let piece = 0; ; piece++) {
    const digits = piece % 2 === 1;
    let ea = ia;
    while (ea < a.length && isDigit(a.charCodeAt(ea)) === digits) ea++;
    let eb = ib;
    while (eb < b.length && isDigit(b.charCodeAt(eb)) === digits) eb++;
    if (!samePiece(a, ia, ea, b, ib, eb)) {
      if (digits) {
        const d = digitsValue(a, ia, ea) - digitsValue(b, ib, eb);
        if (d !== 0) return d;
      }
      return textOrder(a, ia, ea, b, ib, eb);
    }
    // a text piece is the last one when it ends the name; a digit piece is always followed by text
    const moreA = digits || ea < a.length;
    const moreB = digits || eb < b.length;
    if (!moreA || !moreB) return pieceCount(a, ea, piece + 1, moreA) - pieceCount(b, eb, piece + 1, moreB);
    ia = ea;
    ib = eb;
  }
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

function samePiece(a: string, ia: number, ea: number, b: string, ib: number, eb: number): boolean {
  if (ea - ia !== eb - ib) return false;
  for (let k = 0; k < ea - ia; k++) if (a.charCodeAt(ia + k) !== b.charCodeAt(ib + k)) return false;
  return true;
}

/** Number(digits) of s[i, e): exact by accumulation up to 15 digits, else Number of the text. */
function digitsValue(s: string, i: number, e: number): number {
  if (e - i > 15) return Number(s.slice(i, e));
  let v = 0;
  for (let k = i; k < e; k++) v = v * 10 + (s.charCodeAt(k) - 0x30);
  return v;
}

/** s[ia, ea) < t[ib, eb) as strings compare (UTF-16 code units): -1 or 1 (the pieces differ). */
function textOrder(a: string, ia: number, ea: number, b: string, ib: number, eb: number): number {
  const n = Math.min(ea - ia, eb - ib);
  for (let k = 0; k < n; k++) {
    const d = a.charCodeAt(ia + k) - b.charCodeAt(ib + k);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return ea - ia < eb - ib ? -1 : 1;
}

/** How many pieces `s` has: `done` pieces end at `end`, and (when `more`) the rest follow. */
function pieceCount(s: string, end: number, done: number, more: boolean): number {
  if (!more) return done;
  let count = done;
  let digits = done % 2 === 1;
  for (let i = end; ; ) {
    let e = i;
    while (e < s.length && isDigit(s.charCodeAt(e)) === digits) e++;
    count++;
    if (!digits && e >= s.length) return count;
    digits = !digits;
    i = e;
  }
}

export class Checkpoint {
  readonly path: string;
  readonly files: readonly CheckpointFile[];
  /** In compareTensorNames order. */
  readonly tensors: readonly TensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly indexMetadata: Readonly<Record<string, unknown>>;
  readonly stats: ReadStats = { rangeReads: 0, bytesRead: 0 };
  private readonly byName: Map<string, TensorInfo>;
  private readonly fds = new Map<string, number>();
  private readonly stamps: Map<string, FileStamp>;

  private constructor(d: CheckpointDescription) {
    this.path = d.path;
    this.files = d.files;
    this.tensors = d.tensors;
    this.metadata = d.metadata;
    this.indexMetadata = d.indexMetadata;
    this.byName = new Map();
    for (const t of d.tensors) this.byName.set(t.name, t); // no [name, t] pair per tensor
    this.stamps = new Map(d.files.map((f) => [f.path, f.stamp]));
  }

  /**
   * Throws (naming the file) if a file of this checkpoint changed since its
   * header was read: by path (replaced) or, when open, through the open file
   * (rewritten in place).
   */
  verifyUnchanged(): void {
    for (const f of this.files) {
      let st: fs.BigIntStats;
      try {
        st = fs.statSync(f.path, { bigint: true });
      } catch {
        throw changedError(f.path);
      }
      if (!sameStamp(stampOf(st), f.stamp)) throw changedError(f.path);
      const fd = this.fds.get(f.path);
      if (fd !== undefined && !sameStamp(stampOf(fs.fstatSync(fd, { bigint: true })), f.stamp)) throw changedError(f.path);
    }
  }

  /** Reopen from `describe()` output (in a worker thread): no validation, files opened on first read. */
  static fromDescription(d: CheckpointDescription): Checkpoint {
    return new Checkpoint(d);
  }

  /** @internal use openCheckpoint() */
  static fromValidated(d: CheckpointDescription): Checkpoint {
    return new Checkpoint(d);
  }

  describe(): CheckpointDescription {
    return { path: this.path, files: [...this.files], tensors: [...this.tensors], metadata: { ...this.metadata }, indexMetadata: { ...this.indexMetadata } };
  }

  /** sha256 of each file's header, keyed by file path. */
  get headerHashes(): Record<string, string> {
    return Object.fromEntries(this.files.map((f) => [f.path, f.sha256]));
  }

  /** Every tensor by name, in `tensors` order (read-only: a model's tensor map is this one, not a copy). */
  get tensorMap(): ReadonlyMap<string, TensorInfo> {
    return this.byName;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  tensor(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new MergelabError(`${this.path}: no tensor '${name}'`, { file: this.path, tensor: name });
    return t;
  }

  /**
   * Elements [startElem, startElem + count) of tensor `name`, decoded to
   * float32 (exact for F32/F16/BF16). Fills and returns `out` when given
   * (at least `count` long), else a new array.
   */
  readF32(name: string, startElem: number, count: number, out?: Float32Array): Float32Array {
    const t = this.tensor(name);
    this.checkRange(t, startElem, count, t.numel, "elements");
    if (out && out.length < count) throw new RangeError(`output buffer holds ${out.length} elements, ${count} requested`);
    const dest = out ? out.subarray(0, count) : new Float32Array(count);
    const size = DTYPES[t.dtype].size;
    const position = t.offset + startElem * size;
    if (t.dtype === "F32") {
      this.pread(t, new Uint8Array(dest.buffer, dest.byteOffset, count * 4), position);
    } else if (t.dtype === "BF16" || t.dtype === "F16") {
      decode16(t.dtype, count, dest, (bytes, first) => this.pread(t, bytes, position + 2 * first));
    } else {
      const raw = new Uint8Array(count * size);
      this.pread(t, raw, position);
      decodeToF32(t.dtype, raw, count, dest);
    }
    return dest;
  }

  /** Bytes [startByte, startByte + byteCount) of tensor `name`'s data, unchanged. */
  readRaw(name: string, startByte: number, byteCount: number, out?: Uint8Array): Uint8Array {
    const t = this.tensor(name);
    this.checkRange(t, startByte, byteCount, t.byteLength, "bytes");
    if (out && out.length < byteCount) throw new RangeError(`output buffer holds ${out.length} bytes, ${byteCount} requested`);
    const dest = out ? out.subarray(0, byteCount) : new Uint8Array(byteCount);
    this.pread(t, dest, t.offset + startByte);
    return dest;
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  private checkRange(t: TensorInfo, start: number, count: number, limit: number, unit: string): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > limit) {
      throw new RangeError(`${t.file}: tensor '${t.name}': ${unit} [${start}, ${start + count}) out of range (${limit})`);
    }
  }

  private pread(t: TensorInfo, dest: Uint8Array, position: number): void {
    if (dest.length === 0) return;
    let fd = this.fds.get(t.file);
    if (fd === undefined) {
      let opened: number;
      try {
        opened = openRegular(t.file);
      } catch (e) {
        if (e instanceof MergelabError && this.stamps.has(t.file)) throw changedError(t.file, t.name);
        throw e;
      }
      // the file must be the one whose header was read (a lazy model must never read a rewritten file)
      const want = this.stamps.get(t.file);
      if (want && !sameStamp(stampOf(fs.fstatSync(opened, { bigint: true })), want)) {
        fs.closeSync(opened);
        throw changedError(t.file, t.name);
      }
      fd = opened;
      this.fds.set(t.file, fd);
    }
    preadExact(fd, t.file, dest, position);
    this.stats.rangeReads++;
    this.stats.bytesRead += dest.length;
    ioCounters.dataReads++;
    ioCounters.dataBytes += dest.length;
  }
}

/** Open and validate a checkpoint directory or .safetensors file; reads headers only. */
export function openCheckpoint(p: string): Checkpoint {
  const abs = path.resolve(p);
  recoverCommits(abs); // a save() killed between its renames: put the old or the new output back first
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new MergelabError(`${abs}: no such checkpoint (file or directory not found)`, { file: abs });
  }
  if (st.isDirectory()) return openDirectory(abs);
  if (PICKLE_EXT.test(abs)) throw new MergelabError(`${abs}: pickled PyTorch checkpoint refused. ${PICKLE_ADVICE}`, { file: abs });
  const h = readSafetensorsHeader(abs);
  return Checkpoint.fromValidated(assemble(abs, [h], {}));
}

function openDirectory(dir: string): Checkpoint {
  const names = fs.readdirSync(dir);
  if (names.includes(INDEX_FILE)) return openSharded(dir);
  if (names.includes(SINGLE_FILE)) {
    return Checkpoint.fromValidated(assemble(dir, [readSafetensorsHeader(path.join(dir, SINGLE_FILE))], {}));
  }
  const safetensors = names.filter((n) => n.endsWith(".safetensors"));
  if (safetensors.length === 1) {
    return Checkpoint.fromValidated(assemble(dir, [readSafetensorsHeader(path.join(dir, safetensors[0]))], {}));
  }
  if (safetensors.length > 1) {
    throw new MergelabError(`${dir}: ${safetensors.length} .safetensors files but no ${INDEX_FILE} saying which tensors each holds`, { file: dir });
  }
  const pickles = names.filter((n) => PICKLE_EXT.test(n) || n === "pytorch_model.bin.index.json");
  if (pickles.length > 0) {
    throw new MergelabError(`${dir}: only pickled PyTorch weights here (${pickles.join(", ")}), refused. ${PICKLE_ADVICE}`, { file: dir });
  }
  throw new MergelabError(`${dir}: no model weights (expected ${SINGLE_FILE} or shards with ${INDEX_FILE})`, { file: dir });
}

interface ShardIndex {
  metadata: Record<string, unknown>;
  weightMap: Map<string, string>;
}

function readIndex(file: string): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new MergelabError(`${file}: not valid JSON (${(e as Error).message})`, { file });
  }
  const obj = json as Record<string, unknown>;
  const wm = obj?.weight_map;
  if (wm === null || typeof wm !== "object" || Array.isArray(wm)) {
    throw new MergelabError(`${file}: no "weight_map" object`, { file });
  }
  const weightMap = new Map<string, string>();
  for (const tensor of Object.keys(wm)) {
    const shard = (wm as Record<string, unknown>)[tensor];
    if (typeof shard !== "string" || shard === "" || shard !== path.basename(shard) || shard === ".." || shard === "." || shard === INDEX_FILE) {
      throw new MergelabError(`${file}: tensor '${tensor}' maps to ${JSON.stringify(shard)}, not a file name in the checkpoint directory`, { file, tensor });
    }
    weightMap.set(tensor, shard);
  }
  const meta = obj.metadata;
  return { metadata: meta && typeof meta === "object" && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {}, weightMap };
}

function openSharded(dir: string): Checkpoint {
  const indexFile = path.join(dir, INDEX_FILE);
  const index = readIndex(indexFile);
  const shardNames = [...new Set(index.weightMap.values())].sort();
  for (const shard of shardNames) {
    const file = path.join(dir, shard);
    if (!fs.existsSync(file)) {
      const tensor = [...index.weightMap].find(([, s]) => s === shard)![0];
      throw new MergelabError(`${file}: shard missing (${INDEX_FILE} puts tensor '${tensor}' in it)`, { file, tensor });
    }
  }
  const headers = shardNames.map((s) => readSafetensorsHeader(path.join(dir, s)));
  for (const h of headers) {
    const here = new Set(h.tensors.map((t) => t.name));
    for (const t of h.tensors) {
      if (index.weightMap.get(t.name) !== path.basename(h.file)) {
        const where = index.weightMap.get(t.name);
        throw new MergelabError(
          `${h.file}: tensor '${t.name}' is in this shard but ${where ? `${INDEX_FILE} puts it in ${where}` : `not in ${INDEX_FILE}`}`,
          { file: h.file, tensor: t.name },
        );
      }
    }
    for (const [tensor, shard] of index.weightMap) {
      if (shard === path.basename(h.file) && !here.has(tensor)) {
        throw new MergelabError(`${h.file}: ${INDEX_FILE} names tensor '${tensor}' in this shard, but the shard has no such tensor`, { file: h.file, tensor });
      }
    }
  }
  return Checkpoint.fromValidated(assemble(dir, headers, index.metadata));
}

function assemble(root: string, headers: SafetensorsHeader[], indexMetadata: Record<string, unknown>): CheckpointDescription {
  const seen = new Map<string, string>();
  const tensors: TensorInfo[] = [];
  const metadata: Record<string, string> = Object.create(null);
  for (const h of headers) {
    for (const t of h.tensors) {
      const other = seen.get(t.name);
      if (other) throw new MergelabError(`${h.file}: tensor '${t.name}' also appears in ${other}`, { file: h.file, tensor: t.name });
      seen.set(t.name, h.file);
      tensors.push(t);
    }
    for (const [k, v] of Object.entries(h.metadata)) if (!(k in metadata)) metadata[k] = v;
  }
  tensors.sort((a, b) => compareTensorNames(a.name, b.name));
  const files = headers.map((h) => ({ path: h.file, size: h.fileSize, headerLength: h.headerLength, sha256: h.sha256, stamp: h.stamp }));
  return { path: root, files, tensors, metadata, indexMetadata };
}

export type { DType };
