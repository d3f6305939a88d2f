/**
 * Training small causal LMs (Llama architecture) with the same forward pass
 * that evaluates them, for a zoo of real Hugging Face checkpoints to merge:
 * next-token cross-entropy on seeded windows of a token stream, Adam.
 * Checkpoints are written as ordinary HF directories (config.json,
 * model.safetensors, tokenizer.json) that transformers loads.
 */
import { initRuntime, tf } from "../../core/runtime.js";
import { modelFromArrays, saveModel, type MemoryTensor } from "../../engine/index.js";
import { rng } from "../eval/tasks.js";
import { parseConfig, type LmConfig } from "./config.js";
import { applyLayer, finalNorm, layerParams, logits, type Weights } from "./forward.js";

/**
 * A byte-level tokenizer.json (GPT-2's byte-to-character map, no merges): id 0
 * is "<|endoftext|>", byte b is id b + 1. Any text encodes, one token per UTF-8 byte.
 */
export function byteTokenizerJson(): object {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const vocab: Record<string, number> = { "<|endoftext|>": 0 };
  let extra = 0;
  for (let b = 0; b < 256; b++) vocab[String.fromCodePoint(printable(b) ? b : 256 + extra++)] = b + 1;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
}

export interface TrainSpec {
  steps: number;
  batch: number;
  /** Tokens per training window (inputs; one more is read for the last target). */
  seqLen: number;
  lr: number;
  seed: number;
}

/** HF tensor names and shapes of a Llama-architecture config. */
export function llamaTensorShapes(cfg: LmConfig): Record<string, number[]> {
  const { hiddenSize: D, intermediateSize: I, vocabSize: V, numHeads: H, numKvHeads: Hkv, headDim: d } = cfg;
  const out: Record<string, number[]> = { "model.embed_tokens.weight": [V, D], "model.norm.weight": [D] };
  if (!cfg.tiedHead) out["lm_head.weight"] = [V, D];
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}.`;
    Object.assign(out, {
      [`${p}input_layernorm.weight`]: [D],
      [`${p}post_attention_layernorm.weight`]: [D],
      [`${p}self_attn.q_proj.weight`]: [H * d, D],
      [`${p}self_attn.k_proj.weight`]: [Hkv * d, D],
      [`${p}self_attn.v_proj.weight`]: [Hkv * d, D],
      [`${p}self_attn.o_proj.weight`]: [D, H * d],
      [`${p}mlp.gate_proj.weight`]: [I, D],
      [`${p}mlp.up_proj.weight`]: [I, D],
      [`${p}mlp.down_proj.weight`]: [D, I],
    });
  }
  return out;
}

/** Seeded initial weights: norms 1, every other tensor N(0, 0.02²) (GPT-2's initialisation). */
export function initialWeights(cfg: LmConfig, seed: number): Record<string, Float32Array> {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const out: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(llamaTensorShapes(cfg))) {
    const n = shape.reduce((a, b) => a * b, 1);
    out[name] = name.endsWith("norm.weight") ? new Float32Array(n).fill(1) : Float32Array.from({ length: n }, () => 0.02 * normal());
  }
  return out;
}

/** Mean next-token cross-entropy of windows ids [B, T + 1] under weights `w` (HF names). */
export function windowLoss(cfg: LmConfig, w: Record<string, tf.Tensor>, ids: Int32Array, B: number, T: number): tf.Scalar {
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = ids[b * (T + 1) + t];
      targets[b * T + t] = ids[b * (T + 1) + t + 1];
    }
  }
  const V = cfg.vocabSize;
  return tf.tidy(() => {
    const table = w["model.embed_tokens.weight"];
    const head = tf.transpose(cfg.tiedHead ? table : w["lm_head.weight"]);
    const g = { norm: w["model.norm.weight"], head };
    // one-hot products instead of gathers: the gradient of gather (UnsortedSegmentSum) has no wasm kernel
    let x = tf.matMul(tf.oneHot(tf.tensor1d(inputs, "int32"), V), table).reshape([B, T, cfg.hiddenSize]);
    for (let l = 0; l < cfg.numLayers; l++) {
      const local: Weights = {};
      const p = `model.layers.${l}.`;
      for (const [name, t] of Object.entries(w)) if (name.startsWith(p)) local[name.slice(p.length)] = t;
      x = applyLayer(cfg, l, layerParams(cfg, local), x);
    }
    const z = logits(g, finalNorm(cfg, g, x));
    return tf.logSoftmax(z).mul(tf.oneHot(tf.tensor1d(targets, "int32"), V)).sum().div(-B * T) as tf.Scalar;
  });
}

/** `batch` windows of seqLen + 1 tokens at seeded offsets of `stream`. */
function drawWindows(stream: Int32Array, spec: TrainSpec, rand: () => number): Int32Array {
  const w = spec.seqLen + 1;
  const out = new Int32Array(spec.batch * w);
  for (let b = 0; b < spec.batch; b++) {
    const start = Math.floor(rand() * (stream.length - w));
    out.set(stream.subarray(start, start + w), b * w);
  }
  return out;
}

/**
 * Train from `init` (HF names → values) on windows of `stream`; returns the
 * trained weights and the mean loss of the last tenth of the steps.
 */
export async function trainCausalLm(hfConfig: Record<string, unknown>, init: Record<string, Float32Array>, stream: Int32Array, spec: TrainSpec): Promise<{ weights: Record<string, Float32Array>; loss: number }> {
  await initRuntime();
  const cfg = parseConfig(hfConfig);
  const shapes = llamaTensorShapes(cfg);
  const vars: Record<string, tf.Variable> = {};
  for (const [name, shape] of Object.entries(shapes)) vars[name] = tf.variable(tf.tensor(init[name], shape, "float32"), true, `${name}`);
  const optimizer = tf.train.adam(spec.lr);
  const rand = rng(spec.seed);
  const tail = Math.max(1, Math.floor(spec.steps / 10));
  let tailLoss = 0;
  try {
    for (let step = 0; step < spec.steps; step++) {
      const ids = drawWindows(stream, spec, rand);
      const loss = optimizer.minimize(() => windowLoss(cfg, vars, ids, spec.batch, spec.seqLen), true, Object.values(vars));
      if (step >= spec.steps - tail) tailLoss += (await loss!.data())[0];
      loss?.dispose();
    }
    const weights: Record<string, Float32Array> = {};
    for (const [name, v] of Object.entries(vars)) weights[name] = (await v.data()) as Float32Array;
    return { weights, loss: tailLoss / tail };
  } finally {
    optimizer.dispose();
    Object.values(vars).forEach((v) => v.dispose());
  }
}

/** Write weights as a Hugging Face checkpoint directory with its config.json and tokenizer.json; `label` is the name recorded in its metadata (default: `dir`). */
export async function saveCausalLm(dir: string, hfConfig: Record<string, unknown>, weights: Record<string, Float32Array>, tokenizerJson: object, opts: { overwrite?: boolean; label?: string } = {}): Promise<void> {
  const cfg = parseConfig(hfConfig);
  const store = new Map<string, MemoryTensor>();
  for (const [name, shape] of Object.entries(llamaTensorShapes(cfg))) store.set(name, { shape, dtype: "F32", data: weights[name] });
  // the label is recorded in the safetensors metadata (mergelab_model): default the directory
  await saveModel(modelFromArrays(store, opts.label ?? dir), dir, {
    dtype: "f32",
    overwrite: opts.overwrite,
    extraFiles: { "config.json": JSON.stringify({ ...hfConfig, torch_dtype: "float32" }, null, 2) + "\n", "tokenizer.json": JSON.stringify(tokenizerJson) },
  });
}
