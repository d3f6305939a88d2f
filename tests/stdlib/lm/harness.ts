/** Shared by the language-model tests: random checkpoints and reference logits from torch_lm.py (Debian's python3-torch). */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { repoRoot, rng, tempDir } from "../../helpers.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = path.join(repoRoot, "tests/stdlib/lm/torch_lm.py");

export interface Reference {
  /** The checkpoint directory (config.json, model.safetensors, tokenizer.json when given). */
  ckpt: string;
  /** Per sequence, its T·V logits from PyTorch. */
  logits: Float32Array[];
  /** The temp directory to remove. */
  dir: string;
}

/** Write a random checkpoint with `config` and compute torch's logits of each id sequence. */
export function reference(config: Record<string, unknown>, opts: { seed: number; ids: number[][]; prefix?: string; tokenizer?: object }): Reference {
  const dir = tempDir("mergelab-lm-");
  const spec = { config, seed: opts.seed, ids: opts.ids, prefix: opts.prefix ?? (config.model_type === "gpt2" ? "" : "model."), tokenizer: opts.tokenizer };
  fs.writeFileSync(path.join(dir, "spec.json"), JSON.stringify(spec));
  const ckpt = path.join(dir, "ckpt");
  const r = spawnSync(PYTHON, [SCRIPT, path.join(dir, "spec.json"), ckpt], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`torch_lm.py failed: ${r.stderr}`);
  const buf = fs.readFileSync(path.join(ckpt, "logits.f32"));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const V = config.vocab_size as number;
  const logits: Float32Array[] = [];
  let k = 0;
  for (const ids of opts.ids) {
    logits.push(all.slice(k, k + ids.length * V));
    k += ids.length * V;
  }
  return { ckpt, logits, dir };
}

/** Random ids [B][T] from the tests' seeded generator. */
export function randomIds(seed: number, B: number, T: number, V: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(r() * V)));
}

/** log softmax(z)[target] in float64. */
export function logSoftmaxAt(z: Float32Array, target: number): number {
  let max = -Infinity;
  for (const v of z) max = Math.max(max, v);
  let s = 0;
  for (const v of z) s += Math.exp(v - max);
  return z[target] - max - Math.log(s);
}

/** A word-level tokenizer.json: whitespace pre-tokenizer, ids in the order of `words` (0 = <unk>, 1 = <s>). */
export function wordLevelTokenizer(words: string[]): object {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1 };
  words.forEach((w, i) => (vocab[w] = i + 2));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 0, content: "<unk>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: "<s>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: "WhitespaceSplit" },
    post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [], special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } } },
    decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "<unk>" },
  };
}
