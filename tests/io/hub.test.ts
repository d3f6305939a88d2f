// Hub ids: the Hugging Face cache layout (hand-built, with refs and two snapshots) and downloads from a local
// HTTP server that answers in the Hub's URL layout (the network is not reachable here). The cache written by a
// download is read back with @huggingface/hub's own scanCacheDir, a reader we did not write.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import os from "node:os";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanCacheDir } from "@huggingface/hub";
import { openCheckpoint } from "../../io/index.js";
import {
  fetchHubHeaders, hubCacheDir, isHubReference, isOfflineEnv, isWantedFile, parseHubId, resolveCached, resolveHubModel, hubToken, type DownloadProgress,
} from "../../io/hub.js";
import { MergelabError } from "../../core/errors.js";
import { fixtures, tempDir } from "../helpers.js";

const C1 = "1111111111111111111111111111111111111111";
const C2 = "2222222222222222222222222222222222222222";
const C3 = "3333333333333333333333333333333333333333";
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const gitOid = (b: Buffer) => createHash("sha1").update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b])).digest("hex");
const readDir = (dir: string) => Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));

/** A snapshot as huggingface_hub lays it out: blobs named by etag, relative symlinks in snapshots/<commit>. */
function addSnapshot(repoDir: string, commit: string, files: Record<string, Buffer>): void {
  for (const [name, bytes] of Object.entries(files)) {
    const etag = name.endsWith(".safetensors") ? sha256(bytes) : gitOid(bytes);
    fs.mkdirSync(path.join(repoDir, "blobs"), { recursive: true });
    fs.writeFileSync(path.join(repoDir, "blobs", etag), bytes);
    const pointer = path.join(repoDir, "snapshots", commit, name);
    fs.mkdirSync(path.dirname(pointer), { recursive: true });
    fs.symlinkSync(path.join("..", "..", "blobs", etag), pointer);
  }
}

function addRef(repoDir: string, ref: string, commit: string): void {
  fs.mkdirSync(path.dirname(path.join(repoDir, "refs", ref)), { recursive: true });
  fs.writeFileSync(path.join(repoDir, "refs", ref), commit);
}

describe("Hub ids", () => {
  it("parses org/name and org/name@revision, and nothing path-like", () => {
    expect(parseHubId("Qwen/Qwen2-0.5B")).toEqual({ repo: "Qwen/Qwen2-0.5B", revision: "main", explicitRevision: false });
    expect(parseHubId("mistralai/Mistral-7B-Instruct-v0.2@v1.0")).toEqual({ repo: "mistralai/Mistral-7B-Instruct-v0.2", revision: "v1.0", explicitRevision: true });
    expect(parseHubId(`a/b@${C1}`)?.revision).toBe(C1);
    expect(parseHubId("a/b@refs/pr/1")?.revision).toBe("refs/pr/1");
    for (const bad of ["./a/b", "/abs/path", "a/b/c", "model", "a/b.safetensors", "../x", "a/b@../../etc", "a/b@", "a/b@x//y"]) {
      expect(parseHubId(bad), bad).toBeUndefined();
    }
  });

  it("an existing local path wins over a Hub id of the same spelling (and so does an existing first folder)", () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, "models", "a"), { recursive: true });
    expect(isHubReference("models/a", dir)).toBe(false);
    expect(isHubReference("models/b", dir)).toBe(false); // a typo in a local path, not the Hub repo models/b
    expect(isHubReference("org/b", dir)).toBe(true);
    expect(isHubReference("org/b@v2", dir)).toBe(true);
  });

  it("finds the cache like huggingface_hub: HF_HUB_CACHE, then HF_HOME/hub, then XDG_CACHE_HOME, then ~/.cache", () => {
    expect(hubCacheDir({ HF_HUB_CACHE: "/x/hub", HF_HOME: "/y" })).toBe("/x/hub");
    expect(hubCacheDir({ HF_HOME: "/y" })).toBe(path.join("/y", "hub"));
    expect(hubCacheDir({ XDG_CACHE_HOME: "/z" })).toBe(path.join("/z", "huggingface", "hub"));
    expect(hubCacheDir({})).toBe(path.join(os.homedir(), ".cache", "huggingface", "hub"));
    expect(isOfflineEnv({ HF_HUB_OFFLINE: "1" })).toBe(true);
    expect(isOfflineEnv({ HF_HUB_OFFLINE: "0" })).toBe(false);
    expect(isOfflineEnv({})).toBe(false);
  });

  it("HF_TOKEN, else the token file huggingface-cli login writes", () => {
    const home = tempDir();
    expect(hubToken({ HF_HOME: home })).toBeUndefined();
    fs.writeFileSync(path.join(home, "token"), "hf_fromfile\n");
    expect(hubToken({ HF_HOME: home })).toBe("hf_fromfile");
    expect(hubToken({ HF_HOME: home, HF_TOKEN: "hf_fromenv" })).toBe("hf_fromenv");
  });

  it("fetches weights, index and configs, never pickles or subfolders", () => {
    for (const f of ["model.safetensors", "model-00001-of-00002.safetensors", "model.safetensors.index.json", "config.json", "generation_config.json",
      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.txt", "merges.txt", "chat_template.jinja", "README.md",
      "adapter_config.json", "adapter_model.safetensors"]) expect(isWantedFile(f), f).toBe(true);
    for (const f of ["pytorch_model.bin", "model.pt", "consolidated.00.pth", "x.ckpt", "a.pkl", "model.gguf", "onnx/model.onnx", "original/params.json",
      "flax_model.msgpack", "tf_model.h5", ".gitattributes"]) expect(isWantedFile(f), f).toBe(false);
  });
});

