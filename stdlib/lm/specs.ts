/**
 * stdlib/lm: evaluate causal language models where you merge them. A model
 * argument may be a checkpoint or a lazy merge: the forward pass streams its
 * layers from the engine (one layer's weights in memory at a time), so a
 * merge is scored without being saved.
 *
 *   m = ties([code, chat], base=base, k=0.3)
 *   perplexity(m, "data/held_out.txt")                     # token perplexity, bits per byte
 *   loglik_choice(m, "data/quiz.jsonl")                    # acc, acc_norm (lm-evaluation-harness semantics)
 *   generate(m, "Once upon a time", max_tokens=20)         # greedy, with a KV cache
 *
 * Data files: docs/evaluation.md.
 */
import { MergelabError } from "../../core/errors.js";
import { Dict, Table, type Value } from "../../core/values.js";
import { isModel, type ModelValue } from "../../engine/model.js";
import type { Args, CallContext, FunctionSpec, ParamSpec } from "../spec.js";
import type { ChoiceItem, EvalOptions } from "./metrics.js";
import type { LanguageModel } from "./model.js";

// The implementation (forward passes, tokenizers) loads when a function is called, not when the
// language starts: `mergelab check` of a script that never evaluates a language model never pays for it.
const data = () => import("./data.js");
const metrics = () => import("./metrics.js");

function modelArg(v: Value | undefined): ModelValue {
  if (!isModel(v)) throw new MergelabError("expected a model (a checkpoint or a merge of them)", { param: "model" });
  return v;
}

/** The language model of a model value; in a dry run only config.json, the tensor names and the tokenizer are checked. */
async function lmOf(a: Args, ctx: CallContext): Promise<LanguageModel> {
  const { languageModel } = await import("./model.js");
  const lm = languageModel(modelArg(a.model), { workers: ctx.options.workers, chunkSize: ctx.options.chunkSize, signal: ctx.signal });
  lm.tokenizerOrThrow();
  return lm;
}

function evalOptions(a: Args): EvalOptions {
  return { batchSize: a.batch_size as number, maxLength: (a.max_length as number | undefined) ?? undefined };
}

async function textsArg(v: Value | undefined, ctx: CallContext): Promise<string[]> {
  if (typeof v === "string") return (await data()).readTexts(v, ctx.cwd);
  if (Array.isArray(v) && v.length > 0 && v.every((t) => typeof t === "string")) return v as string[];
  throw new MergelabError("texts: expected a .txt or .jsonl file, or a list of strings", { param: "texts" });
}

async function itemsArg(v: Value | undefined, ctx: CallContext): Promise<ChoiceItem[]> {
  if (typeof v === "string") return (await data()).readChoiceItems(v, ctx.cwd);
  if (Array.isArray(v) && v.length > 0) {
    const { choiceItem } = await data();
    return v.map((d, i) => {
      if (!(d instanceof Dict)) throw new MergelabError(`items[${i}]: expected a dict {context, choices, gold}`, { param: "items" });
      const o = Object.fromEntries(d.entries) as Record<string, unknown>;
      return choiceItem(o, (msg) => new MergelabError(`items[${i}]: ${msg}`, { param: "items" }));
    });
  }
  throw new MergelabError("items: expected a .jsonl file or a list of dicts {context, choices, gold}", { param: "items" });
}

const common: ParamSpec[] = [
  { name: "per_item", type: "bool", default: false, doc: "one row per text / item instead of one summary row" },
  { name: "batch_size", type: "int", default: 8, range: { min: 1 }, doc: "sequences per forward batch" },
  { name: "max_length", type: "int", range: { min: 1 }, doc: "longest input in tokens (default: the model's context length)" },
];

