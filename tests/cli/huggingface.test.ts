// Hugging Face models through the CLI: Hub ids from a hand-built cache (offline), the offline error, check of an
// uncached id by ranged header reads and a run that downloads it from a local server in the Hub's URL layout,
// LoRA adapters in a script, and what the output says about its inputs (ids, never the cache's absolute paths).
import fs from "node:fs";
import path from "node:path";
import http from "node:http";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openCheckpoint } from "../../io/index.js";
import { fixtures, repoRoot, runCli, tempDir } from "../helpers.js";
import { build, denseBA } from "../io/peft-files.js";

const C1 = "1111111111111111111111111111111111111111";
const C2 = "2222222222222222222222222222222222222222";
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const readDir = (dir: string) => Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]));

function addSnapshot(repoDir: string, commit: string, files: Record<string, Buffer>): void {
  for (const [name, bytes] of Object.entries(files)) {
    const etag = sha256(bytes);
    fs.mkdirSync(path.join(repoDir, "blobs"), { recursive: true });
    fs.writeFileSync(path.join(repoDir, "blobs", etag), bytes);
    const pointer = path.join(repoDir, "snapshots", commit, name);
    fs.mkdirSync(path.dirname(pointer), { recursive: true });
    fs.symlinkSync(path.join("..", "..", "blobs", etag), pointer);
  }
}

