/**
 * Language-model metrics with lm-evaluation-harness request semantics, so
 * numbers compare with the harness's (lm_eval/models/huggingface.py, HFLM):
 *
 * - loglikelihood(context, continuation): trailing spaces of the context move
 *   to the continuation; whole = enc(context + continuation), the continuation
 *   tokens are whole[len(enc(context)):]; an empty context becomes the prefix
 *   token (BOS, else EOS); no special tokens otherwise; inputs longer than the
 *   model's context keep their last max_length + 1 tokens.
 * - multiple choice: continuation = target_delimiter (" ") + choice; acc = the
 *   gold choice has the largest summed log-likelihood; acc_norm = the same on
 *   log-likelihood / len(choice) in characters (lm_eval/api/task.py).
 * - perplexity (loglikelihood_rolling): the prefix token, then the text's tokens
 *   in disjoint windows of max_length predicted tokens, each window conditioned
 *   on the max_length tokens before it (lm_eval/utils.py get_rolling_token_windows
 *   with context_len 1); token perplexity exp(−Σ log p / tokens), bits per byte
 *   −Σ log p / (UTF-8 bytes · ln 2).
 */
import { MergelabError } from "../../core/errors.js";
import { initRuntime, tf } from "../../core/runtime.js";
import { applyLayer, disposeWeights, embed, emptyCache, finalNorm, logits, prepareGlobals, prepareLayer, type Globals, type Weights } from "./forward.js";
import { scoreSequences, type LanguageModel, type ScoreOptions } from "./model.js";

export interface EvalOptions extends ScoreOptions {
  /** Longest input in tokens (default: the model's max_position_embeddings / n_positions). */
  maxLength?: number;
}

/** lm-evaluation-harness's prefix token: BOS when the model has one, else EOS. */
export function prefixToken(lm: LanguageModel): number {
  const id = lm.config.bosTokenId ?? lm.config.eosTokenId;
  if (id === undefined) throw new MergelabError(`${lm.label}: config.json has neither bos_token_id nor eos_token_id (needed to start a text)`);
  return id;
}

/** Tokens of a (context, continuation) pair as lm-evaluation-harness encodes them: [context tokens, continuation tokens]. */
export function encodePair(lm: LanguageModel, context: string, continuation: string): [number[], number[]] {
  const tok = lm.tokenizerOrThrow();
  if (context === "") return [[prefixToken(lm)], tok.encode(continuation)];
  const spaces = context.length - context.trimEnd().length;
  if (spaces > 0) {
    continuation = context.slice(-spaces) + continuation;
    context = context.slice(0, -spaces);
  }
  const whole = tok.encode(context + continuation);
  const ctx = tok.encode(context);
  return [ctx, whole.slice(ctx.length)];
}

export interface LoglikResult {
  logprob: number;
  greedy: boolean;
  tokens: number;
}

/** Summed log-likelihood of each continuation given its context. */
export async function loglikelihood(lm: LanguageModel, pairs: readonly [string, string][], opts: EvalOptions = {}): Promise<LoglikResult[]> {
  const maxLength = opts.maxLength ?? lm.config.maxPositions;
  const reqs = pairs.map(([c, x], i) => {
    const [ctx, cont] = encodePair(lm, c, x);
    if (cont.length === 0) throw new MergelabError(`item ${i}: the continuation ${JSON.stringify(x)} has no tokens`);
    if (cont.length > maxLength) throw new MergelabError(`item ${i}: the continuation has ${cont.length} tokens, more than the model's ${maxLength}`);
    return { tokens: [...ctx, ...cont].slice(-(maxLength + 1)), scored: cont.length };
  });
  const scores = await scoreSequences(lm, reqs, opts);
  return scores.map((s, i) => ({ logprob: s.logprob, greedy: s.greedy, tokens: reqs[i].scored }));
}

export interface ChoiceItem {
  context: string;
  choices: string[];
  /** Index of the correct choice. */
  gold: number;
}

export interface ChoiceResult {
  acc: number;
  accNorm: number;
  items: Array<{ loglik: number[]; pred: number; predNorm: number; gold: number }>;
}

const argmax = (xs: number[]) => xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);

/** Multiple choice by summed log-likelihood (acc) and per-character normalised log-likelihood (acc_norm). */
export async function loglikChoice(lm: LanguageModel, items: readonly ChoiceItem[], opts: EvalOptions & { delimiter?: string } = {}): Promise<ChoiceResult> {
  const delim = opts.delimiter ?? " ";
  items.forEach((it, i) => {
    if (it.choices.length < 2) throw new MergelabError(`item ${i}: needs at least two choices`);
    if (!Number.isInteger(it.gold) || it.gold < 0 || it.gold >= it.choices.length) throw new MergelabError(`item ${i}: gold ${it.gold} is not a choice index (0..${it.choices.length - 1})`);
  });
  const pairs = items.flatMap((it) => it.choices.map((c) => [it.context, delim + c] as [string, string]));
  const lls = await loglikelihood(lm, pairs, opts);
  let k = 0;
  const out: ChoiceResult["items"] = items.map((it) => {
    const loglik = it.choices.map(() => lls[k++].logprob);
    const norm = loglik.map((l, i) => l / it.choices[i].length);
    return { loglik, pred: argmax(loglik), predNorm: argmax(norm), gold: it.gold };
  });
  const mean = (f: (x: (typeof out)[number]) => boolean) => (out.length ? out.filter(f).length / out.length : NaN);
  return { acc: mean((x) => x.pred === x.gold), accNorm: mean((x) => x.predNorm === x.gold), items: out };
}

