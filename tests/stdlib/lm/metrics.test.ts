/**
 * Metrics against log-probabilities from the independent PyTorch reference
 * (torch_lm.py): perplexity over rolling windows, loglikelihood of choices
 * (acc, acc_norm), greedy generation with a KV cache; and layer-streamed
 * evaluation of a lazy merge against the same merge saved and evaluated.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tf } from "../../../core/runtime.js";
import { combine, loadModel, materialize, saveModel, type ModelValue } from "../../../engine/index.js";
import { invoke } from "../../../stdlib/methods/define.js";
import { specs as methods } from "../../../stdlib/methods/index.js";
import { specs as stacking } from "../../../stdlib/stack.js";
import { languageModel, LanguageModel, scoreSequences } from "../../../stdlib/lm/model.js";
import { generate, loglikChoice, perplexity, rollingWindows } from "../../../stdlib/lm/metrics.js";
import { memoryWeights } from "../../../stdlib/lm/weights.js";
import { rng, tempDir } from "../../helpers.js";
import { logSoftmaxAt, reference, wordLevelTokenizer, type Reference } from "./harness.js";

const WORDS = "the a cat dog sat ran on under mat rug red big small quick slow fox jumps over lazy river tree bird sings loud soft and or but then when sun moon star night day cold warm rain snow wind".split(" ");
const V = WORDS.length + 2; // <unk>, <s>
const wordId = (w: string) => WORDS.indexOf(w) + 2;
const config = {
  model_type: "llama",
  vocab_size: V,
  hidden_size: 48,
  intermediate_size: 80,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 64,
  rope_theta: 10000,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 0,
};

const r = rng(11);
const sentence = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(r() * WORDS.length)]).join(" ");
const texts = [sentence(5), sentence(13), sentence(20)];
const items = Array.from({ length: 5 }, (_, i) => ({ context: sentence(3 + i), choices: [sentence(1), sentence(2), sentence(3)], gold: i % 3 }));
const MAXLEN = 8;

// sequences scored, built from the word ids (the tokenizer is checked on its own in tokenizer.test.ts)
const windows = texts.map((t) => rollingWindows(t.split(" ").map(wordId), 1, MAXLEN));
const choiceSeqs = items.flatMap((it) => it.choices.map((c) => ({ tokens: [...it.context.split(" "), ...c.split(" ")].map(wordId), scored: c.split(" ").length })));
const seqs = [...windows.flat(), ...choiceSeqs];

/** Σ log p of the scored tokens of sequence s from torch's logits. */
function expected(ref: Reference, s: number): number {
  const { tokens, scored } = seqs[s];
  let sum = 0;
  for (let k = 0; k < scored; k++) {
    const pos = tokens.length - 1 - scored + k;
    sum += logSoftmaxAt(ref.logits[s].subarray(pos * V, (pos + 1) * V), tokens[pos + 1]);
  }
  return sum;
}

let ref: Reference;
let other: Reference;
let lm: LanguageModel;
beforeAll(() => {
  const tokenizer = wordLevelTokenizer(WORDS);
  ref = reference(config, { seed: 21, ids: seqs.map((s) => s.tokens), tokenizer });
  other = reference(config, { seed: 22, ids: [[1, 2]], tokenizer });
  lm = languageModel(loadModel(ref.ckpt));
});
const dirs: string[] = [];
afterAll(() => [ref?.dir, other?.dir, ...dirs].forEach((d) => d && fs.rmSync(d, { recursive: true, force: true })));

describe("metrics against PyTorch log-probabilities", () => {
  it("perplexity: rolling windows of max_length tokens, per text and in total; bits per byte", async () => {
    const res = await perplexity(lm, texts, { maxLength: MAXLEN });
    let s = 0;
    let total = 0;
    for (const [i, t] of texts.entries()) {
      let want = 0;
      for (let w = 0; w < windows[i].length; w++) want += expected(ref, s++);
      total += want;
      expect(res.texts[i].tokens).toBe(t.split(" ").length);
      expect(Math.abs(res.texts[i].logprob - want) / Math.abs(want)).toBeLessThan(1e-5);
      expect(res.texts[i].bitsPerByte).toBeCloseTo(-res.texts[i].logprob / (Buffer.byteLength(t) * Math.LN2), 10);
    }
    expect(Math.abs(res.perplexity - Math.exp(-total / res.tokens)) / res.perplexity).toBeLessThan(1e-5);
  });

  it("loglik_choice: each choice's summed log-likelihood, acc and acc_norm", async () => {
    const res = await loglikChoice(lm, items, { maxLength: MAXLEN * 4 });
    let s = windows.flat().length;
    let acc = 0;
    let accNorm = 0;
    for (const [i, it] of items.entries()) {
      const want = it.choices.map(() => expected(ref, s++));
      res.items[i].loglik.forEach((l, c) => expect(Math.abs(l - want[c])).toBeLessThan(1e-4));
      const best = (xs: number[]) => xs.indexOf(Math.max(...xs));
      acc += best(want) === it.gold ? 1 : 0;
      accNorm += best(want.map((l, c) => l / it.choices[c].length)) === it.gold ? 1 : 0;
    }
    expect(res.acc).toBe(acc / items.length);
    expect(res.accNorm).toBe(accNorm / items.length);
  });

  it("scores do not depend on the batch size beyond float32 rounding, nor on the passes over the weights", async () => {
    const a = await scoreSequences(lm, seqs, { batchSize: 1 });
    const b = await scoreSequences(lm, seqs, { batchSize: 5 });
    a.forEach((x, i) => expect(Math.abs(x.logprob - b[i].logprob)).toBeLessThan(1e-4));
    // several streamed passes over the weights (a small activation budget) change nothing
    const c = await scoreSequences(lm, seqs, { batchSize: 5, passTokens: 10 });
    expect(c.map((x) => x.logprob)).toEqual(b.map((x) => x.logprob));
  });

  it("generate: greedy tokens with a KV cache are the argmax of PyTorch's logits at every step", async () => {
    const prompt = "the quick fox";
    const out = await generate(lm, prompt, 8);
    expect(out.tokens.length).toBeGreaterThan(0);
    const seq = [1, ...prompt.split(" ").map(wordId), ...out.tokens];
    const check = reference(config, { seed: 21, ids: [seq] });
    dirs.push(check.dir);
    const z = check.logits[0];
    for (let k = 0; k < out.tokens.length; k++) {
      const pos = seq.length - out.tokens.length - 1 + k;
      const row = z.subarray(pos * V, (pos + 1) * V);
      expect(out.tokens[k]).toBe(row.indexOf(Math.max(...row)));
    }
    expect(out.text).toBe(out.tokens.filter((t) => t > 1).map((t) => WORDS[t - 2]).join(" "));
  });
});