/** The CLI without blocking this process (the local Hub server must keep answering). */
function runCliAsync(args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, "bin/mergelab.js"), ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("Hub ids in scripts (a hand-built cache)", () => {
  let home: string;
  let work: string;
  beforeAll(() => {
    home = tempDir("mergelab-hfhome-");
    const repo = path.join(home, "hub", "models--org--tiny");
    addSnapshot(repo, C1, readDir(path.join(fixtures, "tiny-llama-f16")));
    addSnapshot(repo, C2, readDir(path.join(fixtures, "tiny-llama-bf16-sharded")));
    fs.mkdirSync(path.join(repo, "refs"));
    fs.writeFileSync(path.join(repo, "refs", "main"), C2);
    fs.writeFileSync(path.join(repo, "refs", "v1"), C1);
    work = tempDir();
  });

  it("load(\"org/name\") and @revision resolve from the cache offline; card and provenance name the ids", () => {
    fs.writeFileSync(path.join(work, "m.mlab"), 'a = load("org/tiny")\nb = load("org/tiny@v1")\nsave(average([a, b]), "out")\n');
    const r = runCli(["run", "m.mlab", "--quiet", "--offline"], { cwd: work, env: { HF_HOME: home } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const card = fs.readFileSync(path.join(work, "out", "README.md"), "utf8");
    expect(card).toMatch(/^---\nbase_model:\n- org\/tiny\n- org\/tiny@v1\nlibrary_name: transformers\ntags:\n- merge\n- mergelab\n---\n/);
    expect(card).not.toContain(home);
    const meta = openCheckpoint(path.join(work, "out")).metadata;
    expect(JSON.parse(meta.mergelab_inputs).map((i: { path: string }) => i.path)).toEqual(["org/tiny", "org/tiny@v1"]);
    // the average of the two snapshots equals the average of the two fixtures
    const out = openCheckpoint(path.join(work, "out"));
    const x = openCheckpoint(path.join(fixtures, "tiny-llama-bf16-sharded"));
    const y = openCheckpoint(path.join(fixtures, "tiny-llama-f16"));
    const name = "model.layers.1.mlp.up_proj.weight";
    const n = out.tensor(name).numel;
    const got = out.readF32(name, 0, n);
    const xs = x.readF32(name, 0, n);
    const ys = y.readF32(name, 0, n);
    for (let i = 0; i < n; i++) expect(Math.abs(got[i] - (xs[i] + ys[i]) / 2)).toBeLessThanOrEqual(Math.abs(xs[i] + ys[i]) * 2 ** -8 + 1e-30);
  });

  it("offline and not cached: one error, at the load, saying how to fetch it", () => {
    fs.writeFileSync(path.join(work, "missing.mlab"), 'a = load("org/absent@dev")\nsave(a, "out2")\n');
    const r = runCli(["check", "missing.mlab"], { cwd: work, env: { HF_HOME: home, HF_HUB_OFFLINE: "1" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("missing.mlab:1:10: error: org/absent@dev: not in the Hugging Face cache");
    expect(r.stderr).toContain("huggingface-cli download org/absent --revision dev");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe("a Hub id downloaded from a local server in the Hub's URL layout", () => {
  let server: http.Server;
  let url: string;
  const files = readDir(path.join(fixtures, "tiny-llama-bf16-sharded"));
  const requests: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const u = new URL(req.url!, "http://x");
      requests.push(`${req.method} ${u.pathname} ${req.headers.range ?? ""}`);
      const json = (status: number, body: unknown, h: Record<string, string> = {}) => {
        res.writeHead(status, { "Content-Type": "application/json", ...h });
        res.end(JSON.stringify(body));
      };
      if (u.pathname === "/api/models/org/remote/revision/main") return json(200, { _id: "x", id: "org/remote", sha: C2 });
      if (u.pathname === `/api/models/org/remote/tree/${C2}`) {
        return json(200, Object.entries(files).map(([p, b]) => ({ type: "file", path: p, size: b.length, oid: sha256(b).slice(0, 40), lfs: p.endsWith(".safetensors") ? { oid: sha256(b), size: b.length, pointerSize: 130 } : undefined })));
      }
      const m = /^\/org\/remote\/(?:resolve|raw)\/([^/]+)\/(.+)$/.exec(u.pathname);
      const body = m ? files[m[2]] : undefined;
      if (!body) return json(404, { error: "Entry not found" }, { "X-Error-Code": "EntryNotFound" });
      const h = { ETag: `"${sha256(body)}"`, "X-Repo-Commit": C2, "Accept-Ranges": "bytes" };
      const rm = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      if (rm) {
        const a = Number(rm[1]);
        const b = rm[2] ? Math.min(Number(rm[2]), body.length - 1) : body.length - 1;
        res.writeHead(206, { ...h, "Content-Range": `bytes ${a}-${b}/${body.length}`, "Content-Length": String(b - a + 1) });
        return res.end(body.subarray(a, b + 1));
      }
      res.writeHead(200, { ...h, "Content-Length": String(body.length) });
      res.end(body);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }));

  it("check reads only headers (nothing cached); run downloads into the cache with progress, then runs", async () => {
    const home = tempDir("mergelab-hfhome-");
    const work = tempDir();
    fs.writeFileSync(path.join(work, "r.mlab"), 'm = load("org/remote")\nsave(m * 1, "out", dtype="f32")\n');
    const env = { HF_HOME: home, HF_ENDPOINT: url };
    const checked = await runCliAsync(["check", "r.mlab"], { cwd: work, env });
    expect(checked.stderr).toBe("");
    expect(checked.code).toBe(0);
    expect(fs.existsSync(path.join(home, "hub", "models--org--remote", "blobs"))).toBe(false);
    expect(requests.some((q) => /^GET .*safetensors $/.test(q))).toBe(false); // only ranged reads of weights
    const ran = await runCliAsync(["run", "r.mlab"], { cwd: work, env });
    expect(ran.code).toBe(0);
    expect(ran.stderr).toMatch(/downloading org\/remote: .* of .*6\/6 files/);
    const snap = path.join(home, "hub", "models--org--remote", "snapshots", C2);
    expect(fs.readFileSync(path.join(home, "hub", "models--org--remote", "refs", "main"), "utf8")).toBe(C2);
    const out = openCheckpoint(path.join(work, "out"));
    const ref = openCheckpoint(snap);
    for (const t of ref.tensors) expect(out.readF32(t.name, 0, t.numel), t.name).toEqual(ref.readF32(t.name, 0, t.numel));
    expect(fs.readFileSync(path.join(work, "out", "README.md"), "utf8")).toContain("base_model:\n- org/remote\n");
  });
});

describe("LoRA adapters in a script", () => {
  it("load(adapter, base=...) saves base + (α/r)·B·A; the card lists the base and the adapter as written", () => {
    const dir = tempDir();
    const { base, adapter } = build(dir, {});
    fs.writeFileSync(path.join(dir, "l.mlab"), 'b = load("base")\nm = load("adapter", base=b)\nsave(m, "out", dtype="f32")\n');
    const r = runCli(["run", "l.mlab", "--quiet"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = openCheckpoint(path.join(dir, "out"));
    const q = "model.layers.0.self_attn.q_proj.weight";
    const ref = denseBA(adapter["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"], adapter["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"], false);
    const got = out.readF32(q, 0, out.tensor(q).numel);
    got.forEach((v, i) => expect(Math.abs(v - (base[q].data[i] + 8 * ref[i]))).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
    const card = fs.readFileSync(path.join(dir, "out", "README.md"), "utf8");
    expect(card).toMatch(/base_model:\n- base\n- adapter\n/);
  });

  it("an adapter on the wrong base is refused at the load, naming the tensor", () => {
    const dir = tempDir();
    build(dir, {});
    fs.writeFileSync(path.join(dir, "bad.mlab"), `b = load(${JSON.stringify(path.join(fixtures, "tiny-llama-f16"))})\nm = load("adapter", base=b)\n`);
    const r = runCli(["check", "bad.mlab"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.mlab:2:5: error: adapter \(LoRA adapter\) on .*tiny-llama-f16: 'model\.embed_tokens\.weight' is \[32, 8\] in the base, the adapter's delta is \[11, 6\]\n/);
  });

  it("Llama and Mistral checkpoints of equal shapes: refused at the merge, unless --allow-crimes", () => {
    const dir = tempDir();
    for (const [name, type] of [["llama", "llama"], ["mistral", "mistral"]]) {
      fs.cpSync(path.join(fixtures, "tiny-llama-f16"), path.join(dir, name), { recursive: true });
      fs.writeFileSync(path.join(dir, name, "config.json"), JSON.stringify({ model_type: type, hidden_size: 8, num_hidden_layers: 2 }));
    }
    fs.writeFileSync(path.join(dir, "x.mlab"), 'a = load("llama")\nb = load("mistral")\nm = average([a, b])\n');
    const r = runCli(["check", "x.mlab"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^x\.mlab:3:\d+: error: architecture mismatch: llama has model_type = llama but mistral has mistral; refusing to merge different architectures/);
    expect(runCli(["check", "x.mlab", "--allow-crimes"], { cwd: dir }).code).toBe(0);
  });

  it("mergekit configs: model+lora, run and translated to load(adapter, base=load(model))", () => {
    const dir = tempDir();
    const { base, adapter } = build(dir, {});
    fs.writeFileSync(path.join(dir, "c.yml"), "models:\n  - model: base\n    parameters: {weight: 0.5}\n  - model: base+adapter\n    parameters: {weight: 0.5}\nmerge_method: linear\ndtype: float32\n");
    const script = runCli(["from-mergekit", "c.yml", "out"], { cwd: dir });
    expect(script.code).toBe(0);
    expect(script.stdout).toContain('load("adapter", base=load("base"))');
    const r = runCli(["run", "c.yml", "out", "--quiet"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = openCheckpoint(path.join(dir, "out"));
    const q = "model.layers.0.self_attn.q_proj.weight";
    const ref = denseBA(adapter["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"], adapter["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"], false);
    out.readF32(q, 0, out.tensor(q).numel).forEach((v, i) => expect(Math.abs(v - (base[q].data[i] + 0.5 * 8 * ref[i]))).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
  });
});

describe("mergekit configs with Hub ids (a hand-built cache, offline)", () => {
  it("model: org/name@revision resolves from the cache", () => {
    const home = tempDir("mergelab-hfhome-");
    const repo = path.join(home, "hub", "models--org--tiny");
    addSnapshot(repo, C1, readDir(path.join(fixtures, "tiny-llama-f16")));
    fs.mkdirSync(path.join(repo, "refs"));
    fs.writeFileSync(path.join(repo, "refs", "v1"), C1);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "c.yml"), "models:\n  - model: org/tiny@v1\nmerge_method: passthrough\ndtype: float16\n");
    const r = runCli(["run", "c.yml", "out", "--quiet"], { cwd: dir, env: { HF_HOME: home, HF_HUB_OFFLINE: "1" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = openCheckpoint(path.join(dir, "out"));
    const src = openCheckpoint(path.join(fixtures, "tiny-llama-f16"));
    for (const t of src.tensors) expect(Buffer.from(out.readRaw(t.name, 0, t.byteLength)).equals(Buffer.from(src.readRaw(t.name, 0, t.byteLength))), t.name).toBe(true);
    const missing = runCli(["run", "c.yml", "out2", "--quiet"], { cwd: dir, env: { HF_HOME: tempDir(), HF_HUB_OFFLINE: "1" } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("huggingface-cli download org/tiny --revision v1");
  });
});
