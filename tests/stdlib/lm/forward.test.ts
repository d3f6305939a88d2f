/**
 * Logits of every supported architecture against an independent PyTorch
 * implementation (torch_lm.py, Debian's python3-torch) on small random
 * checkpoints with realistic shapes: GQA, q/k/v and MLP biases, tied and untied
 * heads, Llama-3 and linear rope scaling, Mistral's sliding window, GPT-2's
 * Conv1D layout with and without the `transformer.` prefix.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tf } from "../../../core/runtime.js";
import { loadModel, materialize } from "../../../engine/index.js";
import { parseConfig } from "../../../stdlib/lm/config.js";
import { forwardLogits, LanguageModel, languageModel } from "../../../stdlib/lm/model.js";
import { memoryWeights } from "../../../stdlib/lm/weights.js";
import { MergelabError } from "../../../core/errors.js";
import { randomIds, reference } from "./harness.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Build the checkpoint and reference logits in Python; return mergelab's logits and torch's. */
async function compare(config: Record<string, unknown>, opts: { prefix: string; seed: number; B?: number; T?: number }) {
  const ids = randomIds(opts.seed, opts.B ?? 3, opts.T ?? 12, config.vocab_size as number);
  const { ckpt, logits, dir } = reference(config, { ...opts, ids });
  dirs.push(dir);
  const tensors = await materialize(loadModel(ckpt));
  try {
    const lm = new LanguageModel(parseConfig(JSON.parse(fs.readFileSync(path.join(ckpt, "config.json"), "utf8"))), memoryWeights(tensors), undefined, ckpt);
    const ours = await forwardLogits(lm, ids);
    // the same checkpoint streamed layer by layer from the engine: the same floats
    expect(await forwardLogits(languageModel(loadModel(ckpt)), ids)).toEqual(ours);
    const ref = new Float32Array(logits.flatMap((z) => [...z]));
    return { ours, ref, lm };
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** max |ours − ref| / max |ref|: the error relative to the logits' scale. */
function relErr(ours: Float32Array, ref: Float32Array): number {
  expect(ours.length).toBe(ref.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

const llama = {
  model_type: "llama",
  vocab_size: 97,
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 64,
  hidden_act: "silu",
  tie_word_embeddings: false,
};

describe("logits match an independent PyTorch implementation (float32, max error / max |logit| < 1e-4)", () => {
  it("llama: GQA 4/2, untied head, rope_theta 5e5 with Llama-3 rope_scaling", async () => {
    const cfg = { ...llama, rope_theta: 500000, rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } };
    const { ours, ref } = await compare(cfg, { prefix: "model.", seed: 1, T: 24 });
    expect(relErr(ours, ref)).toBeLessThan(1e-4);
    // the rope scaling matters at these positions: the same weights without it give other logits
    const plain = await compare({ ...cfg, rope_scaling: null }, { prefix: "model.", seed: 1, T: 24 });
    expect(relErr(plain.ours, ref)).toBeGreaterThan(1e-3);
  });

  it("llama: attention and MLP biases, tied head, linear rope scaling, explicit head_dim", async () => {
    const cfg = { ...llama, num_key_value_heads: 4, head_dim: 8, attention_bias: true, mlp_bias: true, tie_word_embeddings: true, rope_theta: 10000, rope_scaling: { type: "linear", factor: 2 } };
    const { ours, ref } = await compare(cfg, { prefix: "model.", seed: 2 });
    expect(relErr(ours, ref)).toBeLessThan(1e-4);
  });

  it("qwen2: q/k/v biases, GQA 4/1, tied head", async () => {
    const cfg = { ...llama, model_type: "qwen2", num_key_value_heads: 1, rope_theta: 1000000, tie_word_embeddings: true, use_sliding_window: false, sliding_window: 4 };
    const { ours, ref } = await compare(cfg, { prefix: "model.", seed: 3 });
    expect(relErr(ours, ref)).toBeLessThan(1e-4);
  });

  it("mistral: sliding-window attention shorter than the sequence", async () => {
    const cfg = { ...llama, model_type: "mistral", num_key_value_heads: 2, rope_theta: 10000, sliding_window: 5 };
    const { ours, ref } = await compare(cfg, { prefix: "model.", seed: 4, T: 16 });
    expect(relErr(ours, ref)).toBeLessThan(1e-4);
  });

  const gpt2 = { model_type: "gpt2", vocab_size: 101, n_embd: 64, n_head: 4, n_layer: 3, n_positions: 32, layer_norm_epsilon: 1e-5, activation_function: "gelu_new" };
  it("gpt2: Conv1D layout, learned positions, GELU tanh (GPT2Model names)", async () => {
    const { ours, ref } = await compare(gpt2, { prefix: "", seed: 5, T: 20 });
    expect(relErr(ours, ref)).toBeLessThan(1e-4);
  });

  it("gpt2: GPT2LMHeadModel names (transformer.), n_inner, scale_attn_by_inverse_layer_idx", async () => {
    const cfg = { ...gpt2, n_inner: 96, scale_attn_by_inverse_layer_idx: true };
    const { ours, ref } = await compare(cfg, { prefix: "transformer.", seed: 6 });
    expect(relErr(ours, ref)).toBeLessThan(1e-4);
  });
});

describe("configs it cannot run", () => {
  it("names the supported model types", () => {
    expect(() => parseConfig({ model_type: "t5" }, "x/config.json")).toThrow(MergelabError);
    expect(() => parseConfig({ model_type: "t5" }, "x/config.json")).toThrow("x/config.json: model_type 't5' is not supported; language-model evaluation runs llama, mistral, qwen2, gpt2");
    expect(() => parseConfig({ ...llama, rope_scaling: { rope_type: "yarn", factor: 4 } })).toThrow("rope_scaling type 'yarn' is not supported (supported: default, linear, llama3)");
  });
});
