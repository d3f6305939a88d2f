/**
 * Causal LM forward passes, one layer at a time, on tfjs tensors in float32.
 *
 *   embed(ids) → for ℓ in layers: x = layer(ℓ's weights, x) → norm → head
 *
 * A layer's weights are prepared (transposed to [in, out] once: matMul with a
 * transposed operand is slow on wasm), applied to every batch of hidden
 * states, and freed — so a caller can stream them from the engine.
 *
 * Numerics follow Hugging Face transformers' eager implementations
 * (modeling_llama.py / modeling_gpt2.py): RMSNorm x·rsqrt(mean(x²)+ε)·w; RoPE
 * with rotate_half on [cos(θ), cos(θ)] halves; GQA by grouping the query heads
 * of one key/value head (head h uses kv head ⌊h / (H/H_kv)⌋); softmax(q·kᵀ/√d);
 * SwiGLU down(silu(gate x) · up x); GPT-2 Conv1D weights are already [in, out],
 * GELU is the tanh approximation ("gelu_new").
 */
import { MergelabError } from "../../core/errors.js";
import { tf } from "../../core/runtime.js";
import type { LmConfig, RopeConfig } from "./config.js";

type T = tf.Tensor;
export type Weights = Record<string, T>;

/** Local tensor names each layer reads (optional ones may be absent). */
const LAYER_TENSORS: Record<LmConfig["family"], { required: string[]; optional: string[] }> = {
  llama: {
    required: ["input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"],
    optional: ["self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias", "self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias"],
  },
  gpt2: {
    required: ["ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"],
    optional: [],
  },
};

export function layerTensorNames(family: LmConfig["family"]): { required: string[]; optional: string[] } {
  return LAYER_TENSORS[family];
}

/** Global tensors by role → local-name suffix. */
export function globalTensorNames(config: LmConfig): { embed: string; norm: string; normBias?: string; head?: string; positions?: string } {
  if (config.family === "gpt2") return { embed: "wte.weight", norm: "ln_f.weight", normBias: "ln_f.bias", positions: "wpe.weight" };
  return { embed: "embed_tokens.weight", norm: "norm.weight", head: config.tiedHead ? undefined : "lm_head.weight" };
}

/**
 * Prepared global weights, by role: embedding table [V, D] and GPT-2 positions
 * [P, D] (first stage), final norm and head [D, V] (last stage). A stage holds
 * only the roles it needs.
 */
export interface Globals {
  embed?: T;
  positions?: T;
  norm?: T;
  normBias?: T;
  head?: T;
}

/** Per-layer key/value cache for incremental decoding: k as [B, Hkv, d, T] (pre-transposed), v as [B, Hkv, T, d]. */
export interface KvCache {
  k: T;
  v: T;
}

/**
 * Takes ownership of `raw` (by role). With `withHead`, the head is the
 * transposed `head` (or, for a tied head, the transposed embedding).
 */
export function prepareGlobals(raw: Globals, withHead: boolean): Globals {
  const out: Globals = { embed: raw.embed, positions: raw.positions, norm: raw.norm, normBias: raw.normBias };
  if (withHead) {
    const src = raw.head ?? raw.embed;
    if (!src) throw new MergelabError("the model has neither an lm_head nor an embedding to tie it to");
    out.head = tf.transpose(src);
  }
  if (raw.head) raw.head.dispose();
  return out;
}

/**
 * A layer's weights as the forward pass uses them, from HF-layout tensors (local
 * names), without disposing anything: linear weights as [in, out], Llama's gate
 * and up fused into one matmul. Training differentiates through this.
 */
export function layerParams(config: LmConfig, raw: Weights): Weights {
  for (const n of LAYER_TENSORS[config.family].required) {
    if (!raw[n]) throw new MergelabError(`layer weights lack tensor '${n}'`, { tensor: n });
  }
  if (config.family === "gpt2") return { ...raw };
  return tf.tidy(() => {
    const out: Weights = { ln1: raw["input_layernorm.weight"], ln2: raw["post_attention_layernorm.weight"] };
    for (const p of ["q", "k", "v", "o"]) {
      out[`w${p}`] = tf.transpose(raw[`self_attn.${p}_proj.weight`]);
      const b = raw[`self_attn.${p}_proj.bias`];
      if (b) out[`b${p}`] = b;
    }
    out.wgu = tf.concat([tf.transpose(raw["mlp.gate_proj.weight"]), tf.transpose(raw["mlp.up_proj.weight"])], 1);
    if (raw["mlp.gate_proj.bias"] && raw["mlp.up_proj.bias"]) out.bgu = tf.concat([raw["mlp.gate_proj.bias"], raw["mlp.up_proj.bias"]]);
    out.wdown = tf.transpose(raw["mlp.down_proj.weight"]);
    if (raw["mlp.down_proj.bias"]) out.bdown = raw["mlp.down_proj.bias"];
    return out;
  });
}

