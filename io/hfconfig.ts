/**
 * Hugging Face `config.json` facts mergelab relies on: the architecture guard
 * (inputs whose model_type / architectures, hidden size, head counts or layer
 * counts disagree are refused before any compute, unless allow_crimes — mergekit's
 * flag and word), and tied embeddings (a model without lm_head.weight whose config
 * ties the head to the input embeddings reads the embeddings as its head).
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../core/errors.js";

export type HfConfig = Record<string, unknown>;

/** config.json of a checkpoint directory (or of the directory holding a .safetensors file); undefined when absent. */
export function readHfConfig(checkpointPath: string): HfConfig | undefined {
  let dir = checkpointPath;
  try {
    if (!fs.statSync(dir).isDirectory()) dir = path.dirname(dir);
  } catch {
    return undefined;
  }
  const file = path.join(dir, "config.json");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v as HfConfig;
  } catch (e) {
    throw new MergelabError(`${file}: not valid JSON (${(e as Error).message})`, { file });
  }
}

/** The keys different architectures use for the same fact, first present wins (text_config for multimodal configs). */
export const CONFIG_FIELDS = {
  model_type: ["model_type"],
  architectures: ["architectures"],
  hidden_size: ["hidden_size", "n_embd", "d_model"],
  num_attention_heads: ["num_attention_heads", "n_head", "num_heads"],
  num_key_value_heads: ["num_key_value_heads", "multi_query_group_num", "num_kv_heads"],
  num_hidden_layers: ["num_hidden_layers", "n_layer", "num_layers"],
  vocab_size: ["vocab_size", "padded_vocab_size"],
} as const;

export type ConfigField = keyof typeof CONFIG_FIELDS;

/** The value of a field and the key it was found under (top level, else text_config). */
export function configField(cfg: HfConfig | undefined, field: ConfigField): { key: string; value: unknown } | undefined {
  if (!cfg) return undefined;
  for (const where of [cfg, cfg.text_config]) {
    if (!where || typeof where !== "object") continue;
    for (const key of CONFIG_FIELDS[field]) {
      const v = (where as HfConfig)[key];
      if (v !== undefined && v !== null) return { key: where === cfg ? key : `text_config.${key}`, value: v };
    }
  }
  return undefined;
}

export function configLayerCount(cfg: HfConfig | undefined): number | undefined {
  const v = configField(cfg, "num_hidden_layers")?.value;
  return typeof v === "number" ? v : undefined;
}

/** The fields the guard compares, in the order it reports them. */
export const GUARDED_FIELDS: readonly ConfigField[] = ["model_type", "architectures", "hidden_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers"];

export interface GuardInput {
  /** How the user wrote the model (a relative path or a Hub id). */
  label: string;
  config: HfConfig | undefined;
}

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Every disagreement between the first model with a config and each other one,
 * over `fields` (models without config.json are not compared).
 */
export function architectureMismatches(models: readonly GuardInput[], fields: readonly ConfigField[] = GUARDED_FIELDS): Array<{ field: ConfigField; a: GuardInput; b: GuardInput; va: unknown; vb: unknown; key: string }> {
  const withCfg = models.filter((m) => m.config !== undefined);
  const out: Array<{ field: ConfigField; a: GuardInput; b: GuardInput; va: unknown; vb: unknown; key: string }> = [];
  if (withCfg.length < 2) return out;
  const [a, ...rest] = withCfg;
  for (const b of rest) {
    for (const field of fields) {
      const fa = configField(a.config, field);
      const fb = configField(b.config, field);
      if (!fa || !fb) continue;
      if (!same(fa.value, fb.value)) out.push({ field, a, b, va: fa.value, vb: fb.value, key: fb.key });
    }
  }
  return out;
}

/**
 * Refuse to combine models of different architectures (before any compute), naming
 * both models and the field, unless allowCrimes. `fields` defaults to all guarded
 * fields; stacks of layers from models of different depth pass the layer count out.
 */
export function checkArchitectures(models: readonly GuardInput[], opts: { allowCrimes?: boolean; fields?: readonly ConfigField[] } = {}): void {
  if (opts.allowCrimes) return;
  const bad = architectureMismatches(models, opts.fields);
  if (bad.length === 0) return;
  const first = bad[0];
  const more = bad.length > 1 ? ` (and ${bad.slice(1).map((m) => m.field).filter((f, i, all) => all.indexOf(f) === i && f !== first.field).join(", ") || "more"})` : "";
  throw new MergelabError(
    `architecture mismatch: ${first.a.label} has ${first.key} = ${show(first.va)} but ${first.b.label} has ${show(first.vb)}${more}; ` +
      `refusing to merge different architectures (--allow-crimes, mergekit's allow_crimes, merges them anyway)`,
  );
}

/** Output-head / input-embedding name pairs of the common architectures (transformers' tied weights). */
export const TIED_PAIRS: ReadonlyArray<readonly [head: string, embed: string]> = [
  ["lm_head.weight", "model.embed_tokens.weight"], // llama, mistral, qwen2, gemma, phi3...
  ["lm_head.weight", "transformer.wte.weight"], // gpt2, gpt-j, starcoder
  ["lm_head.weight", "model.decoder.embed_tokens.weight"], // opt
  ["lm_head.weight", "transformer.word_embeddings.weight"], // bloom, falcon
  ["lm_head.weight", "model.language_model.embed_tokens.weight"], // multimodal wrappers (gemma3, llava-style)
  ["embed_out.weight", "gpt_neox.embed_in.weight"], // gpt-neox, pythia
];

/**
 * transformers ties the output head to the input embeddings when the config says
 * `tie_word_embeddings` (its PretrainedConfig default is true). Returns the head
 * name and the embedding it reads when the checkpoint lacks the head and is tied.
 */
export function tiedHead(cfg: HfConfig | undefined, tensorNames: ReadonlySet<string> | ReadonlyMap<string, unknown>): { head: string; embed: string } | undefined {
  if (!isTied(cfg)) return undefined;
  for (const [head, embed] of TIED_PAIRS) {
    if (!tensorNames.has(head) && tensorNames.has(embed)) return { head, embed };
  }
  return undefined;
}

/** tie_word_embeddings (top level, else text_config), defaulting to transformers' true. */
export function isTied(cfg: HfConfig | undefined): boolean {
  if (!cfg) return false;
  for (const where of [cfg, cfg.text_config]) {
    if (where && typeof where === "object" && typeof (where as HfConfig).tie_word_embeddings === "boolean") return (where as HfConfig).tie_word_embeddings as boolean;
  }
  return true;
}

/** Embedding-like matrices (one row per token) of the common architectures: inputs and output heads. */
export const EMBEDDING_TENSORS: readonly string[] = [
  "model.embed_tokens.weight", "lm_head.weight", "transformer.wte.weight", "model.decoder.embed_tokens.weight",
  "transformer.word_embeddings.weight", "gpt_neox.embed_in.weight", "embed_out.weight", "model.language_model.embed_tokens.weight",
];
