/**
 * Hugging Face Hub model references (`org/name`, `org/name@revision`) resolved
 * the way transformers / huggingface_hub do, into the same local cache so both
 * share it:
 *
 *   <cache>/models--org--name/refs/<revision>           → a commit hash (text)
 *   <cache>/models--org--name/snapshots/<commit>/<file> → ../../blobs/<etag>  (relative symlink)
 *   <cache>/models--org--name/blobs/<etag>              the bytes (etag = sha256 for LFS files, git oid otherwise)
 *
 * <cache> = HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else
 * XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (huggingface_hub's order).
 *
 * Resolution: the cache first (no network when the snapshot is complete), then
 * — unless offline (HF_HUB_OFFLINE=1, `offline: true`) — a download with the
 * official @huggingface/hub client (modelInfo → commit, listFiles, downloadFile):
 * only top-level *.safetensors, the shard index and the non-weight files an
 * output copies (config, tokenizer, generation config, chat template...);
 * never pickles. Each file streams to blobs/<etag>.incomplete (resumed with a
 * Range request if a previous attempt was interrupted), is checked (size, and
 * sha256 for LFS files), then renamed and linked. Shards come before the index,
 * and `refs/<revision>` is written last, so an interrupted download never looks
 * complete: a snapshot counts only when every shard its index names is there.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import type { ListFileEntry } from "@huggingface/hub";

type HubLib = typeof import("@huggingface/hub");
let hubLib: HubLib | undefined;
/** The Hub client, loaded only when the Hub is contacted (it is a large module graph: not at `check` of local paths). */
async function hub(): Promise<HubLib> {
  return (hubLib ??= await import("@huggingface/hub"));
}
import { MergelabError } from "../core/errors.js";

export const HUB_URL_DEFAULT = "https://huggingface.co";
const INDEX_FILE = "model.safetensors.index.json";

/** A parsed Hub model reference. `revision` is as written (branch, tag or commit); "main" when absent. */
export interface HubRef {
  /** "org/name" */
  repo: string;
  revision: string;
  /** True when the reference named a revision explicitly. */
  explicitRevision: boolean;
}

const NAME = "[A-Za-z0-9][A-Za-z0-9._-]{0,95}";
const HUB_ID = new RegExp(`^(${NAME})/(${NAME})(?:@([A-Za-z0-9._/-]{1,200}))?$`);
const COMMIT = /^[0-9a-f]{40}$/;

/**
 * Parse `org/name` or `org/name@revision` (mergekit's spelling). Returns
 * undefined for anything else (a path like `./models/a`, `/abs`, `a/b/c`).
 * Does not look at the file system: callers prefer an existing local path.
 */
export function parseHubId(ref: string): HubRef | undefined {
  const m = HUB_ID.exec(ref);
  if (!m) return undefined;
  const [, org, name, rev] = m;
  if (org.includes("..") || name.includes("..") || name.endsWith(".safetensors")) return undefined;
  if (rev !== undefined && (rev.split("/").some((p) => p === "" || p === "." || p === "..") || rev.startsWith("/"))) return undefined;
  return { repo: `${org}/${name}`, revision: rev ?? "main", explicitRevision: rev !== undefined };
}

/**
 * A reference is a Hub id when it parses as one and is not a local path: neither
 * it nor its first part exists locally (`models/nope` next to a `models/` folder
 * is a missing local checkpoint, not the Hub repository models/nope).
 */
export function isHubReference(ref: string, cwd = process.cwd()): boolean {
  const parsed = parseHubId(ref);
  if (!parsed) return false;
  if (fs.existsSync(path.resolve(cwd, ref))) return false;
  return !fs.existsSync(path.resolve(cwd, parsed.repo.split("/")[0]));
}

/** `org/name` or `org/name@rev` as a user would type it again. */
export function formatHubRef(r: HubRef): string {
  return r.explicitRevision ? `${r.repo}@${r.revision}` : r.repo;
}

type Env = Record<string, string | undefined>;

/** The hub cache directory huggingface_hub would use with this environment. */
export function hubCacheDir(env: Env = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  return path.join(hfHome(env), "hub");
}

function hfHome(env: Env): string {
  if (env.HF_HOME) return env.HF_HOME;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "huggingface");
}

const truthy = (v: string | undefined) => v !== undefined && ["1", "on", "yes", "true"].includes(v.trim().toLowerCase());

/** HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1), as huggingface_hub reads it. */
export function isOfflineEnv(env: Env = process.env): boolean {
  return truthy(env.HF_HUB_OFFLINE) || truthy(env.TRANSFORMERS_OFFLINE);
}