describe("layer-streamed evaluation of a lazy merge", () => {
  async function savedLm(model: ModelValue): Promise<LanguageModel> {
    const d = tempDir("mergelab-lm-saved-");
    dirs.push(d);
    await saveModel(model, path.join(d, "m"), { dtype: "f32" });
    return languageModel(loadModel(path.join(d, "m")));
  }

  it("a linear merge streamed layer by layer scores bit-identically to the same merge saved (float32) and evaluated", async () => {
    const a = loadModel(ref.ckpt);
    const b = loadModel(other.ckpt);
    const merged = combine("+", combine("*", a, 0.3), combine("*", b, 0.7)) as ModelValue;
    const streamed = await perplexity(languageModel(merged), texts, { maxLength: MAXLEN });
    const saved = await perplexity(await savedLm(merged), texts, { maxLength: MAXLEN });
    expect(streamed.logprob).toBe(saved.logprob);
    expect(streamed.texts.map((t) => t.logprob)).toEqual(saved.texts.map((t) => t.logprob));
    // and it is a different model from either parent
    const parent = await perplexity(lm, texts, { maxLength: MAXLEN });
    expect(Math.abs(parent.logprob - streamed.logprob)).toBeGreaterThan(1e-3);
  });

  it("a TIES merge (trim, elect sign, disjoint mean) streamed equals it saved; and equals the in-memory model", async () => {
    const ties = methods.find((s) => s.name === "ties")!;
    const base = loadModel(other.ckpt);
    const merged = (await invoke(ties, { xs: [loadModel(ref.ckpt), base], base, k: 0.5 })) as ModelValue;
    const streamed = await loglikChoice(languageModel(merged), items);
    const saved = await loglikChoice(await savedLm(merged), items);
    expect(streamed.items.map((x) => x.loglik)).toEqual(saved.items.map((x) => x.loglik));
    const tensors = await materialize(merged);
    try {
      const inMemory = new LanguageModel(lm.config, memoryWeights(tensors), lm.tokenizer, "in memory");
      const mem = await loglikChoice(inMemory, items);
      expect(mem.items.map((x) => x.loglik)).toEqual(streamed.items.map((x) => x.loglik));
    } finally {
      tf.dispose(Object.values(tensors));
    }
  });

  it("TIES with scope=\"model\" (one trim threshold over all tensors) streamed equals it saved", async () => {
    const ties = methods.find((s) => s.name === "ties")!;
    const base = loadModel(other.ckpt);
    const merged = (await invoke(ties, { xs: [loadModel(ref.ckpt), base], base, k: 0.3, scope: "model" })) as ModelValue;
    const streamed = await perplexity(languageModel(merged, { workers: 2 }), texts, { maxLength: MAXLEN }); // worker threads, as for a large model
    const saved = await perplexity(await savedLm(merged), texts, { maxLength: MAXLEN });
    expect(streamed.texts.map((t) => t.logprob)).toEqual(saved.texts.map((t) => t.logprob));
    // per-tensor thresholds give another model: the model-scope statistic was not computed per layer
    const perTensor = (await invoke(ties, { xs: [loadModel(ref.ckpt), base], base, k: 0.3 })) as ModelValue;
    const tensorScope = await perplexity(languageModel(perTensor), texts, { maxLength: MAXLEN });
    expect(tensorScope.logprob).not.toBe(streamed.logprob);
  });

  it("a stack of slices (4 layers from two 3-layer models) runs with its own layer count, streamed as saved", async () => {
    const fn = (name: string) => stacking.find((x) => x.name === name)!;
    const a = (await invoke(fn("slice"), { x: loadModel(ref.ckpt), start: 0, end: 2 })) as ModelValue;
    const b = (await invoke(fn("slice"), { x: loadModel(other.ckpt), start: 1, end: 3 })) as ModelValue;
    const stacked = (await invoke(fn("stack"), { xs: [a, b] })) as ModelValue;
    const lm4 = languageModel(stacked);
    expect(lm4.config.numLayers).toBe(4);
    const streamed = await loglikChoice(lm4, items);
    const saved = await loglikChoice(await savedLm(stacked), items);
    expect(streamed.items.map((x) => x.loglik)).toEqual(saved.items.map((x) => x.loglik));
  });
});
