/**
 * A causal language model ready to run: config, tensor layout, tokenizer and a
 * source of weights. `scoreSequences` is the one forward pass every metric
 * uses: all sequences go through layer ℓ before layer ℓ+1 is requested, so a
 * streamed source holds one layer at a time (plus the activations).
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../../core/errors.js";
import { initRuntime, tf } from "../../core/runtime.js";
import type { ExecOptions, ModelValue } from "../../engine/index.js";
import { outputHfConfig } from "../../io/outconfig.js";
import { parseConfig, TensorLayout, type LmConfig } from "./config.js";
import { applyLayer, disposeWeights, embed, finalNorm, globalTensorNames, layerTensorNames, logits, prepareGlobals, prepareLayer, type Globals, type Weights } from "./forward.js";
import { loadTokenizer, type TextTokenizer } from "./tokenizer.js";
import { streamModel, type WeightSource } from "./weights.js";

export class LanguageModel {
  readonly layout: TensorLayout;

  constructor(
    readonly config: LmConfig,
    readonly weights: WeightSource,
    readonly tokenizer: TextTokenizer | undefined,
    readonly label: string,
  ) {
    this.layout = new TensorLayout(config, weights.names);
    const roles = globalTensorNames(config);
    for (const suffix of [roles.embed, roles.norm, roles.normBias, roles.head, roles.positions]) {
      if (suffix && !this.layout.global(suffix)) throw new MergelabError(`${label}: no tensor '${suffix}' (a ${config.modelType} model needs it)`, { tensor: suffix });
    }
    const { required, optional } = layerTensorNames(config.family);
    this.layout.layers.forEach((names, l) => {
      const local = new Set(names.map((n) => this.layout.local(n)));
      const missing = required.find((n) => !local.has(n));
      if (missing) throw new MergelabError(`${label}: no tensor '${this.layout.prefix}${l}.${missing}'`, { tensor: `${this.layout.prefix}${l}.${missing}` });
      this.layerNames[l] = names.filter((n) => required.includes(this.layout.local(n)) || optional.includes(this.layout.local(n)));
    });
  }

  /** Per layer, the tensors the forward pass reads (full names). */
  readonly layerNames: string[][] = [];

  /** Global tensors by role for the first stage (embedding) or the last (norm + head) or both. */
  globalNames(stage: "first" | "last" | "all"): Record<keyof Globals, string | undefined> {
    const r = globalTensorNames(this.config);
    const g = (s: string | undefined) => (s ? this.layout.global(s) : undefined);
    const first = stage !== "last";
    const last = stage !== "first";
    return {
      embed: first || (last && !r.head) ? g(r.embed) : undefined,
      positions: first ? g(r.positions) : undefined,
      norm: last ? g(r.norm) : undefined,
      normBias: last ? g(r.normBias) : undefined,
      head: last ? g(r.head) : undefined,
    };
  }

  tokenizerOrThrow(): TextTokenizer {
    if (!this.tokenizer) throw new MergelabError(`${this.label}: no tokenizer.json next to the model's config.json`);
    return this.tokenizer;
  }
}

/** Directory holding a checkpoint's config.json (the checkpoint itself, or the folder of a single .safetensors file). */
export function configDir(checkpointPath: string): string {
  return checkpointPath.endsWith(".safetensors") ? path.dirname(checkpointPath) : checkpointPath;
}

function readConfigJson(dir: string): Record<string, unknown> {
  const file = path.join(dir, "config.json");
  if (!fs.existsSync(file)) throw new MergelabError(`${file}: not found (language-model evaluation needs the model's config.json)`, { file });
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new MergelabError(`${file}: ${(e as Error).message}`, { file });
  }
}

/**
 * A language model over a model value — a checkpoint or a lazy merge: the
 * config is the model's (its origin's config.json) with the layer count of its
 * own tensors (a stack of slices has another), the tokenizer is its origin's,
 * and the weights are streamed from the engine.
 */
export function languageModel(model: ModelValue, opts: ExecOptions = {}): LanguageModel {
  if (!model.origin) throw new MergelabError(`${model.label}: no checkpoint of origin to read config.json and tokenizer.json from`);
  const dir = configDir(model.origin.path);
  const raw = model.hfConfig ?? readConfigJson(dir);
  const config = parseConfig(outputHfConfig(raw, { numLayers: model.numLayers }), path.join(dir, "config.json"));
  return new LanguageModel(config, streamModel(model, opts), loadTokenizer(dir), model.label);
}