/** layerParams taking ownership of `raw`: the HF-layout tensors it does not keep are disposed. */
export function prepareLayer(config: LmConfig, raw: Weights): Weights {
  const out = layerParams(config, raw);
  const kept = new Set(Object.values(out));
  for (const t of Object.values(raw)) if (!kept.has(t)) t.dispose();
  return out;
}

export function disposeWeights(w: Weights | Globals): void {
  for (const t of Object.values(w)) if (t) (t as T).dispose();
}

/** Inverse frequencies of RoPE (float64, then rounded once to float32 like a float32 torch buffer). */
export function ropeInvFreq(rope: RopeConfig, headDim: number): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(rope.theta, (2 * i) / headDim);
  if (rope.type === "linear") for (let i = 0; i < half; i++) inv[i] /= rope.factor;
  if (rope.type === "llama3") {
    // transformers' _compute_llama3_parameters: long wavelengths scaled by 1/factor, short kept, a smooth blend between
    const lowWavelen = rope.originalMaxPositions / rope.lowFreqFactor;
    const highWavelen = rope.originalMaxPositions / rope.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowWavelen) inv[i] /= rope.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (rope.originalMaxPositions / wavelen - rope.lowFreqFactor) / (rope.highFreqFactor - rope.lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / rope.factor) + smooth * inv[i];
      }
    }
  }
  return inv;
}

/** cos and sin tables [T, d] for positions offset..offset+T-1 (angles in float64, rounded to float32 once). */
function ropeTables(config: LmConfig, offset: number, T: number): [T, T] {
  const d = config.headDim;
  const inv = ropeInvFreq(config.rope!, d);
  const cos = new Float32Array(T * d);
  const sin = new Float32Array(T * d);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < d / 2; i++) {
      const a = (offset + t) * Math.fround(inv[i]);
      cos[t * d + i] = cos[t * d + i + d / 2] = Math.cos(a);
      sin[t * d + i] = sin[t * d + i + d / 2] = Math.sin(a);
    }
  }
  return [tf.tensor(cos, [1, T, 1, d]), tf.tensor(sin, [1, T, 1, d])];
}

/** Additive mask [T, Tk] (0 or -inf) for queries at offset..offset+T-1 over keys 0..Tk-1. */
function causalMask(T: number, Tk: number, offset: number, window?: number): T {
  const m = new Float32Array(T * Tk);
  for (let i = 0; i < T; i++) {
    const q = offset + i;
    for (let j = 0; j < Tk; j++) if (j > q || (window !== undefined && q - j >= window)) m[i * Tk + j] = -Infinity;
  }
  return tf.tensor(m, [T, Tk]);
}

function rmsNorm(x: T, w: T, eps: number): T {
  return tf.tidy(() => x.mul(tf.rsqrt(x.square().mean(-1, true).add(eps))).mul(w));
}

function layerNorm(x: T, w: T, b: T, eps: number): T {
  return tf.tidy(() => {
    const mean = x.mean(-1, true);
    const c = x.sub(mean);
    return c.mul(tf.rsqrt(c.square().mean(-1, true).add(eps))).mul(w).add(b);
  });
}

function rotateHalf(x: T, d: number): T {
  const [a, b] = tf.split(x, [d / 2, d / 2], -1);
  return tf.concat([b.neg(), a], -1);
}

/**
 * Scaled dot-product attention. q [B, T, H, d], k and v [B, T, Hkv, d] (new
 * positions); with a cache, keys/values are appended to it (the cache object
 * is updated in place, old tensors disposed). Returns [B·T, H·d].
 */
function attention(q: T, k: T, v: T, cfg: LmConfig, offset: number, scale: number, cache?: KvCache): T {
  const [B, Tq, H, d] = q.shape as number[];
  const Hkv = k.shape[2] as number;
  const G = H / Hkv;
  let kt = k.transpose([0, 2, 3, 1]); // [B, Hkv, d, T]
  let vt = v.transpose([0, 2, 1, 3]); // [B, Hkv, T, d]
  if (cache) {
    if ((cache.k.shape[3] as number) > 0) {
      const k2 = tf.concat([cache.k, kt], 3);
      const v2 = tf.concat([cache.v, vt], 2);
      kt.dispose();
      vt.dispose();
      kt = k2;
      vt = v2;
    }
    tf.keep(kt);
    tf.keep(vt);
    cache.k.dispose();
    cache.v.dispose();
    cache.k = kt;
    cache.v = vt;
  }
  const Tk = kt.shape[3] as number;
  // the G query heads sharing one kv head are stacked along the query axis: one matmul per kv head
  const qg = q.transpose([0, 2, 1, 3]).reshape([B, Hkv, G * Tq, d]);
  const scores = tf.matMul(qg, kt).mul(scale).reshape([B, Hkv, G, Tq, Tk]);
  const probs = tf.softmax(scores.add(causalMask(Tq, Tk, offset, cfg.slidingWindow))).reshape([B, Hkv, G * Tq, Tk]);
  const out = tf.matMul(probs, vt).reshape([B, H, Tq, d]);
  return out.transpose([0, 2, 1, 3]).reshape([B * Tq, H * d]);
}

