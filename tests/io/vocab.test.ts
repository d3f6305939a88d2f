// Vocabulary alignment by token string (mergekit's tokenizer_source base | union | model, tokens:, pad_to_multiple_of),
// on tokenizer.json files read by @huggingface/tokenizers; every output row checked against the token strings.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Tokenizer } from "@huggingface/tokenizers";
import { fillRows, planVocabulary, readModelVocab, type ModelVocab, type RowSource } from "../../io/vocab.js";
import { tempDir } from "../helpers.js";

const WORDS = ["<unk>", "the", "cat", "sat", "on", "mat"];
const added = (id: number, content: string, special = true) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special });

function tokenizerDir(root: string, name: string, extra: Array<[string, boolean]>, config: Record<string, unknown> = {}): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const vocab: Record<string, number> = Object.fromEntries(WORDS.map((w, i) => [w, i]));
  const addedTokens = [added(WORDS.length, "<s>")];
  extra.forEach(([t, special], k) => addedTokens.push(added(WORDS.length + 1 + k, t, special)));
  for (const a of addedTokens) vocab[a.content] = a.id;
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify({
    version: "1.0", truncation: null, padding: null, added_tokens: addedTokens, normalizer: null,
    pre_tokenizer: { type: "Whitespace" }, post_processor: null, decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "<unk>" },
  }));
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])), ...config,
  }));
  return dir;
}

/** Distinct, recognisable rows: row r of model m is [100m + r, -(100m + r)]. */
const rowOf = (m: number, r: number) => Float32Array.of(100 * m + r, -(100 * m + r));

function materialize(plan: { rows: number; sources: RowSource[][]; tokens: string[] }, model: number): Float32Array[] {
  const dim = 2;
  const out = new Float32Array(plan.rows * dim);
  const V = plan.tokens.length;
  let pad: Float32Array | undefined;
  const padRow = () => {
    if (!pad) {
      const first = new Float32Array(V * dim);
      fillRows(plan.sources[model], dim, 0, V, rowOf, () => { throw new Error("pad in pad"); }, first);
      pad = new Float32Array(dim);
      for (let j = 0; j < dim; j++) {
        let s = 0;
        for (let r = 0; r < V; r++) s += first[r * dim + j];
        pad[j] = Math.fround(s / V);
      }
    }
    return pad;
  };
  // in odd chunks of rows: chunking must not matter
  for (let r = 0; r < plan.rows; r += 3) fillRows(plan.sources[model], dim, r, Math.min(plan.rows, r + 3), rowOf, padRow, out.subarray(r * dim));
  return Array.from({ length: plan.rows }, (_, r) => out.subarray(r * dim, r * dim + dim));
}

