// docs/huggingface.md's examples, run as written (every ```mergelab block) in a directory that has what they
// name: a Hugging Face cache (HF_HOME, offline) with Qwen/Qwen2-0.5B and org/qwen2-math@v1.0 built from the tiny
// fixtures, a base with two PEFT adapters, and two models whose tokenizers differ by added tokens.
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { fixtures, repoRoot, runCli, tempDir } from "../helpers.js";
import { build, writeF32 } from "../io/peft-files.js";

const doc = fs.readFileSync(path.join(repoRoot, "docs/huggingface.md"), "utf8");
const blocks = [...doc.matchAll(/```mergelab\n([\s\S]*?)```/g)].map((m) => m[1]);

function cacheRepo(home: string, repo: string, ref: string, commit: string, from: string): void {
  const dir = path.join(home, "hub", `models--${repo.replace("/", "--")}`);
  for (const f of fs.readdirSync(from)) {
    const bytes = fs.readFileSync(path.join(from, f));
    const etag = createHash("sha256").update(bytes).digest("hex");
    fs.mkdirSync(path.join(dir, "blobs"), { recursive: true });
    fs.writeFileSync(path.join(dir, "blobs", etag), bytes);
    fs.mkdirSync(path.join(dir, "snapshots", commit), { recursive: true });
    fs.symlinkSync(path.join("..", "..", "blobs", etag), path.join(dir, "snapshots", commit, f));
  }
  fs.mkdirSync(path.join(dir, "refs"), { recursive: true });
  fs.writeFileSync(path.join(dir, "refs", ref), commit);
}

function tokenizerModel(dir: string, extra: string[], m: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const tokens = ["<unk>", "the", "cat", "sat", "on", "mat", "<s>", ...extra];
  const added = tokens.slice(6).map((content, k) => ({ id: 6 + k, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify({ version: "1.0", added_tokens: added, normalizer: null, pre_tokenizer: { type: "Whitespace" }, post_processor: null, decoder: null, model: { type: "WordLevel", vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), unk_token: "<unk>" } }));
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "llama", hidden_size: 4, vocab_size: tokens.length, tie_word_embeddings: false }));
  const rows = (sign: number) => new Float32Array(tokens.length * 4).map((_, i) => sign * (m + i / 8));
  writeF32(path.join(dir, "model.safetensors"), {
    "lm_head.weight": { shape: [tokens.length, 4], data: rows(-1) },
    "model.embed_tokens.weight": { shape: [tokens.length, 4], data: rows(1) },
  });
}

describe("docs/huggingface.md examples, as written", () => {
  let work: string;
  let home: string;
  beforeAll(() => {
    work = tempDir();
    home = tempDir("mergelab-hfhome-");
    cacheRepo(home, "Qwen/Qwen2-0.5B", "main", "a".repeat(40), path.join(fixtures, "tiny-llama-f16"));
    cacheRepo(home, "org/qwen2-math", "v1.0", "b".repeat(40), path.join(fixtures, "tiny-llama-bf16-sharded"));
    const l1 = tempDir();
    const l2 = tempDir();
    build(l1, {}, 7);
    build(l2, { lora_alpha: 4 }, 7); // the same base, another adapter
    fs.mkdirSync(path.join(work, "models"));
    fs.mkdirSync(path.join(work, "adapters"));
    fs.cpSync(path.join(l1, "base"), path.join(work, "models", "base"), { recursive: true });
    fs.cpSync(path.join(l1, "adapter"), path.join(work, "adapters", "math"), { recursive: true });
    fs.cpSync(path.join(l2, "adapter"), path.join(work, "adapters", "code"), { recursive: true });
    tokenizerModel(path.join(work, "models", "a"), [], 0);
    tokenizerModel(path.join(work, "models", "b"), ["<tool>", "<think>"], 1);
  });

  it("has the examples", () => expect(blocks.length).toBe(4));

  it.each(blocks.map((b, i) => [i, b] as const))("example %i runs", (i, text) => {
    fs.writeFileSync(path.join(work, `ex${i}.mlab`), text);
    const r = runCli(["run", `ex${i}.mlab`, "--quiet"], { cwd: work, env: { HF_HOME: home, HF_HUB_OFFLINE: "1" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const m of text.matchAll(/save\(.*?\), "([^"]+)"/g)) expect(fs.existsSync(path.join(work, m[1], "model.safetensors")), m[1]).toBe(true);
  });

  it("a mergekit config with tokenizer_source: union runs through align_vocab", () => {
    fs.writeFileSync(path.join(work, "tok.yml"), "models:\n  - model: models/a\n  - model: models/b\nmerge_method: linear\nparameters: {weight: 1}\ntokenizer:\n  source: union\n  pad_to_multiple_of: 4\ndtype: float32\n");
    const script = runCli(["from-mergekit", "tok.yml", "out/tok"], { cwd: work });
    expect(script.stdout).toContain('aligned = align_vocab([a, b], source="union", pad_to_multiple_of=4)');
    const r = runCli(["run", "tok.yml", "out/tok", "--quiet"], { cwd: work });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const tj = JSON.parse(fs.readFileSync(path.join(work, "out", "tok", "tokenizer.json"), "utf8"));
    expect(tj.added_tokens.map((t: { content: string }) => t.content)).toEqual(["<s>", "<tool>", "<think>"]);
    expect(JSON.parse(fs.readFileSync(path.join(work, "out", "tok", "config.json"), "utf8")).vocab_size).toBe(12);
  });
});
