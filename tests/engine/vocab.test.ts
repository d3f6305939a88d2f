// Models re-indexed to one vocabulary (engine/vocab.ts): two checkpoints whose tokenizers differ by added tokens,
// their embedding and lm_head rows read chunk by chunk and checked row by row against the token strings.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel, materializeArrays } from "../../engine/index.js";
import { alignVocab } from "../../engine/vocab.js";
import { runCli, tempDir } from "../helpers.js";
import { openCheckpoint } from "../../io/index.js";
import { Tokenizer } from "@huggingface/tokenizers";
import { writeF32 } from "../io/peft-files.js";

const WORDS = ["<unk>", "the", "cat", "sat", "on", "mat", "<s>"];
const DIM = 3;
/** Row of token t in model m: recognisable values. */
const rowFor = (m: number, t: string) => [100 * m + t.length, m - t.charCodeAt(t.length - 1), t.charCodeAt(0)];

function model(root: string, name: string, m: number, extra: string[], tied = false): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  const tokens = [...WORDS, ...extra];
  const vocab: Record<string, number> = Object.fromEntries(tokens.map((t, i) => [t, i]));
  const added = tokens.map((t, id) => ({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })).slice(6);
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify({ version: "1.0", added_tokens: added, normalizer: null, pre_tokenizer: { type: "Whitespace" }, post_processor: null, decoder: null, model: { type: "WordLevel", vocab, unk_token: "<unk>" } }));
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "llama", vocab_size: tokens.length, hidden_size: DIM, tie_word_embeddings: tied }));
  const emb = new Float32Array(tokens.flatMap((t) => rowFor(m, t)));
  const head = new Float32Array(tokens.flatMap((t) => rowFor(m, t).map((x) => -x)));
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = { "model.embed_tokens.weight": { shape: [tokens.length, DIM], data: emb }, "model.norm.weight": { shape: [DIM], data: new Float32Array(DIM).fill(m) } };
  if (!tied) tensors["lm_head.weight"] = { shape: [tokens.length, DIM], data: head };
  writeF32(path.join(dir, "model.safetensors"), tensors);
  return dir;
}

describe("alignVocab: rows by token string", () => {
  const root = tempDir();
  const a = loadModel(model(root, "a", 0, []), { label: "a" });
  const b = loadModel(model(root, "b", 1, ["<tool>", "<think>"]), { label: "b" });

  it.each([
    ["union", "union" as const, [...WORDS, "<tool>", "<think>"]],
    ["base", "base" as const, WORDS],
    ["model b", { model: 1 }, [...WORDS, "<tool>", "<think>"]],
  ])("tokenizer_source %s", async (_, source, tokens) => {
    const { models, plan } = alignVocab([a, b], { base: 0, source, padToMultipleOf: 4 });
    expect(plan.tokens).toEqual(tokens);
    const rows = Math.ceil(tokens.length / 4) * 4;
    for (const [i, m] of models.entries()) {
      expect(m.tensors.get("model.embed_tokens.weight")!.shape).toEqual([rows, DIM]);
      const out = await materializeArrays(m, { chunkSize: 5, workers: 0 });
      const emb = out["model.embed_tokens.weight"].data as Float32Array;
      const head = out["lm_head.weight"].data as Float32Array;
      tokens.forEach((t, r) => {
        // a model's own row when it has the token, else the only model that has it (b for <tool>, <think>)
        const src = i === 0 && !WORDS.includes(t) ? 1 : i;
        expect([...emb.subarray(r * DIM, r * DIM + DIM)], `${i} ${t}`).toEqual(rowFor(src, t));
        expect([...head.subarray(r * DIM, r * DIM + DIM)], `${i} head ${t}`).toEqual(rowFor(src, t).map((x) => -x));
      });
      // padding rows: the mean of the vocabulary's rows
      for (let r = tokens.length; r < rows; r++) {
        for (let j = 0; j < DIM; j++) {
          let s = 0;
          for (let k = 0; k < tokens.length; k++) s += emb[k * DIM + j];
          expect(emb[r * DIM + j]).toBe(Math.fround(s / tokens.length));
        }
      }
      expect([...(out["model.norm.weight"].data as Float32Array)]).toEqual([i, i, i]);
    }
  });

  it("a tied model's head rows come from its embeddings", async () => {
    const t = loadModel(model(root, "t", 2, ["<tool>"], true), { label: "t" });
    const { models } = alignVocab([b, t], { base: 0, source: "union" });
    const out = await materializeArrays(models[1], { chunkSize: 4, workers: 0 });
    const head = out["lm_head.weight"].data as Float32Array;
    expect([...head.subarray(7 * DIM, 8 * DIM)]).toEqual(rowFor(2, "<tool>")); // its own embedding row of <tool>
    expect([...head.subarray(8 * DIM, 9 * DIM)]).toEqual(rowFor(1, "<think>").map((x) => -x)); // only b has <think>: b's head row
  });

  it("in a script: align_vocab then average; the saved model's tokenizer encodes the added tokens to their rows", () => {
    const dir = tempDir();
    model(dir, "a", 0, []);
    model(dir, "b", 1, ["<tool>", "<think>"]);
    fs.writeFileSync(path.join(dir, "v.mlab"), 'ab = align_vocab([load("a"), load("b")], source="union")\nsave(average(ab), "out", dtype="f32")\n');
    const r = runCli(["run", "v.mlab", "--quiet"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const tok = new Tokenizer(JSON.parse(fs.readFileSync(path.join(dir, "out", "tokenizer.json"), "utf8")), JSON.parse(fs.readFileSync(path.join(dir, "out", "tokenizer_config.json"), "utf8")));
    expect(tok.encode("the <think> cat").ids).toEqual([1, 8, 2]);
    const out = openCheckpoint(path.join(dir, "out"));
    const emb = out.readF32("model.embed_tokens.weight", 0, 9 * DIM);
    // <think>: a lacks it, so a's re-indexed row is b's; the average is b's row
    expect([...emb.subarray(8 * DIM, 9 * DIM)]).toEqual(rowFor(1, "<think>"));
    // config.json: vocab_size is the rows written (a's config said 7)
    expect(JSON.parse(fs.readFileSync(path.join(dir, "out", "config.json"), "utf8")).vocab_size).toBe(9);
    // "cat": both have it: the mean of their rows
    expect([...emb.subarray(2 * DIM, 3 * DIM)]).toEqual(rowFor(0, "cat").map((x, j) => Math.fround((x + rowFor(1, "cat")[j]) / 2)));
  });
});
