/**
 * `npm run bench lm`: language-model evaluation.
 *
 * 1. Forward-pass throughput (tokens/s) of a Llama-architecture model (GQA,
 *    SwiGLU, RoPE) at batch 8 × 128 tokens, every position scored, next to the
 *    independent PyTorch implementation of the logits tests
 *    (bench/reference/lm_ref.py, Debian's python3-torch, CPU, all cores) on the
 *    same checkpoint in the same run. Goal: ≥ 0.5× torch on the wasm backend.
 * 2. Peak RSS of layer-streamed evaluation of a lazy merge (0.5·A + 0.5·B,
 *    never saved) as the number of layers grows, next to the same merge
 *    materialised whole first: streamed should stay flat (activations + one
 *    layer), materialised grows with the model.
 *
 * MERGELAB_BENCH_TORCH=0 skips the torch reference.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const PYTHON = "/usr/bin/python3";

const llama = (layers: number) => ({
  model_type: "llama",
  vocab_size: 8192,
  hidden_size: 512,
  intermediate_size: 1408,
  num_hidden_layers: layers,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 512,
  rope_theta: 10000,
  tie_word_embeddings: false,
});

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${path.basename(args.find((x) => /\.(py|ts)$/.test(x)) ?? cmd)} failed:\n${r.stderr}`);
  return r.stdout;
}

const json = <T>(cmd: string, args: string[]): T => JSON.parse(run(cmd, args).trim().split("\n").pop()!);

/** A random checkpoint written by the torch reference's code (float32). */
function checkpoint(dir: string, cfg: object, seed: number): string {
  const spec = path.join(dir, `spec-${seed}.json`);
  fs.writeFileSync(spec, JSON.stringify({ config: cfg, seed, ids: [[1, 2]], prefix: "model." }));
  const out = path.join(dir, `ckpt-${(cfg as { num_hidden_layers: number }).num_hidden_layers}-${seed}`);
  run(PYTHON, [path.join(root, "tests/stdlib/lm/torch_lm.py"), spec, out]);
  return out;
}

function throughput(dir: string): void {
  const [B, T, reps] = [8, 128, 2];
  const cfg = llama(4);
  console.log(`forward pass: llama-architecture, 4 layers, hidden 512, GQA 8/4, MLP 1408, vocab 8192; batch ${B} × ${T} tokens, every position scored; best of ${reps}`);
  const spec = path.join(dir, "spec-fwd.json");
  fs.writeFileSync(spec, JSON.stringify({ config: cfg, seed: 1, prefix: "model." }));
  let ckpt = path.join(dir, "fwd");
  let torch: { tokens_per_s: number; threads: number } | string;
  if (process.env.MERGELAB_BENCH_TORCH === "0") {
    torch = "skipped (MERGELAB_BENCH_TORCH=0)";
    ckpt = checkpoint(dir, cfg, 1);
  } else torch = json(PYTHON, [path.join(here, "reference", "lm_ref.py"), spec, ckpt, String(B), String(T), String(reps), String(os.availableParallelism())]);
  const ours = json<{ tokensPerS: number; backend: string }>(process.execPath, ["--import", "tsx", path.join(here, "lm-child.ts"), "forward", ckpt, String(B), String(T), String(reps)]);
  const k = (x: number) => `${(x / 1000).toFixed(2)} k tokens/s`;
  console.log(`  mergelab (${ours.backend})   ${k(ours.tokensPerS)}`);
  if (typeof torch === "string") console.log(`  torch reference          ${torch}`);
  else {
    console.log(`  torch reference (CPU, ${torch.threads} threads)  ${k(torch.tokens_per_s)}`);
    console.log(`  ratio mergelab / torch   ${(ours.tokensPerS / torch.tokens_per_s).toFixed(2)}×   (goal ≥ 0.5× on wasm at batch ≥ 8)`);
  }
}

function memory(dir: string): void {
  const [n, t] = [16, 128];
  console.log(`\npeak RSS, scoring ${n} × ${t} tokens with 0.5·A + 0.5·B (lazy, never saved); hidden 512, MLP 1408, vocab 8192 (12.6 MB of float32 weights per layer)`);
  console.log("  layers   model MB   streamed RSS MB   materialised RSS MB   same log-likelihood");
  for (const layers of [2, 4, 8, 16]) {
    const cfg = llama(layers);
    const a = checkpoint(dir, cfg, 10);
    const b = checkpoint(dir, cfg, 11);
    const modelMB = (fs.statSync(path.join(a, "model.safetensors")).size / 2 ** 20).toFixed(0);
    const run = (mode: string) => json<{ maxRssMB: number; logprob: number }>(process.execPath, ["--import", "tsx", path.join(here, "lm-child.ts"), "rss", mode, a, b, String(n), String(t)]);
    const s = run("streamed");
    const m = run("materialized");
    console.log(`  ${String(layers).padStart(6)}   ${modelMB.padStart(8)}   ${s.maxRssMB.toFixed(0).padStart(15)}   ${m.maxRssMB.toFixed(0).padStart(19)}   ${s.logprob === m.logprob ? "bit-identical" : `differs: ${s.logprob} vs ${m.logprob}`}`);
    fs.rmSync(a, { recursive: true, force: true });
    fs.rmSync(b, { recursive: true, force: true });
  }
}

export default async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(process.env.MERGELAB_BENCH_DIR ?? os.tmpdir(), "mergelab-bench-lm-"));
  try {
    throughput(dir);
    memory(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
