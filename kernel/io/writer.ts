/**
 * Streaming checkpoint writer. The caller gives every output tensor (name,
 * dtype, shape) up front; the writer lays out the files (one
 * model.safetensors below the shard size, else model-0000i-of-0000N shards and
 * model.safetensors.index.json), writes the headers and sizes the files, and
 * then accepts tensor data in chunks, in any order, by positioned writes.
 *
 * Everything goes into a temporary sibling directory `.NAME.tmp-XXXX`, renamed
 * onto the target by commit(): a crash, an interrupt or a full disk leaves no
 * half-written output and never damages an existing one. A non-empty target
 * is refused unless `overwrite` is set; it is then replaced only at commit.
 *
 * Worker threads: `writer.layout` is plain data; `writeChunkF32/Raw(layout, …)`
 * write into the temp directory from any thread. The owning thread must then
 * call `writer.noteWritten(name, bytes)` for those chunks (commit checks every
 * byte of every tensor was written) and `abort()` if a worker failed.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../errors.js";
import { compareTensorNames, INDEX_FILE, SINGLE_FILE, type Checkpoint } from "./checkpoint.js";
import { DTYPES, encodeChunks, isDType, type DType } from "./dtypes.js";

export interface OutputTensor {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

export interface WriterOptions {
  /** Bytes, or "5GB", "500MB", "2GiB" (GB = 10^9 as in transformers). Default "5GB". */
  shardSize?: number | string;
  /** Provenance for `__metadata__` (recipe, tool version, inputs and header hashes); `format: "pt"` is always added. */
  metadata?: Record<string, string>;
  /** Replace a non-empty existing target (at commit). */
  overwrite?: boolean;
  /** Checkpoint directory whose non-weight files (config, tokenizer, chat template, …) are copied. */
  copyFrom?: string;
  /** Extra text files to write (e.g. README.md, the model card); override copied files of the same name. */
  extraFiles?: Record<string, string>;
  /** fsync files before the rename (default true). */
  fsync?: boolean;
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
  tensors: Record<string, LaidOutTensor>;
  /** Sum of tensor data bytes (the index's metadata.total_size). */
  totalSize: number;
}

export const DEFAULT_SHARD_SIZE = "5GB";

/**
 * The provenance entries of an output's `__metadata__` (all strings, as
 * safetensors requires): the recipe text, the tool version, and each input
 * checkpoint's path with the sha256 of each of its file headers (JSON).
 */
export function provenanceMetadata(p: { recipe?: string; version: string; inputs: ReadonlyArray<Pick<Checkpoint, "path" | "files">> }): Record<string, string> {
  const inputs = p.inputs.map((c) => ({ path: c.path, headers: Object.fromEntries(c.files.map((f) => [path.basename(f.path), f.sha256])) }));
  return {
    mergelab_version: p.version,
    ...(p.recipe !== undefined ? { mergelab_recipe: p.recipe } : {}),
    mergelab_inputs: JSON.stringify(inputs),
  };
}
const PID_FILE = ".mergelab-writer-pid";

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
function encodeHeader(tensors: readonly OutputTensor[], metadata: Record<string, string>): { bytes: Buffer; offsets: number[]; dataSize: number } {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const offsets: number[] = [];
  let pos = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * DTYPES[t.dtype].size;
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [pos, pos + n] };
    offsets.push(pos);
    pos += n;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const bytes = Buffer.alloc(8 + json.length);
  bytes.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(bytes, 8);
  return { bytes, offsets, dataSize: pos };
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

function wrapWriteError(layout: WriterLayout, e: unknown, what: string): MergelabError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === "ENOSPC" ? "no space left on device" : err.message;
  return new MergelabError(`${layout.target}: writing ${what} failed: ${why}`, { file: layout.target });
}