/** A scoring request: the tokens of one sequence, of which the last `scored` are predicted (each from all tokens before it). */
export interface ScoreRequest {
  tokens: readonly number[];
  scored: number;
}

export interface Score {
  /** Sum of log p(token | prefix) over the scored tokens (natural log). */
  logprob: number;
  /** Every scored token is the argmax of its prediction (lm-evaluation-harness `is_greedy`). */
  greedy: boolean;
  /** Per scored token log-probabilities (float32). */
  tokenLogprobs: Float32Array;
}

export interface ScoreOptions {
  /** Sequences per forward batch (default 8). */
  batchSize?: number;
  /** Rows of logits computed at once (bounds the [rows, vocab] buffer; default 256). */
  headRows?: number;
  /**
   * Input tokens whose activations one streamed pass holds (default 65536: with
   * hidden size 4096, 1 GiB of float32). More tokens take further passes, each
   * streaming the weights again.
   */
  passTokens?: number;
}

interface Batch {
  members: number[]; // request indices
  T: number;
  ids: Int32Array;
}

function makeBatches(reqs: readonly ScoreRequest[], batchSize: number): Batch[] {
  // longest first (like lm-evaluation-harness); ties by index, so batches do not depend on sort stability
  const order = reqs.map((_, i) => i).sort((a, b) => reqs[b].tokens.length - reqs[a].tokens.length || a - b);
  const batches: Batch[] = [];
  for (let s = 0; s < order.length; s += batchSize) {
    const members = order.slice(s, s + batchSize);
    const T = reqs[members[0]].tokens.length - 1;
    const ids = new Int32Array(members.length * T); // right-padded with id 0: causal attention never looks right
    members.forEach((r, b) => ids.set(reqs[r].tokens.slice(0, -1), b * T));
    batches.push({ members, T, ids });
  }
  return batches;
}

async function loadGlobals(lm: LanguageModel, weights: Weights, stage: "first" | "last" | "all"): Promise<Globals> {
  const names = lm.globalNames(stage);
  const raw: Globals = {};
  for (const [role, name] of Object.entries(names)) if (name) raw[role as keyof Globals] = weights[name];
  return prepareGlobals(raw, stage !== "first");
}

function stageGroup(names: Record<string, string | undefined>): string[] {
  return [...new Set(Object.values(names).filter((n): n is string => n !== undefined))];
}

/**
 * Score requests with layer-streamed passes: embed every batch, then for each
 * layer fetch its weights once and apply them to every batch, then the norm and
 * head. Batches whose activations would exceed `passTokens` go to further
 * passes (the weights are streamed again). Deterministic: the same requests
 * and batch size give bit-identical scores.
 */
export async function scoreSequences(lm: LanguageModel, reqs: readonly ScoreRequest[], opts: ScoreOptions = {}): Promise<Score[]> {
  await initRuntime();
  for (const [i, r] of reqs.entries()) {
    if (r.tokens.length < 2 || r.scored < 1 || r.scored > r.tokens.length - 1) throw new MergelabError(`request ${i}: needs at least one context token and 1..${r.tokens.length - 1} scored tokens`);
    for (const t of r.tokens) if (!Number.isInteger(t) || t < 0 || t >= lm.config.vocabSize) throw new MergelabError(`request ${i}: token id ${t} is outside the vocabulary (0..${lm.config.vocabSize - 1})`);
  }
  const batches = makeBatches(reqs, Math.max(1, Math.floor(opts.batchSize ?? 8)));
  const scores: Score[] = new Array(reqs.length);
  const limit = opts.passTokens ?? 1 << 16;
  let pass: Batch[] = [];
  let tokens = 0;
  for (const b of batches) {
    const n = b.members.length * b.T;
    if (pass.length > 0 && tokens + n > limit) {
      await scorePass(lm, pass, reqs, scores, opts);
      pass = [];
      tokens = 0;
    }
    pass.push(b);
    tokens += n;
  }
  if (pass.length > 0) await scorePass(lm, pass, reqs, scores, opts);
  return scores;
}

