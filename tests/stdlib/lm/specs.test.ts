/** The language functions perplexity / loglik_choice / generate: data files, tables, dry runs, errors. */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MergelabError } from "../../../core/errors.js";
import { Dict, Table, type Value } from "../../../core/values.js";
import { loadModel } from "../../../engine/index.js";
import { invoke } from "../../../stdlib/methods/define.js";
import { specs, perplexity, loglikChoice, languageModel } from "../../../stdlib/lm/index.js";
import { reference, wordLevelTokenizer, type Reference } from "./harness.js";

const WORDS = "the cat sat on mat dog ran fast slow red".split(" ");
const config = { model_type: "qwen2", vocab_size: WORDS.length + 2, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 0 };
let ref: Reference;
let cwd: string;
beforeAll(() => {
  ref = reference(config, { seed: 5, ids: [[1, 2]], tokenizer: wordLevelTokenizer(WORDS) });
  cwd = ref.dir;
  fs.writeFileSync(path.join(cwd, "texts.txt"), "the cat sat on the mat\n\n  \nthe dog ran fast\nslow red dog\n");
  fs.writeFileSync(path.join(cwd, "texts.jsonl"), '{"text": "the cat sat on the mat"}\n\n{"text": "the dog ran fast\\nslow red dog"}\n');
  fs.writeFileSync(path.join(cwd, "quiz.jsonl"), ['{"context": "the cat sat on the", "choices": ["mat", "dog ran"], "gold": 0}', '{"context": "the dog", "choices": ["ran", "sat", "red"], "gold": 2}'].join("\n"));
});
afterAll(() => ref && fs.rmSync(ref.dir, { recursive: true, force: true }));

const call = (name: string, args: Record<string, Value>, dryRun = false) => invoke(specs.find((s) => s.name === name)!, args, { cwd, dryRun }) as Promise<Table>;

describe("language functions", () => {
  it("perplexity reads .txt documents (blank-line separated) and .jsonl texts alike; per_item rows add up", async () => {
    const model = loadModel(ref.ckpt);
    const t = await call("perplexity", { model, texts: "texts.txt" });
    expect(t.columns).toEqual(["model", "texts", "tokens", "bytes", "perplexity", "bits_per_byte"]);
    expect(t.rows[0].slice(1, 4)).toEqual([2, 6 + 7, 22 + 29]);
    const j = await call("perplexity", { model, texts: "texts.jsonl" });
    expect(j.rows).toEqual(t.rows);
    const api = await perplexity(languageModel(model), ["the cat sat on the mat", "the dog ran fast\nslow red dog"]);
    expect(t.rows[0][4]).toBe(api.perplexity);
    fs.writeFileSync(path.join(cwd, "crlf.txt"), "the cat sat on the mat\r\n\r\nthe dog ran fast\r\nslow red dog\r\n");
    const crlf = await call("perplexity", { model, texts: "crlf.txt" });
    expect(crlf.rows[0].slice(1, 3)).toEqual([2, 13]);
    const per = await call("perplexity", { model, texts: "texts.txt", per_item: true });
    expect(per.rows.map((r) => r[1])).toEqual([6, 7]);
  });

  it("loglik_choice from .jsonl or a list of dicts; per_item shows each choice's log-likelihood", async () => {
    const model = loadModel(ref.ckpt);
    const t = await call("loglik_choice", { model, items: "quiz.jsonl" });
    expect(t.columns).toEqual(["model", "items", "acc", "acc_norm"]);
    const items = [
      new Dict(new Map<string, Value>([["context", "the cat sat on the"], ["choices", ["mat", "dog ran"]], ["gold", 0]])),
      new Dict(new Map<string, Value>([["context", "the dog"], ["choices", ["ran", "sat", "red"]], ["gold", 2]])),
    ];
    const d = await call("loglik_choice", { model, items });
    expect(d.rows).toEqual(t.rows);
    const api = await loglikChoice(languageModel(model), [{ context: "the cat sat on the", choices: ["mat", "dog ran"], gold: 0 }, { context: "the dog", choices: ["ran", "sat", "red"], gold: 2 }]);
    expect(t.rows[0].slice(2)).toEqual([api.acc, api.accNorm]);
    const per = await call("loglik_choice", { model, items: "quiz.jsonl", per_item: true });
    expect(per.rows.map((r) => (r[4] as number[]).length)).toEqual([2, 3]);
    expect(per.rows[1][4]).toEqual(api.items[1].loglik);
  });

  it("generate returns the prompt and its completion", async () => {
    const t = await call("generate", { model: loadModel(ref.ckpt), prompt: "the cat", max_tokens: 3 });
    expect(t.columns).toEqual(["model", "prompt", "completion", "tokens"]);
    expect(t.rows[0][3]).toBeGreaterThan(0);
    expect(t.rows[0][3]).toBeLessThanOrEqual(3);
  });

  it("a dry run checks the model and the data without computing", async () => {
    const t = await call("perplexity", { model: loadModel(ref.ckpt), texts: "texts.txt" }, true);
    expect(t.rows[0][1]).toBe(2);
    expect(Number.isNaN(t.rows[0][4])).toBe(true);
  });

  it("bad data files name the file, line and problem", async () => {
    fs.writeFileSync(path.join(cwd, "bad.jsonl"), '{"context": "a", "choices": ["b", "c"], "gold": 0}\n{"context": "a", "choices": ["b"], "gold": 0}\n');
    const err = await call("loglik_choice", { model: loadModel(ref.ckpt), items: "bad.jsonl" }).catch((e) => e);
    expect(err).toBeInstanceOf(MergelabError);
    expect(err.message).toBe('expected "choices": a list of at least two strings');
    expect(err.details.loc).toEqual({ file: "bad.jsonl", line: 2, col: 1 });
    fs.writeFileSync(path.join(cwd, "bad2.jsonl"), '{"text": "ok"}\n{"text": oops}\n');
    const e2 = await call("perplexity", { model: loadModel(ref.ckpt), texts: "bad2.jsonl" }).catch((e) => e);
    expect(e2.details.loc).toMatchObject({ file: "bad2.jsonl", line: 2 });
    expect(e2.message).toMatch(/^not valid JSON/);
  });

  it("a checkpoint of another architecture is refused by name", async () => {
    fs.mkdirSync(path.join(cwd, "t5"), { recursive: true });
    fs.copyFileSync(path.join(ref.ckpt, "model.safetensors"), path.join(cwd, "t5/model.safetensors"));
    fs.writeFileSync(path.join(cwd, "t5/config.json"), JSON.stringify({ model_type: "t5" }));
    await expect(call("perplexity", { model: loadModel(path.join(cwd, "t5")), texts: ["x"] })).rejects.toThrow(/model_type 't5' is not supported; language-model evaluation runs llama, mistral, qwen2, gpt2/);
  });
});