/** lm-evaluation-harness get_rolling_token_windows with context_len = 1: [input tokens + last target, number scored]. */
export function rollingWindows(tokens: readonly number[], prefix: number, maxLength: number): Array<{ tokens: number[]; scored: number }> {
  const out: Array<{ tokens: number[]; scored: number }> = [];
  if (tokens.length === 0) return out;
  const first = Math.min(maxLength, tokens.length);
  out.push({ tokens: [prefix, ...tokens.slice(0, first)], scored: first });
  for (let done = first; done < tokens.length; ) {
    const n = Math.min(tokens.length - done, maxLength);
    const end = done + n;
    // inputs: the maxLength tokens before the last target; targets: the last n
    const start = Math.max(0, end - maxLength - 1);
    out.push({ tokens: tokens.slice(start, end), scored: n });
    done = end;
  }
  return out;
}

export interface PerplexityResult {
  tokens: number;
  bytes: number;
  logprob: number;
  perplexity: number;
  bitsPerByte: number;
  texts: Array<{ tokens: number; bytes: number; logprob: number; perplexity: number; bitsPerByte: number }>;
}

/** Token perplexity and bits per byte of `texts` (each scored on its own, from the prefix token). */
export async function perplexity(lm: LanguageModel, texts: readonly string[], opts: EvalOptions = {}): Promise<PerplexityResult> {
  const tok = lm.tokenizerOrThrow();
  const maxLength = opts.maxLength ?? lm.config.maxPositions;
  const prefix = prefixToken(lm);
  const windows = texts.map((t) => rollingWindows(tok.encode(t), prefix, maxLength));
  const scores = await scoreSequences(lm, windows.flat(), opts);
  let k = 0;
  const per = texts.map((text, i) => {
    let logprob = 0;
    let tokens = 0;
    for (const w of windows[i]) {
      logprob += scores[k++].logprob;
      tokens += w.scored;
    }
    const bytes = Buffer.byteLength(text, "utf8");
    return { tokens, bytes, logprob, perplexity: Math.exp(-logprob / tokens), bitsPerByte: -logprob / (bytes * Math.LN2) };
  });
  const tokens = per.reduce((a, p) => a + p.tokens, 0);
  const bytes = per.reduce((a, p) => a + p.bytes, 0);
  const logprob = per.reduce((a, p) => a + p.logprob, 0);
  return { tokens, bytes, logprob, perplexity: Math.exp(-logprob / tokens), bitsPerByte: -logprob / (bytes * Math.LN2), texts: per };
}

export interface GenerateResult {
  text: string;
  tokens: number[];
}

/**
 * Greedy decoding with a key/value cache. The whole model is held while it
 * decodes (every step needs every layer); stops at EOS or `maxTokens`.
 * The prompt is encoded with the tokenizer's special tokens (as transformers' tokenizer(prompt)).
 */
export async function generate(lm: LanguageModel, prompt: string, maxTokens: number, opts: { maxLength?: number } = {}): Promise<GenerateResult> {
  await initRuntime();
  const tok = lm.tokenizerOrThrow();
  const ids = tok.encode(prompt, true);
  if (ids.length === 0) ids.push(prefixToken(lm));
  const maxLength = opts.maxLength ?? lm.config.maxPositions;
  const cfg = lm.config;
  const all = lm.globalNames("all");
  const globalGroup = [...new Set(Object.values(all).filter((n): n is string => n !== undefined))];
  let g: Globals | undefined;
  const layers: Weights[] = [];
  const cache = emptyCache(cfg, 1);
  const out: number[] = [];
  try {
    for await (const w of lm.weights.stream([globalGroup, ...lm.layerNames])) {
      if (!g) {
        const raw: Globals = {};
        for (const [role, name] of Object.entries(all)) if (name) raw[role as keyof Globals] = w[name];
        g = prepareGlobals(raw, true);
        continue;
      }
      const local: Weights = {};
      for (const [name, t] of Object.entries(w)) local[lm.layout.local(name)] = t;
      layers.push(prepareLayer(cfg, local));
    }
    let input = ids;
    let pos = 0;
    while (out.length < maxTokens && pos + input.length <= maxLength) {
      let x = embed(cfg, g!, Int32Array.from(input), 1, input.length, pos);
      for (const [l, p] of layers.entries()) {
        const y = applyLayer(cfg, l, p, x, pos, cache[l]);
        x.dispose();
        x = y;
      }
      const next = tf.tidy(() => {
        const h = finalNorm(cfg, g!, x).slice([input.length - 1, 0], [1, cfg.hiddenSize]);
        return tf.argMax(logits(g!, h), 1);
      });
      x.dispose();
      const id = (await next.data())[0];
      next.dispose();
      pos += input.length;
      out.push(id);
      if (id === cfg.eosTokenId) break;
      input = [id];
    }
  } finally {
    if (g) disposeWeights(g);
    layers.forEach(disposeWeights);
    cache.forEach((c) => tf.dispose([c.k, c.v]));
  }
  return { text: tok.decode(out, true), tokens: out };
}
