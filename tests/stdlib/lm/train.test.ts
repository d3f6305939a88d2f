/**
 * Training with the evaluation forward pass: a byte-level tokenizer checked
 * against UTF-8 bytes, loss that falls on a learnable text, and a saved
 * checkpoint whose evaluation (config.json, HF tensor layout, streamed
 * weights) reproduces the training loss on the same windows.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tf } from "../../../core/runtime.js";
import { loadModel, materialize } from "../../../engine/index.js";
import { parseConfig } from "../../../stdlib/lm/config.js";
import { languageModel, scoreSequences } from "../../../stdlib/lm/model.js";
import { loadTokenizer } from "../../../stdlib/lm/tokenizer.js";
import { byteTokenizerJson, initialWeights, saveCausalLm, trainCausalLm, windowLoss } from "../../../stdlib/lm/train.js";
import { tempDir } from "../../helpers.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tempDir("mergelab-train-");
  dirs.push(d);
  return d;
};

const config = { model_type: "llama", vocab_size: 257, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 0, eos_token_id: 0 };

describe("byte-level tokenizer.json", () => {
  it("one id per UTF-8 byte (byte + 1), decoding round-trips", () => {
    const d = dir();
    fs.writeFileSync(path.join(d, "tokenizer.json"), JSON.stringify(byteTokenizerJson()));
    const tok = loadTokenizer(d)!;
    const text = "héllo, wörld! 日本\n\ttabs  and  spaces";
    expect(tok.encode(text)).toEqual([...Buffer.from(text, "utf8")].map((b) => b + 1));
    expect(tok.decode(tok.encode(text))).toBe(text);
    expect(tok.id("<|endoftext|>")).toBe(0);
  });
});

describe("training", () => {
  it("loss falls on a learnable text, and the saved checkpoint scores the same windows as training computed", async () => {
    const stream = Int32Array.from(Buffer.from("the cat sat on the mat. ".repeat(60), "utf8"), (b) => b + 1);
    const cfg = parseConfig(config);
    const init = initialWeights(cfg, 1);
    const T = 24;
    const windows = Int32Array.from({ length: 2 * (T + 1) }, (_, i) => stream[(i % (T + 1)) + 7 * Math.floor(i / (T + 1))]);
    const { weights, loss } = await trainCausalLm(config, init, stream, { steps: 80, batch: 8, seqLen: T, lr: 1e-2, seed: 3 });
    expect(loss).toBeLessThan(1.0); // from ln(257) ≈ 5.5
    const d = path.join(dir(), "m");
    await saveCausalLm(d, config, weights, byteTokenizerJson());
    expect(JSON.parse(fs.readFileSync(path.join(d, "config.json"), "utf8")).model_type).toBe("llama");
    // the training forward on two windows vs the evaluation of the saved checkpoint
    const lm = languageModel(loadModel(d));
    const scores = await scoreSequences(lm, [0, 1].map((b) => ({ tokens: [...windows.subarray(b * (T + 1), (b + 1) * (T + 1))], scored: T })));
    const evalLoss = -(scores[0].logprob + scores[1].logprob) / (2 * T);
    const tensors = await materialize(loadModel(d));
    const trainLoss = (await windowLoss(cfg, tensors, windows, 2, T).data())[0];
    tf.dispose(Object.values(tensors));
    expect(Math.abs(evalLoss - trainLoss)).toBeLessThan(1e-5);
    expect(trainLoss).toBeLessThan(1.5);
  });
});
