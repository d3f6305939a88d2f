/**
 * Vocabularies of merged models, mergekit's rules (mergekit/tokenizer/build.py
 * and embed.py), by token *string* from each model's `tokenizer.json` (read with
 * @huggingface/tokenizers):
 *
 * - the output vocabulary: `base` (the base model's, tokens with id ≥ its
 *   vocab_size dropped), `union` (the base's, then every other model's tokens it
 *   lacks, appended in model order and id order; added tokens keep their flags),
 *   or one model's; then `tokens:` / add_tokens entries it lacks are appended;
 * - for each model, row r of its re-indexed embedding (and lm_head) is its own
 *   row of token r when it has the token (and the token is not `force`d), else
 *   the token's default: a `tokens:` override (zero, a model's row, or a model's
 *   row of another token), else the only model that has it, else the base's row,
 *   else the mean over the models that have it; a token no model has is zero;
 * - `pad_to_multiple_of`: rows past the vocabulary are the mean of the first
 *   |vocab| rows of that model's re-indexed matrix.
 *
 * This module plans the rows (pure data); the engine reads them chunk by chunk.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import type { Tokenizer } from "@huggingface/tokenizers";

// Loaded when a vocabulary is first read (its CommonJS build, synchronously), not at every start.
let tokenizerClass: typeof Tokenizer | undefined;
const TokenizerClass = (): typeof Tokenizer =>
  (tokenizerClass ??= (createRequire(import.meta.url)("@huggingface/tokenizers") as typeof import("@huggingface/tokenizers")).Tokenizer);
import { MergelabError } from "../core/errors.js";

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

export interface ModelVocab {
  /** How the user wrote the model. */
  label: string;
  /** token string → id (model vocabulary and added tokens), ids < vocabSize only. */
  vocab: Map<string, number>;
  /** Added tokens by content (ids < vocabSize). */
  added: Map<string, AddedTokenJson>;
  /** Rows of the model's embedding matrix (config vocab_size, else the vocabulary's size). */
  vocabSize: number;
  /** The parsed tokenizer.json and tokenizer_config.json (written back for the output). */
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

function readJson(file: string): Record<string, unknown> {
  try {
    const v = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Record<string, unknown>;
  } catch (e) {
    throw new MergelabError(`${file}: not valid JSON (${(e as Error).message})`, { file });
  }
}

/**
 * A model's vocabulary from `<dir>/tokenizer.json` (+ tokenizer_config.json), cut
 * to `vocabSize` rows (mergekit's get_stripped_tokenizer). Undefined when the
 * directory has no tokenizer.json.
 */
export function readModelVocab(dir: string, label: string, vocabSize?: number): ModelVocab | undefined {
  const file = path.join(dir, "tokenizer.json");
  if (!fs.existsSync(file)) return undefined;
  const tokenizerJson = readJson(file);
  const cfgFile = path.join(dir, "tokenizer_config.json");
  const tokenizerConfig = fs.existsSync(cfgFile) ? readJson(cfgFile) : {};
  let tok: Tokenizer;
  try {
    tok = new (TokenizerClass())(tokenizerJson, tokenizerConfig);
  } catch (e) {
    throw new MergelabError(`${file}: not a tokenizer the tokenizers library can read (${(e as Error).message})`, { file });
  }
  const all = tok.get_vocab(true);
  const size = vocabSize ?? Math.max(-1, ...all.values()) + 1;
  const vocab = new Map<string, number>();
  for (const [t, id] of [...all].sort((a, b) => a[1] - b[1])) if (id < size && !vocab.has(t)) vocab.set(t, id);
  const added = new Map<string, AddedTokenJson>();
  for (const a of (tokenizerJson.added_tokens as AddedTokenJson[] | undefined) ?? []) if (a.id < size) added.set(a.content, a);
  return { label, vocab, added, vocabSize: size, tokenizerJson, tokenizerConfig };
}

/** Where one row of one model's re-indexed matrix comes from. */
export type RowSource =
  | { kind: "row"; model: number; row: number }
  | { kind: "mean"; rows: ReadonlyArray<{ model: number; row: number }> }
  | { kind: "zero" }
  /** Padding: the mean of rows [0, |vocab|) of this model's re-indexed matrix. */
  | { kind: "pad" };