/** Token (and for GPT-2 position) embeddings: ids [B][T] → hidden [B, T, D]. */
export function embed(config: LmConfig, g: Globals, ids: Int32Array, B: number, T: number, offset = 0): T {
  return tf.tidy(() => {
    const x = tf.gather(g.embed!, tf.tensor1d(ids, "int32")).reshape([B, T, config.hiddenSize]);
    if (!g.positions) return x;
    if (offset + T > g.positions.shape[0]) throw new MergelabError(`sequence of ${offset + T} tokens is longer than the model's ${g.positions.shape[0]} positions`);
    return x.add(g.positions.slice([offset, 0], [T, config.hiddenSize]).expandDims(0));
  });
}

/** Apply layer `layer` (prepared weights `w`) to hidden states x [B, T, D]; returns the new hidden states. */
export function applyLayer(config: LmConfig, layer: number, w: Weights, x: T, offset = 0, cache?: KvCache): T {
  return tf.tidy(() => (config.family === "gpt2" ? gpt2Layer(config, layer, w, x, offset, cache) : llamaLayer(config, w, x, offset, cache)));
}

function llamaLayer(cfg: LmConfig, w: Weights, x: T, offset: number, cache?: KvCache): T {
  const [B, T, D] = x.shape;
  const d = cfg.headDim;
  const x2 = x.reshape([B * T, D]);
  const h = rmsNorm(x2, w.ln1, cfg.eps);
  const proj = (p: string) => (w[`b${p}`] ? tf.matMul(h, w[`w${p}`]).add(w[`b${p}`]) : tf.matMul(h, w[`w${p}`]));
  const [cos, sin] = ropeTables(cfg, offset, T);
  const rope = (t: T) => t.mul(cos).add(rotateHalf(t, d).mul(sin));
  const q = rope(proj("q").reshape([B, T, cfg.numHeads, d]));
  const k = rope(proj("k").reshape([B, T, cfg.numKvHeads, d]));
  const v = proj("v").reshape([B, T, cfg.numKvHeads, d]);
  let o = tf.matMul(attention(q, k, v, cfg, offset, 1 / Math.sqrt(d), cache), w.wo);
  if (w.bo) o = o.add(w.bo);
  const x3 = x2.add(o);
  const h2 = rmsNorm(x3, w.ln2, cfg.eps);
  let gu = tf.matMul(h2, w.wgu);
  if (w.bgu) gu = gu.add(w.bgu);
  const [gate, up] = tf.split(gu, 2, 1);
  let m = tf.matMul(gate.mul(tf.sigmoid(gate)).mul(up), w.wdown);
  if (w.bdown) m = m.add(w.bdown);
  return x3.add(m).reshape([B, T, D]);
}

function gelu(x: T): T {
  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
  return x.mul(0.5).mul(tf.tanh(x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1));
}

function gpt2Layer(cfg: LmConfig, layer: number, w: Weights, x: T, offset: number, cache?: KvCache): T {
  const [B, T, D] = x.shape;
  const H = cfg.numHeads;
  const d = cfg.headDim;
  const x2 = x.reshape([B * T, D]);
  const h = layerNorm(x2, w["ln_1.weight"], w["ln_1.bias"], cfg.eps);
  const qkv = tf.matMul(h, w["attn.c_attn.weight"]).add(w["attn.c_attn.bias"]);
  const [q, k, v] = tf.split(qkv, 3, 1).map((t) => t.reshape([B, T, H, d]));
  const scale = 1 / Math.sqrt(d) / (cfg.scaleByLayer ? layer + 1 : 1);
  const a = tf.matMul(attention(q, k, v, cfg, offset, scale, cache), w["attn.c_proj.weight"]).add(w["attn.c_proj.bias"]);
  const x3 = x2.add(a);
  const h2 = layerNorm(x3, w["ln_2.weight"], w["ln_2.bias"], cfg.eps);
  const m = tf.matMul(gelu(tf.matMul(h2, w["mlp.c_fc.weight"]).add(w["mlp.c_fc.bias"])), w["mlp.c_proj.weight"]).add(w["mlp.c_proj.bias"]);
  return x3.add(m).reshape([B, T, D]);
}

/** Final norm: hidden [B, T, D] → [B·T, D]. */
export function finalNorm(config: LmConfig, g: Globals, x: T): T {
  return tf.tidy(() => {
    const x2 = x.reshape([-1, config.hiddenSize]);
    return config.family === "gpt2" ? layerNorm(x2, g.norm!, g.normBias!, config.eps) : rmsNorm(x2, g.norm!, config.eps);
  });
}

/** Logits [N, V] of normed hidden rows [N, D]. */
export function logits(g: Globals, h: T): T {
  return tf.matMul(h, g.head!);
}

/** An empty cache per layer, for incremental decoding of B sequences. */
export function emptyCache(config: LmConfig, B: number): KvCache[] {
  return Array.from({ length: config.numLayers }, () => ({
    k: tf.zeros([B, config.numKvHeads, config.headDim, 0]),
    v: tf.zeros([B, config.numKvHeads, 0, config.headDim]),
  }));
}