function laidOut(layout: WriterLayout, name: string): LaidOutTensor {
  const t = layout.tensors[name];
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

// ---------------------------------------------------------------- the writer

const active = new Set<CheckpointWriter>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // process.exit() and normal exits: remove temp dirs of writers that never committed
  process.on("exit", () => {
    for (const w of active) w.abort();
  });
  // Ctrl-C / kill: the same, then die by the signal as usual unless someone else handles it
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      for (const w of active) w.abort();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

export class CheckpointWriter {
  readonly layout: WriterLayout;
  private readonly opts: WriterOptions;
  private readonly written = new Map<string, number>();
  private done = false;

  private constructor(layout: WriterLayout, opts: WriterOptions) {
    this.layout = layout;
    this.opts = opts;
  }

  /** Lay out and create the output in a temp sibling of `target`; nothing appears at `target` before commit(). */
  static create(target: string, tensors: readonly OutputTensor[], opts: WriterOptions = {}): CheckpointWriter {
    const abs = path.resolve(target);
    validateRequest(abs, tensors, opts);
    const parent = path.dirname(abs);
    let tempDir: string;
    try {
      fs.mkdirSync(parent, { recursive: true });
      removeStaleTemps(abs);
      tempDir = fs.mkdtempSync(path.join(parent, `.${path.basename(abs)}.tmp-`));
    } catch (e) {
      throw new MergelabError(`${abs}: cannot create the output next to it: ${(e as Error).message}`, { file: abs });
    }
    const shards = planShards(tensors, parseSize(opts.shardSize ?? DEFAULT_SHARD_SIZE));
    const layout: WriterLayout = { target: abs, tempDir, files: [], tensors: {}, totalSize: 0 };
    const writer = new CheckpointWriter(layout, opts);
    active.add(writer);
    installExitHook();
    try {
      fs.chmodSync(tempDir, 0o755); // mkdtemp makes it private; the output is an ordinary directory
      fs.writeFileSync(path.join(tempDir, PID_FILE), String(process.pid));
      writer.createFiles(shards);
      writer.writeSideFiles();
    } catch (e) {
      writer.abort();
      if (e instanceof MergelabError) throw e;
      throw wrapWriteError(layout, e, "the output files");
    }
    return writer;
  }

  /** Plain-data layout for worker threads (see writeChunkF32). */
  describe(): WriterLayout {
    return this.layout;
  }

  writeF32(name: string, elemStart: number, data: Float32Array): void {
    this.guard(() => this.noteWritten(name, writeChunkF32(this.layout, name, elemStart, data)));
  }

  writeRaw(name: string, byteStart: number, bytes: Uint8Array): void {
    this.guard(() => this.noteWritten(name, writeChunkRaw(this.layout, name, byteStart, bytes)));
  }

  /** Record bytes written for `name` by a worker thread (commit checks that every tensor is complete). */
  noteWritten(name: string, bytes: number): void {
    this.written.set(name, (this.written.get(name) ?? 0) + bytes);
  }

  /** Make the output appear at the target (replacing an existing one when `overwrite`). Returns the target path. */
  commit(): string {
    if (this.done) throw new Error("checkpoint writer already committed or aborted");
    const { target, tempDir } = this.layout;
    for (const [name, t] of Object.entries(this.layout.tensors)) {
      const got = this.written.get(name) ?? 0;
      if (got !== t.byteLength) {
        this.abort();
        throw new Error(`${target}: tensor '${name}' got ${got} of its ${t.byteLength} bytes before commit`);
      }
    }
    try {
      closeChunkFiles(this.layout);
      if (this.opts.fsync ?? true) for (const f of this.layout.files) fsyncPath(path.join(tempDir, f.name));
      fs.rmSync(path.join(tempDir, PID_FILE), { force: true });
      if (!this.opts.overwrite && !isEmptyOrAbsent(target)) {
        throw new MergelabError(`${target}: appeared and is not empty while writing; not overwritten (use --force / overwrite=true)`, { file: target });
      }
      replaceDir(tempDir, target);
    } catch (e) {
      this.abort();
      if (e instanceof MergelabError) throw e;
      throw wrapWriteError(this.layout, e, "the output directory");
    }
    this.done = true;
    active.delete(this);
    return target;
  }

  /** Remove the temp directory; the target is untouched. Safe to call more than once. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    active.delete(this);
    try {
      closeChunkFiles(this.layout);
    } catch {
      /* already closed */
    }
    fs.rmSync(this.layout.tempDir, { recursive: true, force: true });
  }

  private guard(fn: () => void): void {
    if (this.done) throw new Error("checkpoint writer already committed or aborted");
    try {
      fn();
    } catch (e) {
      if (e instanceof MergelabError) this.abort();
      throw e;
    }
  }

  private createFiles(shards: Array<{ name: string; tensors: OutputTensor[] }>): void {
    const { tempDir } = this.layout;
    const metadata = { format: "pt", ...(this.opts.metadata ?? {}) };
    for (const shard of shards) {
      const { bytes, offsets, dataSize } = encodeHeader(shard.tensors, metadata);
      const file = path.join(tempDir, shard.name);
      const fd = fs.openSync(file, "wx");
      try {
        fs.writeSync(fd, bytes, 0, bytes.length, 0);
        fs.ftruncateSync(fd, bytes.length + dataSize); // sparse until the chunks arrive
      } finally {
        fs.closeSync(fd);
      }
      shard.tensors.forEach((t, i) => {
        const numel = t.shape.reduce((a, b) => a * b, 1);
        const byteLength = numel * DTYPES[t.dtype].size;
        this.layout.tensors[t.name] = { file, offset: bytes.length + offsets[i], byteLength, dtype: t.dtype, shape: [...t.shape], numel };
        if (byteLength === 0) this.written.set(t.name, 0);
      });
      this.layout.files.push({ name: shard.name, size: bytes.length + dataSize, tensors: shard.tensors.map((t) => t.name) });
      this.layout.totalSize += dataSize;
    }
    if (shards.length > 1) {
      const weightMap: Record<string, string> = {};
      for (const f of this.layout.files) for (const t of f.tensors) weightMap[t] = f.name;
      const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
      const index = { metadata: { total_size: this.layout.totalSize }, weight_map: sorted };
      fs.writeFileSync(path.join(tempDir, INDEX_FILE), JSON.stringify(index, null, 2) + "\n");
    }
  }

  private writeSideFiles(): void {
    const { tempDir } = this.layout;
    if (this.opts.copyFrom) for (const name of nonWeightFiles(this.opts.copyFrom)) fs.copyFileSync(path.join(this.opts.copyFrom, name), path.join(tempDir, name));
    for (const [name, text] of Object.entries(this.opts.extraFiles ?? {})) fs.writeFileSync(path.join(tempDir, name), text);
  }
}