export interface TokenOverride {
  source?: { kind: "zero" } | { kind: "model"; model: number } | { kind: "model_token"; model: number; token?: string; tokenId?: number };
  force?: boolean;
}

export interface VocabOptions {
  /** Index of the base model (mergekit: the config's base_model), if any. */
  base?: number;
  source: "base" | "union" | { model: number };
  /** mergekit's `tokenizer: tokens:` block, by token string. */
  tokens?: Readonly<Record<string, TokenOverride>>;
  padToMultipleOf?: number;
}

export interface VocabPlan {
  /** Output id → token string. */
  tokens: string[];
  /** Rows of every output embedding (|tokens| padded). */
  rows: number;
  /** Per model: output id → the model's own row of that token, or -1. */
  perm: Int32Array[];
  /** Per model: where each output row comes from. */
  sources: RowSource[][];
  /** The output tokenizer.json and tokenizer_config.json. */
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/** Build the output vocabulary and each model's row plan (mergekit's build_tokenizer + PermutedEmbeddings). */
export function planVocabulary(models: readonly ModelVocab[], opts: VocabOptions): VocabPlan {
  if (models.length === 0) throw new MergelabError("no models to build a vocabulary from");
  const baseIdx = opts.base ?? 0;
  const tokBase = models[baseIdx];
  // the output vocabulary, as (token, added-token info) in id order
  let out: { tokens: string[]; json: Record<string, unknown>; config: Record<string, unknown> };
  if (typeof opts.source === "object") {
    const m = models[opts.source.model];
    out = { tokens: idOrder(m.vocab, m.label), json: clone(m.tokenizerJson), config: clone(m.tokenizerConfig) };
  } else {
    out = { tokens: idOrder(tokBase.vocab, tokBase.label), json: clone(tokBase.tokenizerJson), config: clone(tokBase.tokenizerConfig) };
    if (opts.source === "union") {
      const order = [baseIdx, ...models.map((_, i) => i).filter((i) => i !== baseIdx)];
      const seen = new Set(out.tokens);
      // regular tokens first, then added tokens (mergekit adds out_vocab then out_added_tokens)
      const addedInfo = new Map<string, AddedTokenJson>();
      for (const i of order) for (const [t, a] of models[i].added) if (!addedInfo.has(t)) addedInfo.set(t, a);
      for (const i of order) {
        for (const t of idOrder(models[i].vocab, models[i].label)) {
          if (addedInfo.has(t) || seen.has(t)) continue;
          seen.add(t);
          appendToken(out, t, undefined);
        }
      }
      for (const [t, a] of addedInfo) {
        if (seen.has(t)) continue;
        seen.add(t);
        appendToken(out, t, a);
      }
    }
  }
  for (const t of Object.keys(opts.tokens ?? {})) if (!out.tokens.includes(t)) appendToken(out, t, undefined);

  const V = out.tokens.length;
  const pad = opts.padToMultipleOf;
  if (pad !== undefined && !(Number.isInteger(pad) && pad > 0)) throw new MergelabError(`pad_to_multiple_of must be a positive integer (got ${pad})`, { param: "pad_to_multiple_of" });
  const rows = pad && V % pad ? (Math.floor(V / pad) + 1) * pad : V;

  const perm = models.map((m) => {
    const p = new Int32Array(V).fill(-1);
    out.tokens.forEach((t, id) => {
      const r = m.vocab.get(t);
      if (r !== undefined && r < m.vocabSize) p[id] = r;
    });
    return p;
  });

  // each token's default row (mergekit's assign_embedding_sources + compute_default_embedding)
  const defaults: RowSource[] = out.tokens.map((t, id) => {
    const cfg = opts.tokens?.[t];
    if (cfg?.source) return overrideSource(cfg.source, t, id, models, perm);
    const has = perm.map((p, i) => (p[id] >= 0 ? i : -1)).filter((i) => i >= 0);
    if (has.length === 1) return { kind: "row", model: has[0], row: perm[has[0]][id] };
    if (has.length === 0) return { kind: "zero" };
    if (opts.base !== undefined && perm[opts.base][id] >= 0) return { kind: "row", model: opts.base, row: perm[opts.base][id] };
    return { kind: "mean", rows: has.map((i) => ({ model: i, row: perm[i][id] })) };
  });
  const sources = models.map((_, i) => {
    const s: RowSource[] = out.tokens.map((t, id) => (perm[i][id] >= 0 && !opts.tokens?.[t]?.force ? { kind: "row", model: i, row: perm[i][id] } : defaults[id]));
    for (let r = V; r < rows; r++) s.push({ kind: "pad" });
    return s;
  });
  return { tokens: out.tokens, rows, perm, sources, tokenizerJson: out.json, tokenizerConfig: out.config };
}

function overrideSource(src: NonNullable<TokenOverride["source"]>, token: string, id: number, models: readonly ModelVocab[], perm: Int32Array[]): RowSource {
  if (src.kind === "zero") return { kind: "zero" };
  const m = models[src.model];
  if (!m) throw new MergelabError(`tokens: '${token}': model ${src.model} is not part of the merge`, { param: "tokens" });
  if (src.kind === "model") {
    const r = perm[src.model][id];
    if (r < 0) throw new MergelabError(`tokens: '${token}' is not in ${m.label}'s vocabulary`, { param: "tokens" });
    return { kind: "row", model: src.model, row: r };
  }
  let row = src.tokenId;
  if (row === undefined) {
    row = src.token === undefined ? undefined : m.vocab.get(src.token);
    if (row === undefined) throw new MergelabError(`tokens: '${token}': token ${JSON.stringify(src.token)} is not in ${m.label}'s vocabulary`, { param: "tokens" });
  }
  if (!(Number.isInteger(row) && row >= 0 && row < m.vocabSize)) throw new MergelabError(`tokens: '${token}': token id ${row} is out of range for ${m.label} (${m.vocabSize} rows)`, { param: "tokens" });
  return { kind: "row", model: src.model, row };
}

function idOrder(vocab: ReadonlyMap<string, number>, label: string): string[] {
  const byId: string[] = [];
  for (const [t, id] of vocab) {
    if (byId[id] !== undefined) continue;
    byId[id] = t;
  }
  for (let i = 0; i < byId.length; i++) {
    if (byId[i] === undefined) throw new MergelabError(`${label}: tokenizer.json has no token with id ${i} (ids must be contiguous to align embedding rows)`);
  }
  return byId;
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** Append a token with the next id, as an added token (HF add_tokens: non-special, normalized unless given flags). */
function appendToken(out: { tokens: string[]; json: Record<string, unknown>; config: Record<string, unknown> }, content: string, info: AddedTokenJson | undefined): void {
  const id = out.tokens.length;
  out.tokens.push(content);
  const special = info?.special ?? false;
  const entry = {
    id, content,
    single_word: info?.single_word ?? false, lstrip: info?.lstrip ?? false, rstrip: info?.rstrip ?? false,
    normalized: info?.normalized ?? !special, special,
  };
  const list = (out.json.added_tokens as AddedTokenJson[] | undefined) ?? [];
  list.push(entry);
  out.json.added_tokens = list;
  const dec = out.config.added_tokens_decoder as Record<string, unknown> | undefined;
  if (dec && typeof dec === "object") {
    const { id: _id, ...rest } = entry;
    dec[String(id)] = rest;
  }
}

/**
 * Rows [r0, r1) of one model's re-indexed matrix ([rows, dim], row-major) into
 * `out`, reading source rows with `readRow(model, row, buf)`. `padRow` is that
 * model's mean of rows [0, |vocab|) (only read when a pad row is in range).
 * Means sum in float64 in model order, then round to float32.
 */
export function fillRows(
  sources: readonly RowSource[],
  dim: number,
  r0: number,
  r1: number,
  readRow: (model: number, row: number) => Float32Array,
  padRow: () => Float32Array,
  out: Float32Array,
): void {
  const acc = new Float64Array(dim);
  for (let r = r0; r < r1; r++) {
    const dst = out.subarray((r - r0) * dim, (r - r0 + 1) * dim);
    const s = sources[r];
    if (s.kind === "row") dst.set(readRow(s.model, s.row));
    else if (s.kind === "zero") dst.fill(0);
    else if (s.kind === "pad") dst.set(padRow());
    else {
      acc.fill(0);
      for (const { model, row } of s.rows) {
        const v = readRow(model, row);
        for (let j = 0; j < dim; j++) acc[j] += v[j];
      }
      for (let j = 0; j < dim; j++) dst[j] = Math.fround(acc[j] / s.rows.length);
    }
  }
}