describe("a hand-built Hugging Face cache (refs, two snapshots)", () => {
  let cache: string;
  const repoDir = () => path.join(cache, "models--org--tiny");
  beforeAll(() => {
    cache = tempDir("mergelab-hfcache-");
    // v1: the single-file f16 model; main: the 3-shard bf16 model; broken: an index whose last shard never arrived
    addSnapshot(repoDir(), C1, readDir(path.join(fixtures, "tiny-llama-f16")));
    addSnapshot(repoDir(), C2, readDir(path.join(fixtures, "tiny-llama-bf16-sharded")));
    const partial = readDir(path.join(fixtures, "tiny-llama-bf16-sharded"));
    delete partial["model-00003-of-00003.safetensors"];
    addSnapshot(repoDir(), C3, partial);
    addRef(repoDir(), "main", C2);
    addRef(repoDir(), "v1", C1);
    addRef(repoDir(), "refs/pr/7", C1);
    addRef(repoDir(), "broken", C3);
  });

  it("is a valid cache for @huggingface/hub's own scanner (refs map to snapshots)", async () => {
    const scan = await scanCacheDir(cache);
    expect(scan.warnings).toEqual([]);
    const repo = scan.repos.find((r) => r.id.name === "org/tiny")!;
    const refs = Object.fromEntries(repo.revisions.map((r) => [r.commitOid, [...r.refs].sort()]));
    // (its scanner skips nested refs such as refs/pr/7, which huggingface_hub's Python scanner reads)
    expect(refs).toEqual({ [C1]: ["v1"], [C2]: ["main"], [C3]: ["broken"] });
  });

  it("resolves main, a tag, a PR ref and a commit to their snapshots, offline", async () => {
    const at = async (id: string) => (await resolveHubModel(id, { cacheDir: cache, offline: true })).dir;
    expect(await at("org/tiny")).toBe(path.join(repoDir(), "snapshots", C2));
    expect(await at("org/tiny@v1")).toBe(path.join(repoDir(), "snapshots", C1));
    expect(await at("org/tiny@refs/pr/7")).toBe(path.join(repoDir(), "snapshots", C1));
    expect(await at(`org/tiny@${C2}`)).toBe(path.join(repoDir(), "snapshots", C2));
  });

  it("the resolved snapshots open as the checkpoints they hold (through the blob links)", async () => {
    const main = openCheckpoint((await resolveHubModel("org/tiny", { cacheDir: cache, offline: true })).dir);
    const ref = openCheckpoint(path.join(fixtures, "tiny-llama-bf16-sharded"));
    expect(main.files.length).toBe(3);
    expect(main.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(ref.tensors.map((t) => [t.name, t.dtype, t.shape]));
    const name = main.tensors[0].name;
    expect(main.readF32(name, 0, main.tensors[0].numel)).toEqual(ref.readF32(name, 0, ref.tensors[0].numel));
    const v1 = openCheckpoint((await resolveHubModel("org/tiny@v1", { cacheDir: cache, offline: true })).dir);
    expect(new Set(v1.tensors.map((t) => t.dtype))).toEqual(new Set(["F16"]));
  });

  it("an incomplete snapshot (a shard missing) does not count as cached", async () => {
    expect(resolveCached({ repo: "org/tiny", revision: "broken", explicitRevision: true }, cache)).toBeUndefined();
    await expect(resolveHubModel("org/tiny@broken", { cacheDir: cache, offline: true })).rejects.toThrow(/not in the Hugging Face cache/);
  });

  it("offline and not cached: one MergelabError that says how to fetch it", async () => {
    const err = await resolveHubModel("org/absent@dev", { cacheDir: cache, env: { HF_HUB_OFFLINE: "1" } }).catch((e) => e);
    expect(err).toBeInstanceOf(MergelabError);
    expect(err.message).toContain("org/absent@dev: not in the Hugging Face cache");
    expect(err.message).toContain("huggingface-cli download org/absent --revision dev");
  });

  it("uses HF_HOME/hub when no cacheDir is given", async () => {
    const home = tempDir();
    fs.symlinkSync(cache, path.join(home, "hub"));
    const r = await resolveHubModel("org/tiny@v1", { env: { HF_HOME: home, HF_HUB_OFFLINE: "1" } });
    expect(r.dir).toBe(path.join(home, "hub", "models--org--tiny", "snapshots", C1));
  });
});

// ---------------------------------------------------------------- a local server in the Hub's URL layout

interface RepoFiles {
  commit: string;
  files: Record<string, Buffer>;
  gated?: string; // the token it requires
}

interface FakeHub {
  url: string;
  requests: Array<{ method: string; url: string; range?: string; auth?: string }>;
  /** Cut the next download of this file after this many body bytes. */
  cut: Map<string, number>;
  close(): Promise<void>;
}

const isLfs = (f: string) => f.endsWith(".safetensors") || f.endsWith(".bin");

async function fakeHub(repos: Record<string, RepoFiles>): Promise<FakeHub> {
  const requests: FakeHub["requests"] = [];
  const cut = new Map<string, number>();
  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url!, "http://x");
    requests.push({ method: req.method!, url: decodeURIComponent(u.pathname), range: req.headers.range, auth: req.headers.authorization });
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree)\/([^/?]+)$/.exec(u.pathname);
    const repoOf = (name: string) => {
      const r = repos[name];
      if (!r) return undefined;
      if (r.gated && req.headers.authorization !== `Bearer ${r.gated}`) return "denied" as const;
      return r;
    };
    if (m) {
      const r = repoOf(m[1]);
      const rev = decodeURIComponent(m[3]);
      if (r === "denied") return json(res, 401, { error: "Access to model is restricted." });
      if (!r || (rev !== "main" && rev !== r.commit)) return json(res, 404, { error: "Repository not found" }, { "X-Error-Code": "RepoNotFound" });
      if (m[2] === "revision") return json(res, 200, { _id: "x", id: m[1], sha: r.commit, siblings: Object.keys(r.files).map((rfilename) => ({ rfilename })) });
      return json(res, 200, Object.entries(r.files).map(([p, b]) => ({
        type: "file", path: p, size: isLfs(p) ? 135 : b.length, oid: gitOid(b),
        ...(isLfs(p) ? { lfs: { oid: sha256(b), size: b.length, pointerSize: 135 } } : {}),
      })));
    }
    // /resolve/ serves the file; /raw/ (the git view; fileExists sends HEAD there) is answered the same way here
    m = /^\/([^/]+\/[^/]+)\/(?:resolve|raw)\/([^/]+)\/(.+)$/.exec(u.pathname);
    if (m) {
      const r = repoOf(m[1]);
      if (r === "denied") return json(res, 401, { error: "Access to model is restricted." });
      const file = m[3];
      const body = r && (m[2] === r.commit || m[2] === "main") ? r.files[file] : undefined;
      if (!r || !body) return json(res, 404, { error: "Entry not found" }, { "X-Error-Code": "EntryNotFound" });
      const headers = { ETag: `"${isLfs(file) ? sha256(body) : gitOid(body)}"`, "X-Repo-Commit": r.commit, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream" };
      const rm = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      let start = 0;
      let end = body.length - 1;
      if (rm) {
        start = Number(rm[1]);
        end = rm[2] ? Math.min(Number(rm[2]), body.length - 1) : body.length - 1;
        res.writeHead(206, { ...headers, "Content-Range": `bytes ${start}-${end}/${body.length}`, "Content-Length": String(end - start + 1) });
      } else {
        res.writeHead(200, { ...headers, "Content-Length": String(body.length) });
      }
      const part = body.subarray(start, end + 1);
      const limit = cut.get(file);
      if (limit !== undefined && part.length > 1) {
        cut.delete(file);
        res.write(part.subarray(0, limit), () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      res.end(part);
      return;
    }
    json(res, 404, { error: "not found" });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cut,
    close: () => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}

describe("downloads from a local server in the Hub's URL layout", () => {
  let hub: FakeHub;
  const sharded = readDir(path.join(fixtures, "tiny-llama-bf16-sharded"));
  const withPickle = { ...readDir(path.join(fixtures, "tiny-llama-f16")), "pytorch_model.bin": Buffer.from("not really a pickle"), "README.md": Buffer.from("# tiny\n") };
  beforeAll(async () => {
    hub = await fakeHub({
      "org/sharded": { commit: C2, files: sharded },
      "org/single": { commit: C1, files: withPickle },
      "org/gated": { commit: C3, files: readDir(path.join(fixtures, "tiny-llama-f16")), gated: "hf_secret" },
      "org/onlypickles": { commit: C1, files: { "pytorch_model.bin": Buffer.from("x"), "config.json": Buffer.from("{}") } },
    });
  });
  afterAll(() => hub.close());

  it("downloads into the cache layout huggingface_hub uses, then serves it from the cache without the network", async () => {
    const cache = tempDir("mergelab-hfdl-");
    const progress: DownloadProgress[] = [];
    const r = await resolveHubModel("org/sharded", { cacheDir: cache, hubUrl: hub.url, env: {}, onProgress: (p) => progress.push({ ...p }) });
    const repoDir = path.join(cache, "models--org--sharded");
    expect(r.commit).toBe(C2);
    expect(r.dir).toBe(path.join(repoDir, "snapshots", C2));
    expect(fs.readFileSync(path.join(repoDir, "refs", "main"), "utf8")).toBe(C2);
    // every file, byte for byte, linked relatively to a blob named by its etag (sha256 for LFS files)
    for (const [f, bytes] of Object.entries(sharded)) {
      const p = path.join(r.dir, f);
      expect(fs.readFileSync(p).equals(bytes), f).toBe(true);
      expect(fs.readlinkSync(p)).toBe(path.join("..", "..", "blobs", f.endsWith(".safetensors") ? sha256(bytes) : gitOid(bytes)));
    }
    expect(fs.readdirSync(path.join(repoDir, "blobs")).filter((b) => b.endsWith(".incomplete"))).toEqual([]);
    // @huggingface/hub's own cache scanner agrees
    const scan = await scanCacheDir(cache);
    expect(scan.warnings).toEqual([]);
    expect(scan.repos[0].id.name).toBe("org/sharded");
    expect(scan.repos[0].revisions.map((v) => [v.commitOid, v.refs, v.files.map((f) => path.basename(f.path)).sort()]))
      .toEqual([[C2, ["main"], Object.keys(sharded).sort()]]);
    // progress: monotonic, ends at the total of all files
    const total = Object.values(sharded).reduce((s, b) => s + b.length, 0);
    expect(progress.at(-1)).toMatchObject({ bytesDone: total, bytesTotal: total, filesDone: 6, filesTotal: 6 });
    for (let i = 1; i < progress.length; i++) expect(progress[i].bytesDone).toBeGreaterThanOrEqual(progress[i - 1].bytesDone);
    // the index is fetched last: until then the snapshot is not complete
    const resolves = hub.requests.filter((q) => q.url.startsWith("/org/sharded/resolve/") && !q.range).map((q) => path.basename(q.url));
    expect(resolves.at(-1)).toBe("model.safetensors.index.json");
    // and the checkpoint opens
    expect(openCheckpoint(r.dir).files.length).toBe(3);
    // a second resolve is served from the cache: no request at all
    const before = hub.requests.length;
    const again = await resolveHubModel("org/sharded", { cacheDir: cache, hubUrl: hub.url, env: {} });
    expect(again.dir).toBe(r.dir);
    expect(again.downloadedBytes).toBe(0);
    expect(hub.requests.length).toBe(before);
  });

  it("never downloads pickles (or anything but safetensors and small config/tokenizer files)", async () => {
    const cache = tempDir("mergelab-hfdl-");
    const r = await resolveHubModel("org/single", { cacheDir: cache, hubUrl: hub.url, env: {} });
    expect(fs.readdirSync(r.dir).sort()).toEqual(["README.md", "config.json", "model.safetensors"]);
    expect(hub.requests.some((q) => q.url.endsWith(".bin"))).toBe(false);
    const err = await resolveHubModel("org/onlypickles", { cacheDir: cache, hubUrl: hub.url, env: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(MergelabError);
    expect(err.message).toMatch(/only pickled PyTorch weights on the Hub \(pytorch_model\.bin\)/);
    expect(hub.requests.some((q) => q.url.endsWith(".bin"))).toBe(false);
  });

  it("an interrupted download never looks complete, and the next run resumes it with a Range request", async () => {
    const cache = tempDir("mergelab-hfdl-");
    const shard = "model-00001-of-00003.safetensors";
    hub.cut.set(shard, 500);
    const err = await resolveHubModel("org/sharded", { cacheDir: cache, hubUrl: hub.url, env: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(MergelabError);
    expect(err.message).toMatch(/downloading model-00001-of-00003\.safetensors was interrupted at 500 of 1336 bytes/);
    const repoDir = path.join(cache, "models--org--sharded");
    const snap = path.join(repoDir, "snapshots", C2);
    // nothing claims to be complete: no ref, no shard link, no index, only the partial blob
    expect(fs.existsSync(path.join(repoDir, "refs", "main"))).toBe(false);
    expect(fs.existsSync(path.join(snap, shard))).toBe(false);
    expect(fs.existsSync(path.join(snap, "model.safetensors.index.json"))).toBe(false);
    const partial = path.join(repoDir, "blobs", `${sha256(sharded[shard])}.incomplete`);
    expect(fs.statSync(partial).size).toBe(500);
    expect(resolveCached({ repo: "org/sharded", revision: C2, explicitRevision: true }, cache)).toBeUndefined();
    await expect(resolveHubModel("org/sharded", { cacheDir: cache, offline: true, env: {} })).rejects.toThrow(/huggingface-cli download org\/sharded/);

    const mark = hub.requests.length;
    const r = await resolveHubModel("org/sharded", { cacheDir: cache, hubUrl: hub.url, env: {} });
    const ranges = hub.requests.slice(mark).filter((q) => q.url.endsWith(shard) && q.range && q.range !== "bytes=0-0").map((q) => q.range);
    expect(ranges).toEqual([`bytes=500-${sharded[shard].length - 1}`]);
    expect(fs.readFileSync(path.join(r.dir, shard)).equals(sharded[shard])).toBe(true);
    expect(fs.existsSync(partial)).toBe(false);
    expect(openCheckpoint(r.dir).tensors.length).toBe(openCheckpoint(path.join(fixtures, "tiny-llama-bf16-sharded")).tensors.length);
  });

  it("a corrupted partial file is caught by the sha256 check, removed, and never linked", async () => {
    const cache = tempDir("mergelab-hfdl-");
    const shard = "model-00002-of-00003.safetensors";
    const blobs = path.join(cache, "models--org--sharded", "blobs");
    fs.mkdirSync(blobs, { recursive: true });
    fs.writeFileSync(path.join(blobs, `${sha256(sharded[shard])}.incomplete`), Buffer.alloc(100, 7)); // wrong bytes
    const err = await resolveHubModel("org/sharded", { cacheDir: cache, hubUrl: hub.url, env: {} }).catch((e) => e);
    expect(err.message).toMatch(/model-00002-of-00003\.safetensors: downloaded bytes have sha256 [0-9a-f]{64}, the Hub says/);
    expect(fs.existsSync(path.join(cache, "models--org--sharded", "snapshots", C2, shard))).toBe(false);
    const r = await resolveHubModel("org/sharded", { cacheDir: cache, hubUrl: hub.url, env: {} });
    expect(fs.readFileSync(path.join(r.dir, shard)).equals(sharded[shard])).toBe(true);
  });

  it("HF_TOKEN is sent; a gated model without it says to set HF_TOKEN", async () => {
    const cache = tempDir("mergelab-hfdl-");
    const err = await resolveHubModel("org/gated", { cacheDir: cache, hubUrl: hub.url, env: { HF_HOME: tempDir() } }).catch((e) => e);
    expect(err).toBeInstanceOf(MergelabError);
    expect(err.message).toMatch(/org\/gated: the Hub refused access \(HTTP 401\).*Set HF_TOKEN/);
    const r = await resolveHubModel("org/gated", { cacheDir: cache, hubUrl: hub.url, env: { HF_TOKEN: "hf_secret" } });
    expect(r.commit).toBe(C3);
    expect(hub.requests.filter((q) => q.url.includes("org/gated/resolve")).every((q) => q.auth === "Bearer hf_secret")).toBe(true);
  });

  it("HF_ENDPOINT points downloads at another server; an unknown model is a clear error", async () => {
    const cache = tempDir("mergelab-hfdl-");
    const r = await resolveHubModel("org/single", { cacheDir: cache, env: { HF_ENDPOINT: hub.url } });
    expect(r.commit).toBe(C1);
    const err = await resolveHubModel("org/nope", { cacheDir: cache, env: { HF_ENDPOINT: hub.url } }).catch((e) => e);
    expect(err.message).toMatch(/org\/nope: no such model or revision on the Hub/);
  });

  it("an unreachable Hub, not cached: one error naming the cache and the huggingface-cli command", async () => {
    const dead = http.createServer();
    await new Promise<void>((ok) => dead.listen(0, "127.0.0.1", ok));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((ok) => dead.close(() => ok()));
    const cache = tempDir("mergelab-hfdl-");
    const err = await resolveHubModel("org/x", { cacheDir: cache, hubUrl: `http://127.0.0.1:${port}`, env: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(MergelabError);
    expect(err.message).toMatch(/org\/x: not in the Hugging Face cache .* cannot be reached .*huggingface-cli download org\/x/);
  });

  it("check's view of an uncached model: tensor headers by ranged reads and config.json, no weights downloaded", async () => {
    const mark = hub.requests.length;
    const h = await fetchHubHeaders("org/sharded", { hubUrl: hub.url, env: {}, cacheDir: tempDir() });
    const ref = openCheckpoint(path.join(fixtures, "tiny-llama-bf16-sharded"));
    expect(h.tensors.map((t) => [t.name, t.dtype, t.shape]).sort()).toEqual(ref.tensors.map((t) => [t.name, t.dtype, [...t.shape]]).sort());
    expect(h.config).toEqual(JSON.parse(sharded["config.json"].toString()));
    // every read of a shard was a byte range within its header
    const shardReads = hub.requests.slice(mark).filter((q) => q.url.includes("/resolve/") && q.url.endsWith("-of-00003.safetensors") && q.range);
    expect(shardReads.length).toBeGreaterThan(0);
    for (const q of shardReads) {
      const [, from, to] = /bytes=(\d+)-(\d+)/.exec(q.range!)!.map(Number);
      const file = sharded[path.basename(q.url)];
      expect(to).toBeLessThan(8 + Number(file.readBigUInt64LE(0)));
      expect(from).toBeGreaterThanOrEqual(0);
    }
    // no GET of a whole weights file (HEADs only ask whether model.safetensors exists)
    expect(hub.requests.slice(mark).filter((q) => q.url.endsWith(".safetensors") && !q.range).map((q) => q.method)).toEqual(["HEAD"]);
  });
});