/** Everything a writer can reject is rejected here, before anything is created. */
function validateRequest(target: string, tensors: readonly OutputTensor[], opts: WriterOptions): void {
  if (!opts.overwrite && !isEmptyOrAbsent(target)) {
    throw new MergelabError(`${target}: output exists and is not empty; not overwritten (use --force / overwrite=true)`, { file: target });
  }
  if (tensors.length === 0) throw new MergelabError(`${target}: no tensors to write`, { file: target });
  const names = new Set<string>();
  for (const t of tensors) {
    const fail = (why: string) => new MergelabError(`${target}: output tensor '${t.name}': ${why}`, { file: target, tensor: t.name });
    if (typeof t.name !== "string" || t.name === "" || t.name === "__metadata__") throw fail("invalid tensor name");
    if (names.has(t.name)) throw fail("listed twice");
    names.add(t.name);
    if (!isDType(t.dtype)) throw fail(`unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`bad shape ${JSON.stringify(t.shape)}`);
  }
  for (const [k, v] of Object.entries(opts.metadata ?? {})) {
    if (typeof v !== "string") throw new MergelabError(`${target}: metadata '${k}' must be a string`, { file: target });
  }
  for (const name of Object.keys(opts.extraFiles ?? {})) {
    if (name !== path.basename(name) || name.startsWith(".") || isWeightFile(name)) {
      throw new MergelabError(`${target}: extra file name '${name}' is not allowed (a plain file name, not weights)`, { file: target });
    }
  }
  parseSize(opts.shardSize ?? DEFAULT_SHARD_SIZE);
  if (opts.copyFrom !== undefined && !fs.existsSync(opts.copyFrom)) {
    throw new MergelabError(`${opts.copyFrom}: cannot copy config/tokenizer files: not found`, { file: opts.copyFrom });
  }
}

const WEIGHT_FILE = /(\.safetensors|\.index\.json|\.bin|\.pt|\.pth|\.ckpt|\.pkl|\.pickle|\.h5|\.msgpack|\.gguf|\.onnx)$/i;
const isWeightFile = (name: string) => WEIGHT_FILE.test(name);

/**
 * Non-weight files of a checkpoint directory, to copy next to a merged output:
 * config.json, generation_config.json, tokenizer files, chat templates, …
 * Not weights or indexes, not hidden files, not the source's README.md (its
 * model card describes another model).
 */
export function nonWeightFiles(dir: string): string[] {
  if (!fs.statSync(dir).isDirectory()) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith(".") && !isWeightFile(e.name) && e.name.toLowerCase() !== "readme.md")
    .map((e) => e.name)
    .sort();
}

function isEmptyOrAbsent(p: string): boolean {
  try {
    const st = fs.statSync(p);
    return st.isDirectory() && fs.readdirSync(p).length === 0;
  } catch {
    return true;
  }
}

function fsyncPath(file: string): void {
  const fd = fs.openSync(file, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** rename(temp → target); an existing target is renamed away first and deleted after, or restored on failure. */
function replaceDir(tempDir: string, target: string): void {
  if (!fs.existsSync(target)) {
    fs.renameSync(tempDir, target);
    return;
  }
  const old = `${path.join(path.dirname(target), "." + path.basename(target))}.old-${process.pid}-${Date.now()}`;
  fs.renameSync(target, old);
  try {
    fs.renameSync(tempDir, target);
  } catch (e) {
    fs.renameSync(old, target);
    throw e;
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/** Temp dirs of earlier runs on this target that were killed (their writer process is gone). */
function removeStaleTemps(target: string): void {
  const parent = path.dirname(target);
  const prefix = `.${path.basename(target)}.tmp-`;
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const dir = path.join(parent, name);
    let pid = NaN;
    try {
      pid = Number(fs.readFileSync(path.join(dir, PID_FILE), "utf8"));
    } catch {
      continue; // no pid file: not ours, or mid-commit; leave it
    }
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
