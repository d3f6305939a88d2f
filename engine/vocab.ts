/**
 * Models re-indexed to one output vocabulary (io/vocab.ts plans the rows by
 * token string, mergekit's rules): each model's embedding and output-head
 * matrices become [rows, dim] computed sources whose rows are read, chunk by
 * chunk, from the input checkpoints. The output tokenizer files and vocab_size
 * travel with the models to save().
 */
import path from "node:path";
import { MergelabError } from "../core/errors.js";
import { configField, readHfConfig, tiedHead } from "../io/hfconfig.js";
import { planVocabulary, readModelVocab, type ModelVocab, type VocabOptions, type VocabPlan } from "../io/vocab.js";
import { compareTensorNames, type Checkpoint } from "../io/index.js";
import { ComputedSource } from "./computed.js";
import { ModelValue, type TensorMeta } from "./model.js";

/** Embedding-like matrices (rows = tokens) of the common architectures. */
export const VOCAB_TENSORS = [
  "model.embed_tokens.weight", "lm_head.weight", "transformer.wte.weight", "model.decoder.embed_tokens.weight",
  "transformer.word_embeddings.weight", "gpt_neox.embed_in.weight", "embed_out.weight", "model.language_model.embed_tokens.weight",
];

function leafCheckpoint(m: ModelValue): Checkpoint {
  const s = m.inputs.length === 1 ? m.inputs[0] : undefined;
  if (!s || s.kind !== "checkpoint" || m.origin === undefined) {
    throw new MergelabError(`${m.label}: vocabularies can be aligned only on loaded checkpoints (load() results), before any merge`);
  }
  return s.checkpoint;
}

export interface AlignedVocab {
  models: ModelValue[];
  plan: VocabPlan;
}

/**
 * Re-index `models` to one vocabulary. `opts.base` is the index of the base
 * model (its tokenizer is the starting point for "base" and "union").
 */
export function alignVocab(models: readonly ModelValue[], opts: VocabOptions): AlignedVocab {
  const ckpts = models.map(leafCheckpoint);
  const vocabs: ModelVocab[] = models.map((m, i) => {
    const dir = ckpts[i].path.endsWith(".safetensors") ? path.dirname(ckpts[i].path) : ckpts[i].path;
    const cfg = readHfConfig(dir);
    const embedName = VOCAB_TENSORS.find((n) => m.tensors.has(n));
    const rowsOf = embedName ? m.tensors.get(embedName)!.shape[0] : undefined;
    const v = configField(cfg, "vocab_size")?.value;
    const size = typeof v === "number" ? v : rowsOf;
    const mv = readModelVocab(dir, m.label, size);
    if (!mv) throw new MergelabError(`${m.label}: no tokenizer.json, so its embedding rows cannot be matched to tokens`);
    return mv;
  });
  const plan = planVocabulary(vocabs, opts);
  const names = VOCAB_TENSORS.filter((n) => models.some((m) => m.tensors.has(n)));
  if (names.length === 0) throw new MergelabError(`no embedding tensor (${VOCAB_TENSORS.slice(0, 3).join(", ")}, ...) in ${models.map((m) => m.label).join(", ")}`);
  const out = models.map((m, i) => {
    const cfg = readHfConfig(ckpts[i].path);
    const mine = names.filter((n) => m.tensors.has(n) || tiedHead(cfg, m.tensors)?.head === n);
    const inputFor = (j: number, n: string) => {
      if (models[j].tensors.has(n)) return n;
      const tied = tiedHead(readHfConfig(ckpts[j].path), models[j].tensors);
      if (tied?.head === n) return tied.embed;
      throw new MergelabError(`${models[j].label}: no '${n}' to take rows from`, { tensor: n });
    };
    const metas = new Map<string, TensorMeta>();
    const tensors: Record<string, { dim: number; vocab: number; sources: typeof plan.sources[number]; inputs: Array<{ checkpoint: ReturnType<Checkpoint["describe"]>; tensor: string }> }> = {};
    for (const n of mine) {
      const src = inputFor(i, n);
      const shape = m.tensors.get(src)!.shape;
      if (shape.length !== 2) throw new MergelabError(`${m.label}: '${src}' is not a matrix`, { tensor: src });
      const dim = shape[1];
      models.forEach((o, j) => {
        const sj = o.tensors.get(inputFor(j, n))!.shape;
        if (sj[1] !== dim) throw new MergelabError(`'${n}': width ${dim} in ${m.label} but ${sj[1]} in ${o.label}; embeddings of different widths cannot be aligned`, { tensor: n });
      });
      metas.set(n, { shape: [plan.rows, dim], dtype: "F32" });
      tensors[n] = { dim, vocab: plan.tokens.length, sources: plan.sources[i], inputs: models.map((_, j) => ({ checkpoint: ckpts[j].describe(), tensor: inputFor(j, n) })) };
    }
    const label = m.label;
    const source = new ComputedSource(`${label} (vocabulary re-indexed)`, metas, () => ({ kind: "computed", type: "rows", label, tensors }), ckpts);
    const all = new Map(m.tensors);
    for (const [n, meta] of metas) all.set(n, { shape: meta.shape, dtype: (m.tensors.get(n) ?? m.tensors.get(inputFor(i, n)))!.dtype });
    return new ModelValue({
      tensors: new Map([...all].sort((a, b) => compareTensorNames(a[0], b[0]))),
      recipe: (g, name) => (metas.has(name) ? g.input(g.sourceIndex(source), name) : m.recipe(g, name)),
      carry: (name) => m.carry(name),
      layerSource: m.layerSource,
      origin: m.origin,
      label,
      inputs: [...m.inputs, source],
      steps: m.steps,
      hfConfig: m.hfConfig,
      outputFiles: {
        "tokenizer.json": JSON.stringify(plan.tokenizerJson, null, 2) + "\n",
        "tokenizer_config.json": JSON.stringify(plan.tokenizerConfig, null, 2) + "\n",
      },
    });
  });
  return { models: out, plan };
}
