/** Language-model evaluation from a script through the CLI: a merge scored without being saved; errors located in the data file. */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../helpers.js";
import { reference, wordLevelTokenizer, type Reference } from "./harness.js";

const WORDS = "the cat sat on mat dog ran fast slow red".split(" ");
const config = { model_type: "llama", vocab_size: WORDS.length + 2, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, bos_token_id: 1, eos_token_id: 0 };
let a: Reference;
let b: Reference;
let cwd: string;
beforeAll(() => {
  a = reference(config, { seed: 31, ids: [[1, 2]], tokenizer: wordLevelTokenizer(WORDS) });
  b = reference(config, { seed: 32, ids: [[1, 2]], tokenizer: wordLevelTokenizer(WORDS) });
  cwd = a.dir;
  fs.cpSync(b.ckpt, path.join(cwd, "b"), { recursive: true });
  fs.renameSync(a.ckpt, path.join(cwd, "a"));
  fs.writeFileSync(path.join(cwd, "held_out.txt"), "the cat sat on the mat\n\nthe dog ran fast\n");
  fs.writeFileSync(path.join(cwd, "quiz.jsonl"), '{"context": "the cat sat on the", "choices": ["mat", "dog"], "gold": 0}\n{"context": "the dog", "choices": ["ran"], "gold": 0}\n');
});
afterAll(() => [a?.dir, b?.dir].forEach((d) => d && fs.rmSync(d, { recursive: true, force: true })));

describe("mergelab run with language-model evaluation", () => {
  it("scores a lazy merge and prints a table", () => {
    fs.writeFileSync(path.join(cwd, "eval.mlab"), 'm = linear([load("a"), load("b")], weights=[0.5, 0.5])\nprint(perplexity(m, "held_out.txt"))\n');
    const r = runCli(["run", "eval.mlab"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/perplexity/);
    expect(r.stdout).toMatch(/bits_per_byte/);
    expect(fs.readdirSync(cwd).filter((f) => !["a", "b", "held_out.txt", "quiz.jsonl", "eval.mlab", "bad.mlab", "spec.json"].includes(f))).toEqual([]);
  });

  it("points at the bad record of a data file, no stack trace", () => {
    fs.writeFileSync(path.join(cwd, "bad.mlab"), 'print(loglik_choice(load("a"), "quiz.jsonl"))\n');
    const r = runCli(["run", "bad.mlab"], { cwd });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/quiz\.jsonl:2:1: error: expected "choices": a list of at least two strings/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