describe("vocabularies aligned by token string", () => {
  const root = tempDir();
  // A: 7 tokens (6 words + <s>); B: the same plus two added tokens (the 32000 vs 32002 case)
  const A = readModelVocab(tokenizerDir(root, "a", []), "a")!;
  const B = readModelVocab(tokenizerDir(root, "b", [["<tool>", true], ["<think>", false]]), "b")!;
  const models: ModelVocab[] = [A, B];

  it("reads tokenizer.json with the tokenizers library (ids, added tokens, vocab size)", () => {
    expect(A.vocabSize).toBe(7);
    expect(B.vocabSize).toBe(9);
    expect(B.vocab.get("<think>")).toBe(8);
    expect([...B.added.keys()]).toEqual(["<s>", "<tool>", "<think>"]);
    // a config vocab_size below the tokenizer's drops the tokens past it (mergekit's stripped tokenizer)
    const cut = readModelVocab(path.join(root, "b"), "b", 8)!;
    expect(cut.vocab.has("<think>")).toBe(false);
    expect(cut.vocab.get("<tool>")).toBe(7);
  });

  it("union: the base's tokens, then the other's it lacks; each model's rows by token string", () => {
    const plan = planVocabulary(models, { base: 0, source: "union" });
    expect(plan.tokens).toEqual([...WORDS, "<s>", "<tool>", "<think>"]);
    expect(plan.rows).toBe(9);
    const rowsA = materialize(plan, 0);
    const rowsB = materialize(plan, 1);
    plan.tokens.forEach((t, id) => {
      // B has every token: its own row of that token
      expect([...rowsB[id]], `B ${t}`).toEqual([...rowOf(1, B.vocab.get(t)!)]);
      // A lacks <tool>/<think>: only B has them, so B's rows are the default (the single donor)
      const want = A.vocab.has(t) ? rowOf(0, A.vocab.get(t)!) : rowOf(1, B.vocab.get(t)!);
      expect([...rowsA[id]], `A ${t}`).toEqual([...want]);
    });
    // the written tokenizer encodes the new tokens to their new ids, with their flags
    const tok = new Tokenizer(plan.tokenizerJson, plan.tokenizerConfig);
    expect(tok.encode("the <tool> cat <think>").ids).toEqual([1, 7, 2, 8]);
    expect(tok.get_added_tokens_decoder().get(7)?.special).toBe(true);
    expect(tok.get_added_tokens_decoder().get(8)?.special).toBe(false);
    expect((plan.tokenizerConfig.added_tokens_decoder as Record<string, { content: string }>)["8"].content).toBe("<think>");
  });

  it("base: the base's vocabulary; the other model's rows re-indexed to it", () => {
    const plan = planVocabulary([B, A], { base: 1, source: "base" });
    expect(plan.tokens).toEqual([...WORDS, "<s>"]);
    const rowsB = materialize(plan, 0);
    plan.tokens.forEach((t, id) => expect([...rowsB[id]], t).toEqual([...rowOf(0, B.vocab.get(t)!)]));
  });

  it("a model's vocabulary; a token several models have but the model lacks: the base's row, else the mean", () => {
    const C = readModelVocab(tokenizerDir(root, "c", [["<think>", false], ["<tool>", true]]), "c")!; // same tokens as B, other ids
    const plan = planVocabulary([A, B, C], { source: { model: 1 } });
    expect(plan.tokens).toEqual(["<unk>", "the", "cat", "sat", "on", "mat", "<s>", "<tool>", "<think>"]);
    expect(plan.perm[2][7]).toBe(8); // <tool> is C's id 8
    const rowsA = materialize(plan, 0);
    // no base: <tool> (in B and C) is the mean of B's row 7 and C's row 8
    expect([...rowsA[7]]).toEqual([(107 + 208) / 2, -(107 + 208) / 2]);
    const withBase = planVocabulary([A, B, C], { base: 2, source: { model: 1 } });
    expect([...materialize(withBase, 0)[7]]).toEqual([...rowOf(2, 8)]);
  });

  it("tokens: overrides (zero, another model's token, force) and pad_to_multiple_of (pad rows = the mean)", () => {
    const plan = planVocabulary(models, {
      base: 0, source: "union", padToMultipleOf: 4,
      tokens: {
        "<think>": { source: { kind: "zero" } },
        "cat": { source: { kind: "model_token", model: 1, token: "mat" }, force: true },
        "<new>": { source: { kind: "model_token", model: 0, tokenId: 3 } },
      },
    });
    expect(plan.tokens.at(-1)).toBe("<new>");
    expect(plan.rows).toBe(12);
    const rowsA = materialize(plan, 0);
    expect([...rowsA[plan.tokens.indexOf("<think>")]]).toEqual([0, 0]);
    expect([...rowsA[2]]).toEqual([...rowOf(1, 5)]); // cat forced to B's "mat"
    expect([...rowsA[plan.tokens.indexOf("<new>")]]).toEqual([...rowOf(0, 3)]);
    const V = plan.tokens.length;
    const mean = [0, 1].map((j) => Math.fround(rowsA.slice(0, V).reduce((s, r) => s + r[j], 0) / V));
    for (let r = V; r < 12; r++) expect([...rowsA[r]]).toEqual(mean);
    expect(() => planVocabulary(models, { source: "union", tokens: { x: { source: { kind: "model_token", model: 0, token: "nope" } } } })).toThrow(/token "nope" is not in a's vocabulary/);
  });
});
