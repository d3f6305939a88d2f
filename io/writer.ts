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
 *
 * Pieces: layout.ts (files, headers, chunk writes by layout), staging.ts (the
 * temporary directory: cleanup on interrupt, stale runs, the final rename).
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import { INDEX_FILE, type Checkpoint } from "./checkpoint.js";
import { DTYPES, isDType } from "./dtypes.js";
import {
  closeChunkFiles, DEFAULT_SHARD_SIZE, encodeHeader, parseSize, planShards, wrapWriteError, writeChunkF32, writeChunkRaw,
  type OutputTensor, type WriterLayout,
} from "./layout.js";
import { claim, pausePoint, fsyncPath, isEmptyOrAbsent, newOwner, onInterrupt, OWNER_FILE, removeStaleTemps, replaceDir, type Owner } from "./staging.js";
import { configShapes, configText, outputHfConfig, writtenFloatDtype } from "./outconfig.js";

export type { OutputTensor, WriterLayout, LaidOutTensor } from "./layout.js";
export { parseSize } from "./layout.js";

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
  /**
   * The copied config.json gets the output's layer count (when given) and torch_dtype (the one float
   * dtype written, when there is one): see io/outconfig.ts. `shapes`: of the embedding and head tensors
   * (io/outconfig.ts configShapes: all that config.json depends on); default: those written.
   */
  configFacts?: { numLayers?: number; layerSources?: readonly number[]; shapes?: Record<string, number[]> };
  /** fsync files before the rename (default true). */
  fsync?: boolean;
  /** Paths the output is computed from (files or directories): never written over, into or above. */
  inputs?: readonly string[];
  /** Called just before the output is renamed into place (e.g. to check the inputs did not change). */
  beforeCommit?: () => void;
}

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

export class CheckpointWriter {
  readonly layout: WriterLayout;
  private readonly opts: WriterOptions;
  private readonly written = new Map<string, number>();
  private done = false;
  private forgetInterrupt: () => void = () => {};
  private stopHeartbeat: () => void = () => {};
  private readonly owner: Owner = newOwner();

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
    // tensor names are keys: no prototype, so '__proto__' is a name like any other
    const layout: WriterLayout = { target: abs, tempDir, files: [], tensors: new Map(), totalSize: 0 };
    const writer = new CheckpointWriter(layout, opts);
    writer.forgetInterrupt = onInterrupt(() => writer.abort());
    try {
      fs.chmodSync(tempDir, 0o755); // mkdtemp makes it private; the output is an ordinary directory
      writer.stopHeartbeat = claim(tempDir, writer.owner);
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
    pausePoint("commit:before");
    const { target, tempDir } = this.layout;
    for (const [name, t] of this.layout.tensors) {
      const got = this.written.get(name) ?? 0;
      if (got !== t.byteLength) {
        this.abort();
        throw new Error(`${target}: tensor '${name}' got ${got} of its ${t.byteLength} bytes before commit`);
      }
    }
    try {
      closeChunkFiles(this.layout);
      if (this.opts.fsync ?? true) for (const f of this.layout.files) fsyncPath(path.join(tempDir, f.name));
      if (!this.opts.overwrite && !isEmptyOrAbsent(target)) {
        throw new MergelabError(`${target}: appeared and is not empty while writing; not overwritten (save with overwrite=true to replace it)`, { file: target });
      }
      if (this.opts.overwrite) checkReplaceable(target);
      this.opts.beforeCommit?.();
      replaceDir(tempDir, target, this.owner);
      this.stopHeartbeat();
      fs.rmSync(path.join(target, OWNER_FILE), { force: true });
    } catch (e) {
      this.abort();
      if (e instanceof MergelabError) throw e;
      throw wrapWriteError(this.layout, e, "the output directory");
    }
    this.done = true;
    this.forgetInterrupt();
    this.stopHeartbeat();
    return target;
  }