const perplexitySpec: FunctionSpec = {
  name: "perplexity",
  category: "eval",
  doc: "Token perplexity exp(−Σ log p / tokens) and bits per byte −Σ log p / (bytes · ln 2) of a causal LM on texts, scored like lm-evaluation-harness's loglikelihood_rolling (from the BOS/EOS token, disjoint windows of max_length tokens). The model's layers are streamed: a merge is evaluated without being saved.",
  example: 'perplexity(ties([a, b], base=base, k=0.3), "held_out.txt")',
  params: [
    { name: "model", type: "model", required: true, doc: "a Llama-family (llama, mistral, qwen2) or GPT-2 checkpoint, or a merge of them" },
    { name: "texts", type: ["string", "list"], required: true, doc: "a .txt file (documents separated by blank lines), a .jsonl file ({\"text\": ...} per line) or a list of strings" },
    ...common,
  ],
  returns: "table",
  call: async (a, ctx) => {
    const lm = await lmOf(a, ctx);
    const texts = await textsArg(a.texts, ctx);
    if (ctx.dryRun) return new Table(["model", "texts", "tokens", "bytes", "perplexity", "bits_per_byte"], [[lm.label, texts.length, NaN, NaN, NaN, NaN]]);
    const r = await (await metrics()).perplexity(lm, texts, evalOptions(a));
    if (a.per_item) return new Table(["text", "tokens", "bytes", "perplexity", "bits_per_byte"], r.texts.map((t, i) => [i, t.tokens, t.bytes, t.perplexity, t.bitsPerByte]));
    return new Table(["model", "texts", "tokens", "bytes", "perplexity", "bits_per_byte"], [[lm.label, texts.length, r.tokens, r.bytes, r.perplexity, r.bitsPerByte]]);
  },
};

const loglikChoiceSpec: FunctionSpec = {
  name: "loglik_choice",
  category: "eval",
  doc: 'Multiple choice by log-likelihood, as lm-evaluation-harness scores it: each choice is the continuation " " + choice of the context; acc = the gold choice has the largest summed log-likelihood, acc_norm = the largest log-likelihood per character of the choice.',
  example: 'loglik_choice(m, "quiz.jsonl")',
  params: [
    { name: "model", type: "model", required: true, doc: "a causal LM checkpoint or a merge of them" },
    { name: "items", type: ["string", "list"], required: true, doc: 'a .jsonl file ({"context": ..., "choices": [...], "gold": i} per line) or a list of such dicts' },
    ...common,
  ],
  returns: "table",
  call: async (a, ctx) => {
    const lm = await lmOf(a, ctx);
    const items = await itemsArg(a.items, ctx);
    if (ctx.dryRun) return new Table(["model", "items", "acc", "acc_norm"], [[lm.label, items.length, NaN, NaN]]);
    const r = await (await metrics()).loglikChoice(lm, items, evalOptions(a));
    if (a.per_item) return new Table(["item", "gold", "pred", "pred_norm", "loglik"], r.items.map((x, i) => [i, x.gold, x.pred, x.predNorm, x.loglik]));
    return new Table(["model", "items", "acc", "acc_norm"], [[lm.label, items.length, r.acc, r.accNorm]]);
  },
};

const generateSpec: FunctionSpec = {
  name: "generate",
  category: "eval",
  doc: "Greedy continuation of a prompt (for eyeballing a merge), decoded with a key/value cache. Unlike the metrics, it holds the whole model while it decodes.",
  example: 'generate(m, "Once upon a time", max_tokens=20)',
  params: [
    { name: "model", type: "model", required: true, doc: "a causal LM checkpoint or a merge of them" },
    { name: "prompt", type: "string", required: true, doc: "the text to continue (encoded with the tokenizer's special tokens, e.g. BOS)" },
    { name: "max_tokens", type: "int", default: 32, range: { min: 1 }, doc: "tokens to generate at most (stops earlier at EOS)" },
  ],
  returns: "table",
  call: async (a, ctx) => {
    const lm = await lmOf(a, ctx);
    const prompt = a.prompt as string;
    if (ctx.dryRun) return new Table(["model", "prompt", "completion", "tokens"], [[lm.label, prompt, "", 0]]);
    const r = await (await metrics()).generate(lm, prompt, a.max_tokens as number);
    return new Table(["model", "prompt", "completion", "tokens"], [[lm.label, prompt, r.text, r.tokens.length]]);
  },
};

export const specs: FunctionSpec[] = [perplexitySpec, loglikChoiceSpec, generateSpec];