/** One streamed pass over the weights for `batches`. */
async function scorePass(lm: LanguageModel, batches: Batch[], reqs: readonly ScoreRequest[], scores: Score[], opts: ScoreOptions): Promise<void> {
  const first = lm.globalNames("first");
  const last = lm.globalNames("last");
  const groups = [stageGroup(first), ...lm.layerNames, stageGroup(last)];
  let hidden: tf.Tensor[] = [];
  let stage = 0;
  try {
    for await (const w of lm.weights.stream(groups)) {
      if (stage === 0) {
        const g = await loadGlobals(lm, w, "first");
        hidden = batches.map((b) => embed(lm.config, g, b.ids, b.members.length, b.T));
        disposeWeights(g);
      } else if (stage <= lm.config.numLayers) {
        const l = stage - 1;
        const local: Weights = {};
        for (const [name, t] of Object.entries(w)) local[lm.layout.local(name)] = t;
        const p = prepareLayer(lm.config, local);
        hidden = hidden.map((x) => {
          const y = applyLayer(lm.config, l, p, x);
          x.dispose();
          return y;
        });
        disposeWeights(p);
      } else {
        const g = await loadGlobals(lm, w, "last");
        for (const [bi, b] of batches.entries()) await headScores(lm, g, b, hidden[bi], reqs, scores, opts.headRows ?? 256);
        disposeWeights(g);
      }
      stage++;
    }
  } finally {
    hidden.forEach((x) => x.dispose());
  }
}

/** Log-probabilities and greedy flags of the scored positions of one batch. */
async function headScores(lm: LanguageModel, g: Globals, b: Batch, x: tf.Tensor, reqs: readonly ScoreRequest[], out: Score[], headRows: number): Promise<void> {
  const rows: number[] = [];
  const targets: number[] = [];
  for (const [bi, r] of b.members.entries()) {
    const toks = reqs[r].tokens;
    const n = reqs[r].scored;
    for (let k = 0; k < n; k++) {
      const pos = toks.length - 1 - n + k; // input position that predicts toks[pos + 1]
      rows.push(bi * b.T + pos);
      targets.push(toks[pos + 1]);
    }
  }
  const V = lm.config.vocabSize;
  const lp = new Float32Array(rows.length);
  const greedy = new Uint8Array(rows.length);
  const h = finalNorm(lm.config, g, x);
  try {
    for (let s = 0; s < rows.length; s += headRows) {
      const e = Math.min(rows.length, s + headRows);
      const [v, a] = tf.tidy(() => {
        const z = logits(g, tf.gather(h, tf.tensor1d(rows.slice(s, e), "int32")));
        const flat = Int32Array.from(targets.slice(s, e), (t, i) => i * V + t);
        const picked = tf.gather(z.reshape([-1]), tf.tensor1d(flat, "int32"));
        return [picked.sub(tf.logSumExp(z, 1)), tf.argMax(z, 1)];
      });
      lp.set(await v.data(), s);
      const am = await a.data();
      for (let i = 0; i < e - s; i++) greedy[s + i] = am[i] === targets[s + i] ? 1 : 0;
      v.dispose();
      a.dispose();
    }
  } finally {
    h.dispose();
  }
  let k = 0;
  for (const r of b.members) {
    const n = reqs[r].scored;
    const tokenLogprobs = lp.slice(k, k + n);
    let sum = 0;
    let all = true;
    for (let i = 0; i < n; i++) {
      sum += tokenLogprobs[i];
      all &&= greedy[k + i] === 1;
    }
    out[r] = { logprob: sum, greedy: all, tokenLogprobs };
    k += n;
  }
}

/** Full logits [B, T, V] of token sequences of equal length (tests, small inputs). */
export async function forwardLogits(lm: LanguageModel, ids: readonly (readonly number[])[]): Promise<Float32Array> {
  await initRuntime();
  const B = ids.length;
  const T = ids[0].length;
  const flat = Int32Array.from(ids.flat());
  const groups = [stageGroup(lm.globalNames("first")), ...lm.layerNames, stageGroup(lm.globalNames("last"))];
  let x: tf.Tensor | undefined;
  let result: Float32Array | undefined;
  let stage = 0;
  for await (const w of lm.weights.stream(groups)) {
    if (stage === 0) {
      const g = await loadGlobals(lm, w, "first");
      x = embed(lm.config, g, flat, B, T);
      disposeWeights(g);
    } else if (stage <= lm.config.numLayers) {
      const local: Weights = {};
      for (const [name, t] of Object.entries(w)) local[lm.layout.local(name)] = t;
      const p = prepareLayer(lm.config, local);
      const y = applyLayer(lm.config, stage - 1, p, x!);
      x!.dispose();
      x = y;
      disposeWeights(p);
    } else {
      const g = await loadGlobals(lm, w, "last");
      const h = finalNorm(lm.config, g, x!);
      const z = logits(g, h);
      result = (await z.data()) as Float32Array;
      tf.dispose([h, z, x!]);
      disposeWeights(g);
    }
    stage++;
  }
  return result!;
}