  /** Remove the temp directory; the target is untouched. Safe to call more than once. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.forgetInterrupt();
    this.stopHeartbeat();
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
        this.layout.tensors.set(t.name, { file, offset: bytes.length + offsets[i], byteLength, dtype: t.dtype, shape: t.shape as number[], numel }); // shapes are read-only: shared, not copied
        if (byteLength === 0) this.written.set(t.name, 0);
      });
      this.layout.files.push({ name: shard.name, size: bytes.length + dataSize, tensors: shard.tensors.map((t) => t.name) });
      this.layout.totalSize += dataSize;
    }
    if (shards.length > 1) {
      const weightMap: Record<string, string> = Object.create(null);
      for (const f of this.layout.files) for (const t of f.tensors) weightMap[t] = f.name;
      const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
      const index = { metadata: { total_size: this.layout.totalSize }, weight_map: sorted };
      fs.writeFileSync(path.join(tempDir, INDEX_FILE), JSON.stringify(index, null, 2) + "\n");
    }
  }

  /** The source's config.json with the output's layer count and dtype (unparsable JSON is copied as is). */
  private outputConfig(from: string): string {
    const text = fs.readFileSync(from, "utf8");
    let cfg: unknown;
    try {
      cfg = JSON.parse(text);
    } catch {
      return text;
    }
    if (cfg === null || typeof cfg !== "object" || Array.isArray(cfg)) return text;
    const dtype = writtenFloatDtype([...this.layout.tensors.values()].map((t) => t.dtype));
    // names and shapes of the embeddings and heads: what outputHfConfig reads of the tensors
    const shapes = this.opts.configFacts?.shapes ?? configShapes((n) => this.layout.tensors.get(n)?.shape);
    const out = outputHfConfig(cfg as Record<string, unknown>, { numLayers: this.opts.configFacts?.numLayers, layerSources: this.opts.configFacts?.layerSources, dtype, tensorNames: Object.keys(shapes), tensorShapes: shapes });
    // unchanged facts: the source's bytes, as written
    return JSON.stringify(out) === JSON.stringify(cfg) ? text : configText(out);
  }

  private writeSideFiles(): void {
    const { tempDir } = this.layout;
    if (this.opts.copyFrom) {
      for (const name of nonWeightFiles(this.opts.copyFrom)) {
        const from = path.join(this.opts.copyFrom, name);
        if (name === "config.json" && this.opts.configFacts) fs.writeFileSync(path.join(tempDir, name), this.outputConfig(from));
        else fs.copyFileSync(from, path.join(tempDir, name));
      }
    }
    for (const [name, text] of Object.entries(this.opts.extraFiles ?? {})) fs.writeFileSync(path.join(tempDir, name), text);
  }
}

/** Everything a writer can reject is rejected here, before anything is created. */
function validateRequest(target: string, tensors: readonly OutputTensor[], opts: WriterOptions): void {
  if (!opts.overwrite && !isEmptyOrAbsent(target)) {
    throw new MergelabError(`${target}: output exists and is not empty; not overwritten (save with overwrite=true to replace it)`, { file: target });
  }
  checkOutputTarget(target, { overwrite: opts.overwrite, cwd: process.cwd(), inputs: opts.inputs ?? [] });
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

/** The real path of `p`, resolving symlinks of its longest existing prefix (the rest may not exist yet). */
function realish(p: string): string {
  const abs = path.resolve(p);
  let head = abs;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...rest.reverse());
    } catch {
      const up = path.dirname(head);
      if (up === head) return abs;
      rest.push(path.basename(head));
      head = up;
    }
  }
}

const within = (inner: string, outer: string) => inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);

/**
 * Refuse an output that would destroy something, whatever `overwrite` says:
 * an input (or a path inside one, or an ancestor of one), the working
 * directory or an ancestor of it, and (with overwrite) an existing directory
 * that is not a model output.
 */
export function checkOutputTarget(target: string, opts: { overwrite?: boolean; cwd?: string; inputs?: readonly string[] }): void {
  const t = realish(target);
  const shown = target;
  if (opts.cwd !== undefined && within(realish(opts.cwd), t)) {
    throw new MergelabError(`${shown}: is the working directory${realish(opts.cwd) === t ? "" : " or contains it"}: refusing to write there (whatever overwrite says); choose an output directory below it`, { file: target });
  }
  for (const input of opts.inputs ?? []) {
    const i = realish(input);
    if (within(t, i) || within(i, t)) {
      const how = t === i ? "is" : within(t, i) ? "is inside" : "contains";
      throw new MergelabError(`${shown}: ${how} ${input}, which this save reads: refusing to write there (whatever overwrite says); choose another output directory`, { file: target });
    }
  }
  if (opts.overwrite) checkReplaceable(target);
}

/** An existing non-empty target may be replaced only if it is a model output: weights, and only files. */
export function checkReplaceable(target: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch {
    return; // absent
  }
  if (!st.isDirectory()) {
    throw new MergelabError(`${target}: exists and is not a directory: refusing to replace it with a model (whatever overwrite says)`, { file: target });
  }
  const entries = fs.readdirSync(target, { withFileTypes: true });
  if (entries.length === 0) return;
  const foreign = entries.find((e) => !e.isFile() && e.name !== ".shards");
  const hasWeights = entries.some((e) => e.isFile() && (e.name.endsWith(".safetensors") || e.name === INDEX_FILE));
  if (foreign || !hasWeights) {
    const why = foreign ? `it holds ${foreign.isDirectory() ? "the directory" : "the entry"} '${foreign.name}'` : "it holds no model weights";
    throw new MergelabError(`${target}: not a model output directory (${why}): refusing to replace it (whatever overwrite says); remove it yourself or choose another output`, { file: target });
  }
}