/** HF_TOKEN, else the token file huggingface-cli login writes (HF_TOKEN_PATH, else HF_HOME/token). */
export function hubToken(env: Env = process.env): string | undefined {
  const t = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (t && t.trim()) return t.trim();
  const file = env.HF_TOKEN_PATH ?? path.join(hfHome(env), "token");
  try {
    const s = fs.readFileSync(file, "utf8").trim();
    return s || undefined;
  } catch {
    return undefined;
  }
}

/** HF_ENDPOINT (huggingface_hub's variable for a mirror or a local server), else https://huggingface.co. */
export function hubEndpoint(env: Env = process.env): string {
  return (env.HF_ENDPOINT || HUB_URL_DEFAULT).replace(/\/+$/, "");
}

/** The folder of a model repo in the cache: models--org--name. */
export function repoCacheDir(cacheDir: string, repo: string): string {
  // huggingface_hub's repo_folder_name (and @huggingface/hub's getRepoFolderName): models--org--name
  return path.join(cacheDir, `models--${repo.split("/").join("--")}`);
}

/**
 * The files mergelab fetches from a model repo: top-level safetensors weights,
 * their index, and the small non-weight files an output copies (JSON configs,
 * tokenizer files, chat templates, the card). Never pickles (.bin, .pt, .pth,
 * .ckpt, .pkl), never other formats (.gguf, .onnx, .h5, .msgpack) or subfolders.
 */
export function isWantedFile(file: string): boolean {
  if (file.includes("/") || file.startsWith(".")) return false;
  if (file.endsWith(".safetensors")) return true;
  return /\.(json|txt|model|jinja|md|tiktoken)$/i.test(file);
}

/**
 * A snapshot directory has complete weights when its shard index names only
 * shards that are present, or when it holds model.safetensors (or a PEFT
 * adapter's adapter_model.safetensors). Blobs are only linked after a complete,
 * checked download, so a present file is a whole file.
 */
export function snapshotComplete(dir: string): boolean {
  const index = path.join(dir, INDEX_FILE);
  if (fs.existsSync(index)) {
    try {
      const wm = (JSON.parse(fs.readFileSync(index, "utf8")) as { weight_map?: Record<string, string> }).weight_map;
      if (!wm || typeof wm !== "object") return false;
      const shards = new Set(Object.values(wm));
      return shards.size > 0 && [...shards].every((s) => typeof s === "string" && s === path.basename(s) && fs.existsSync(path.join(dir, s)));
    } catch {
      return false;
    }
  }
  if (fs.existsSync(path.join(dir, "model.safetensors"))) return true;
  return fs.existsSync(path.join(dir, "adapter_model.safetensors")) && fs.existsSync(path.join(dir, "adapter_config.json"));
}

export interface CachedSnapshot {
  dir: string;
  commit: string;
}

/**
 * Look a reference up in the cache only (no network): refs/<revision> names the
 * commit (a 40-hex revision is a commit itself); the snapshot must be complete.
 */
export function resolveCached(ref: HubRef, cacheDir = hubCacheDir()): CachedSnapshot | undefined {
  const repoDir = repoCacheDir(cacheDir, ref.repo);
  let commit: string | undefined;
  if (COMMIT.test(ref.revision)) commit = ref.revision;
  else {
    try {
      commit = fs.readFileSync(path.join(repoDir, "refs", ref.revision), "utf8").trim();
    } catch {
      return undefined;
    }
  }
  if (!commit || !COMMIT.test(commit)) return undefined;
  const dir = path.join(repoDir, "snapshots", commit);
  return snapshotComplete(dir) ? { dir, commit } : undefined;
}

