/**
 * A causal LM's shape from its Hugging Face `config.json`: the two supported
 * families (Llama-style decoders — llama, mistral, qwen2 — and GPT-2), their
 * sizes, RoPE settings and which tensors hold which layer.
 */
import { MergelabError } from "../../core/errors.js";

export type Family = "llama" | "gpt2";

/** model_type values this module runs, and the family each belongs to. */
export const SUPPORTED_MODEL_TYPES: Readonly<Record<string, Family>> = { llama: "llama", mistral: "llama", qwen2: "llama", gpt2: "gpt2" };

export interface RopeConfig {
  theta: number;
  /** "default" (none), "linear" (positions / factor), "llama3" (Llama 3.1 frequency-band rescaling). */
  type: "default" | "linear" | "llama3";
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

export interface LmConfig {
  family: Family;
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  /** RMSNorm (llama) or LayerNorm (gpt2) epsilon. */
  eps: number;
  maxPositions: number;
  /** Llama family only. */
  rope?: RopeConfig;
  tiedHead: boolean;
  /** Mistral's sliding-window attention (keys further back than this are masked); undefined = full causal. */
  slidingWindow?: number;
  /** GPT-2's scale_attn_by_inverse_layer_idx. */
  scaleByLayer: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
}

type Json = Record<string, unknown>;

function num(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new MergelabError(`${file}: '${key}' must be a number (got ${JSON.stringify(cfg[key])})`, { file });
  return v;
}

function firstId(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (Array.isArray(v) && typeof v[0] === "number") return v[0];
  return undefined;
}

function ropeConfig(cfg: Json, file: string): RopeConfig {
  const theta = num(cfg, "rope_theta", file, 10000);
  const s = cfg.rope_scaling as Json | null | undefined;
  const base = { theta, type: "default" as const, factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
  if (s == null) return base;
  const type = String(s.rope_type ?? s.type ?? "default");
  if (type === "default") return base;
  if (type === "linear") return { ...base, type, factor: num(s, "factor", file) };
  if (type === "llama3") {
    return {
      ...base,
      type,
      factor: num(s, "factor", file),
      lowFreqFactor: num(s, "low_freq_factor", file),
      highFreqFactor: num(s, "high_freq_factor", file),
      originalMaxPositions: num(s, "original_max_position_embeddings", file),
    };
  }
  throw new MergelabError(`${file}: rope_scaling type '${type}' is not supported (supported: default, linear, llama3)`, { file });
}

/** Parse a config.json object (`file` names it in errors). */
export function parseConfig(cfg: Json, file = "config.json"): LmConfig {
  const modelType = String(cfg.model_type ?? "");
  const family = SUPPORTED_MODEL_TYPES[modelType];
  if (!family) {
    const list = Object.keys(SUPPORTED_MODEL_TYPES).join(", ");
    throw new MergelabError(`${file}: model_type '${modelType || "(missing)"}' is not supported; language-model evaluation runs ${list}`, { file });
  }
  const common = { modelType, family, bosTokenId: firstId(cfg.bos_token_id), eosTokenId: firstId(cfg.eos_token_id) };
  if (family === "gpt2") {
    const hiddenSize = num(cfg, "n_embd", file);
    const numHeads = num(cfg, "n_head", file);
    const act = String(cfg.activation_function ?? "gelu_new");
    if (act !== "gelu_new" && act !== "gelu_pytorch_tanh") throw new MergelabError(`${file}: activation_function '${act}' is not supported for gpt2 (supported: gelu_new)`, { file });
    return {
      ...common,
      vocabSize: num(cfg, "vocab_size", file),
      hiddenSize,
      numLayers: num(cfg, "n_layer", file),
      numHeads,
      numKvHeads: numHeads,
      headDim: hiddenSize / numHeads,
      intermediateSize: typeof cfg.n_inner === "number" ? cfg.n_inner : 4 * hiddenSize,
      eps: num(cfg, "layer_norm_epsilon", file, 1e-5),
      maxPositions: num(cfg, "n_positions", file, 1024),
      tiedHead: true,
      scaleByLayer: cfg.scale_attn_by_inverse_layer_idx === true,
    };
  }
  const act = String(cfg.hidden_act ?? "silu");
  if (act !== "silu") throw new MergelabError(`${file}: hidden_act '${act}' is not supported (supported: silu)`, { file });
  if (modelType === "qwen2" && cfg.use_sliding_window === true) throw new MergelabError(`${file}: qwen2 with use_sliding_window is not supported`, { file });
  const hiddenSize = num(cfg, "hidden_size", file);
  const numHeads = num(cfg, "num_attention_heads", file);
  const window = modelType === "mistral" && typeof cfg.sliding_window === "number" ? cfg.sliding_window : undefined;
  return {
    ...common,
    vocabSize: num(cfg, "vocab_size", file),
    hiddenSize,
    numLayers: num(cfg, "num_hidden_layers", file),
    numHeads,
    numKvHeads: num(cfg, "num_key_value_heads", file, numHeads),
    headDim: typeof cfg.head_dim === "number" ? cfg.head_dim : hiddenSize / numHeads,
    intermediateSize: num(cfg, "intermediate_size", file),
    eps: num(cfg, "rms_norm_eps", file, 1e-6),
    maxPositions: num(cfg, "max_position_embeddings", file, 2048),
    rope: ropeConfig(cfg, file),
    tiedHead: cfg.tie_word_embeddings === true,
    slidingWindow: window,
    scaleByLayer: false,
  };
}

/**
 * Which checkpoint tensors belong to layer ℓ and which are global (embeddings,
 * final norm, head). Names are matched by the layer prefix, so checkpoints
 * saved with or without the `model.` / `transformer.` prefix both work.
 */
export class TensorLayout {
  readonly layers: string[][];
  readonly globals: string[];
  /** Layer prefix ("model.layers." / "h." / "transformer.h."): local name = name minus `${prefix}${ℓ}.`. */
  readonly prefix: string;

  constructor(readonly config: LmConfig, names: Iterable<string>) {
    const all = [...names];
    const candidates = config.family === "gpt2" ? ["transformer.h.", "h."] : ["model.layers.", "layers."];
    this.prefix = candidates.find((p) => all.some((n) => n.startsWith(p))) ?? candidates[0];
    this.layers = Array.from({ length: config.numLayers }, () => []);
    this.globals = [];
    for (const n of all) {
      if (n.startsWith(this.prefix)) {
        const l = Number.parseInt(n.slice(this.prefix.length), 10);
        if (l >= 0 && l < config.numLayers) this.layers[l].push(n);
        continue;
      }
      this.globals.push(n);
    }
  }

  /** `model.layers.3.self_attn.q_proj.weight` → `self_attn.q_proj.weight`. */
  local(name: string): string {
    const rest = name.slice(this.prefix.length);
    return rest.slice(rest.indexOf(".") + 1);
  }

  /** The global tensor named `suffix` with any prefix (`model.norm.weight` for `norm.weight`); undefined if absent. */
  global(suffix: string): string | undefined {
    return this.globals.find((n) => n === suffix || n.endsWith(`.${suffix}`));
  }
}