export interface DownloadProgress {
  /** The file being downloaded (repo-relative). */
  file: string;
  fileBytes: number;
  fileTotal: number;
  /** Over all files still to fetch in this call. */
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export interface ResolveOptions {
  cacheDir?: string;
  /** No network: the cache or a clear error. Default: HF_HUB_OFFLINE. */
  offline?: boolean;
  /** Default: HF_TOKEN / the huggingface-cli token file. */
  token?: string;
  /** Default: HF_ENDPOINT or https://huggingface.co. */
  hubUrl?: string;
  fetch?: typeof fetch;
  onProgress?: (p: DownloadProgress) => void;
  env?: Env;
}

export interface ResolvedModel extends CachedSnapshot {
  ref: HubRef;
  /** Bytes fetched by this call (0 when everything came from the cache). */
  downloadedBytes: number;
}

function fetchAdvice(ref: HubRef): string {
  const rev = ref.explicitRevision ? ` --revision ${ref.revision}` : "";
  return `huggingface-cli download ${ref.repo}${rev} --include "*.safetensors" "*.json" "*.txt" "*.model" "*.jinja"`;
}

/**
 * Resolve a Hub reference to a complete local snapshot directory: the cache,
 * else (unless offline) a download into the cache. Every failure is one
 * MergelabError that says what to do.
 */
export async function resolveHubModel(refText: string | HubRef, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const ref = typeof refText === "string" ? parseHubId(refText) : refText;
  if (!ref) throw new MergelabError(`${String(refText)}: not a Hugging Face model id (expected org/name or org/name@revision)`);
  const env = opts.env ?? process.env;
  const cacheDir = opts.cacheDir ?? hubCacheDir(env);
  const cached = resolveCached(ref, cacheDir);
  if (cached) return { ...cached, ref, downloadedBytes: 0 };
  const id = formatHubRef(ref);
  if (opts.offline ?? isOfflineEnv(env)) {
    throw new MergelabError(
      `${id}: not in the Hugging Face cache (${cacheDir}) and downloads are off (offline). ` +
        `Fetch it first, e.g. \`${fetchAdvice(ref)}\`, or point HF_HUB_CACHE / HF_HOME at a cache that has it`,
    );
  }
  return download(ref, cacheDir, opts, env);
}

async function download(ref: HubRef, cacheDir: string, opts: ResolveOptions, env: Env): Promise<ResolvedModel> {
  const id = formatHubRef(ref);
  const hubUrl = (opts.hubUrl ?? hubEndpoint(env)).replace(/\/+$/, "");
  const accessToken = opts.token ?? hubToken(env);
  const common = { hubUrl, ...(accessToken ? { accessToken } : {}), ...(opts.fetch ? { fetch: opts.fetch } : {}) };
  const repo = { type: "model" as const, name: ref.repo };
  const fail = (e: unknown): never => {
    throw hubError(id, e, hubUrl, cacheDir, ref, !!accessToken);
  };

  let commit: string = ref.revision;
  if (!COMMIT.test(commit)) {
    const { modelInfo } = await hub();
    const info = await modelInfo({ name: ref.repo, revision: ref.revision, additionalFields: ["sha"], ...common }).catch(fail);
    const sha = (info as { sha?: unknown }).sha;
    if (typeof sha !== "string" || !COMMIT.test(sha)) throw new MergelabError(`${id}: the Hub did not say which commit '${ref.revision}' is (${hubUrl})`);
    commit = sha;
  }

  const entries: ListFileEntry[] = [];
  try {
    const { listFiles } = await hub();
    for await (const e of listFiles({ repo, revision: commit, recursive: false, ...common })) entries.push(e);
  } catch (e) {
    fail(e);
  }
  const files = entries.filter((e) => e.type === "file" && isWantedFile(e.path));
  const weights = files.filter((e) => e.path.endsWith(".safetensors"));
  if (weights.length === 0) {
    const pickles = entries.filter((e) => /\.(bin|pt|pth|ckpt|pkl)$/.test(e.path)).map((e) => e.path);
    throw new MergelabError(
      pickles.length > 0
        ? `${id}: only pickled PyTorch weights on the Hub (${pickles.join(", ")}); mergelab reads safetensors only. Convert them (e.g. the Hub's "convert to safetensors" space) and use that revision`
        : `${id}: no .safetensors weights in this repository at ${ref.revision}`,
    );
  }
  // small files first, then shards, the index last: until the index is there the snapshot is not complete
  const rank = (p: string) => (p === INDEX_FILE ? 2 : p.endsWith(".safetensors") ? 1 : 0);
  files.sort((a, b) => rank(a.path) - rank(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const repoDir = repoCacheDir(cacheDir, ref.repo);
  const snapshot = path.join(repoDir, "snapshots", commit);
  const todo = files.filter((f) => !fs.existsSync(path.join(snapshot, f.path)));
  const bytesTotal = todo.reduce((s, f) => s + (f.lfs?.size ?? f.size), 0);
  let bytesDone = 0;
  let filesDone = 0;
  fs.mkdirSync(path.join(repoDir, "blobs"), { recursive: true });
  fs.mkdirSync(snapshot, { recursive: true });

  for (const f of todo) {
    const etag = f.lfs?.oid ?? f.xetHash ?? f.oid;
    if (!etag || !/^[A-Za-z0-9]+$/.test(etag)) throw new MergelabError(`${id}: the Hub gave no usable hash (etag) for ${f.path}`);
    const size = f.lfs?.size ?? f.size;
    const blob = path.join(repoDir, "blobs", etag);
    const pointer = path.join(snapshot, f.path);
    if (!fs.existsSync(blob)) {
      const sha256 = f.lfs?.oid && /^[0-9a-f]{64}$/.test(f.lfs.oid) ? f.lfs.oid : undefined;
      await fetchBlob(id, f.path, blob, size, sha256, commit, repo, common, (n) => {
        opts.onProgress?.({ file: f.path, fileBytes: n, fileTotal: size, bytesDone: bytesDone + n, bytesTotal, filesDone, filesTotal: todo.length });
      }).catch(fail);
    }
    link(blob, pointer);
    bytesDone += size;
    filesDone++;
    opts.onProgress?.({ file: f.path, fileBytes: size, fileTotal: size, bytesDone, bytesTotal, filesDone, filesTotal: todo.length });
  }
  if (!COMMIT.test(ref.revision)) {
    const refFile = path.join(repoDir, "refs", ref.revision);
    fs.mkdirSync(path.dirname(refFile), { recursive: true });
    fs.writeFileSync(refFile, commit);
  }
  if (!snapshotComplete(snapshot)) {
    throw new MergelabError(`${id}: downloaded, but the snapshot is incomplete (the shard index names files the repository does not have)`);
  }
  return { dir: snapshot, commit, ref, downloadedBytes: bytesDone };
}

/** Stream one file to <blob>.incomplete (resuming a previous attempt), check it, rename it into place. */
async function fetchBlob(
  id: string,
  file: string,
  blob: string,
  size: number,
  sha256: string | undefined,
  commit: string,
  repo: { type: "model"; name: string },
  common: { hubUrl: string; accessToken?: string; fetch?: typeof fetch },
  progress: (bytes: number) => void,
): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  let have = 0;
  try {
    have = fs.statSync(incomplete).size;
  } catch {
    have = 0;
  }
  if (have > size) {
    fs.rmSync(incomplete, { force: true });
    have = 0;
  }
  const hash = createHash("sha256");
  if (sha256 && have > 0) await hashFile(incomplete, hash);
  if (have < size || size === 0) {
    const remote = await (await hub()).downloadFile({ repo, path: file, revision: commit, ...common });
    if (!remote) throw new MergelabError(`${id}: ${file} is listed by the Hub but could not be downloaded (not found)`);
    if (remote.size !== size) throw new MergelabError(`${id}: ${file}: the Hub reports ${remote.size} bytes, its listing ${size}`);
    const part = have > 0 ? remote.slice(have) : remote;
    const out = fs.openSync(incomplete, have > 0 ? "a" : "w");
    let got = have;
    try {
      const reader = part.stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const chunk = value as Uint8Array;
        let off = 0;
        while (off < chunk.length) off += fs.writeSync(out, chunk, off, chunk.length - off);
        if (sha256) hash.update(chunk);
        got += chunk.length;
        if (got > size) break;
        progress(got);
      }
    } catch (e) {
      throw new MergelabError(
        `${id}: downloading ${file} was interrupted at ${got} of ${size} bytes (${(e as Error).message || String(e)}); ` +
          `run again to resume — the partial file is kept as ${path.basename(incomplete)} and never used as weights`,
      );
    } finally {
      fs.closeSync(out);
    }
    if (got !== size) {
      if (got > size) fs.rmSync(incomplete, { force: true });
      throw new MergelabError(`${id}: downloading ${file} ended at ${got} of ${size} bytes; run again to resume`);
    }
  }
  if (sha256) {
    const digest = hash.digest("hex");
    if (digest !== sha256) {
      fs.rmSync(incomplete, { force: true });
      throw new MergelabError(`${id}: ${file}: downloaded bytes have sha256 ${digest}, the Hub says ${sha256}; the partial file was removed, run again`);
    }
  }
  fs.renameSync(incomplete, blob);
}

async function hashFile(file: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

/** snapshots/<commit>/<file> → ../../blobs/<etag>, relative like huggingface_hub (a copy where symlinks fail). */
function link(blob: string, pointer: string): void {
  fs.mkdirSync(path.dirname(pointer), { recursive: true });
  fs.rmSync(pointer, { force: true });
  try {
    fs.symlinkSync(path.relative(path.dirname(pointer), blob), pointer);
  } catch {
    fs.copyFileSync(blob, pointer);
  }
}

function hubError(id: string, e: unknown, hubUrl: string, cacheDir: string, ref: HubRef, hadToken: boolean): MergelabError {
  if (e instanceof MergelabError) return e;
  if (hubLib && e instanceof hubLib.HubApiError) {
    if (e.statusCode === 401 || e.statusCode === 403) {
      return new MergelabError(
        `${id}: the Hub refused access (HTTP ${e.statusCode}): the model is gated or private. ` +
          (hadToken ? "The token in HF_TOKEN has no access to it; accept its terms on the model page" : "Set HF_TOKEN to a token with access (or run `huggingface-cli login`)"),
      );
    }
    if (e.statusCode === 404) {
      return new MergelabError(`${id}: no such model or revision on the Hub (${hubUrl}); check the spelling, or HF_TOKEN if it is private`);
    }
    return new MergelabError(`${id}: the Hub answered HTTP ${e.statusCode} (${hubUrl})`);
  }
  if (e instanceof TypeError && /access token/i.test(e.message)) {
    return new MergelabError(`${id}: HF_TOKEN does not look like a Hugging Face token (${e.message})`);
  }
  const why = (e as Error)?.cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error)?.message ?? String(e);
  return new MergelabError(
    `${id}: not in the Hugging Face cache (${cacheDir}) and the Hub (${hubUrl}) cannot be reached (${why}). ` +
      `Fetch it where there is network, e.g. \`${fetchAdvice(ref)}\`, then copy the cache or set HF_HUB_CACHE`,
  );
}

export interface RemoteTensor {
  name: string;
  dtype: string;
  shape: number[];
}

export interface RemoteHeaders {
  ref: HubRef;
  /** Every tensor of every shard, from the safetensors headers. */
  tensors: RemoteTensor[];
  /** The repository's config.json, when it has one. */
  config?: Record<string, unknown>;
}

/**
 * A model's tensor names, dtypes and shapes without downloading it: ranged reads
 * of each shard's header (and the index) through @huggingface/hub's
 * parseSafetensorsMetadata, plus config.json. What `check` uses for an id that is
 * not cached; the cache wins when it has the model.
 */
export async function fetchHubHeaders(refText: string | HubRef, opts: ResolveOptions = {}): Promise<RemoteHeaders> {
  const ref = typeof refText === "string" ? parseHubId(refText) : refText;
  if (!ref) throw new MergelabError(`${String(refText)}: not a Hugging Face model id (expected org/name or org/name@revision)`);
  const env = opts.env ?? process.env;
  const cacheDir = opts.cacheDir ?? hubCacheDir(env);
  const id = formatHubRef(ref);
  if (opts.offline ?? isOfflineEnv(env)) {
    throw new MergelabError(`${id}: not in the Hugging Face cache (${cacheDir}) and downloads are off (offline). Fetch it first, e.g. \`${fetchAdvice(ref)}\``);
  }
  const hubUrl = (opts.hubUrl ?? hubEndpoint(env)).replace(/\/+$/, "");
  const accessToken = opts.token ?? hubToken(env);
  const common = { hubUrl, revision: ref.revision, ...(accessToken ? { accessToken } : {}), ...(opts.fetch ? { fetch: opts.fetch } : {}) };
  const repo = { type: "model" as const, name: ref.repo };
  try {
    const { parseSafetensorsMetadata, downloadFile } = await hub();
    const parsed = await parseSafetensorsMetadata({ repo, ...common });
    const headers = parsed.sharded ? Object.values(parsed.headers) : [parsed.header];
    const tensors: RemoteTensor[] = [];
    for (const h of headers) {
      for (const [name, t] of Object.entries(h)) {
        if (name === "__metadata__") continue;
        const info = t as { dtype: string; shape: number[] };
        tensors.push({ name, dtype: info.dtype, shape: [...info.shape] });
      }
    }
    let config: Record<string, unknown> | undefined;
    const blob = await downloadFile({ repo, path: "config.json", ...common });
    if (blob) config = JSON.parse(await blob.text()) as Record<string, unknown>;
    return { ref, tensors, config };
  } catch (e) {
    if (e instanceof Error && /does not seem to contain safetensors/.test(e.message)) {
      throw new MergelabError(`${id}: no model.safetensors or model.safetensors.index.json in this repository at ${ref.revision}`);
    }
    throw hubError(id, e, hubUrl, cacheDir, ref, !!accessToken);
  }
}
