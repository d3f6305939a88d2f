// config.json in merges: the architecture guard (Llama vs Mistral of equal shapes refused before compute, unless
// allow_crimes) and tied embeddings (a model without lm_head reads its embeddings as its head).
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { combine, loadModel, mapTensors, materializeArrays, saveModel, type ModelValue } from "../../engine/index.js";
import { architectureGuard } from "../../engine/model.js";
import { copyFixture } from "../io/st-files.js";
import { fixtures, tempDir } from "../helpers.js";
import { openCheckpoint } from "../../io/index.js";
import { rawSafetensors } from "../io/st-files.js";

const llama = { model_type: "llama", architectures: ["LlamaForCausalLM"], hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 2, vocab_size: 32 };

function withConfig(name: string, cfg: Record<string, unknown>): string {
  const dir = copyFixture(path.join(fixtures, "tiny-llama-f16"), tempDir());
  const target = path.join(path.dirname(dir), name);
  fs.renameSync(dir, target);
  fs.writeFileSync(path.join(target, "config.json"), JSON.stringify(cfg));
  return target;
}

const average = (ms: ModelValue[]) => mapTensors(ms, (g, xs) => g.div(xs.reduce((a, b) => g.add(a, b)), xs.length), { label: "avg" });

afterEach(() => {
  architectureGuard.allowCrimes = false;
});

describe("architecture guard", () => {
  it("Llama and Mistral checkpoints of equal shapes are refused before any compute, naming both and the field", () => {
    const a = loadModel(withConfig("llama", llama), { label: "models/llama" });
    const b = loadModel(withConfig("mistral", { ...llama, model_type: "mistral", architectures: ["MistralForCausalLM"] }), { label: "models/mistral" });
    expect(() => average([a, b])).toThrow(/^architecture mismatch: models\/llama has model_type = llama but models\/mistral has mistral \(and architectures\)/);
    // through derived models too (a task vector keeps its model's config)
    expect(() => combine("-", a, b)).toThrow(/architecture mismatch/);
    architectureGuard.allowCrimes = true;
    expect(average([a, b]).tensors.size).toBe(a.tensors.size);
  });

  it("same architecture, different head counts: refused; identical configs: merged", () => {
    const a = loadModel(withConfig("a", llama), { label: "a" });
    const b = loadModel(withConfig("b", { ...llama, num_attention_heads: 4 }), { label: "b" });
    expect(() => average([a, b])).toThrow(/a has num_attention_heads = 2 but b has 4/);
    const c = loadModel(withConfig("c", { ...llama }), { label: "c" });
    expect(() => average([a, c])).not.toThrow();
  });
});

describe("tied embeddings", () => {
  function tiedCopy(): string {
    // the f16 fixture without lm_head.weight, config saying tie_word_embeddings: true
    const src = openCheckpoint(path.join(fixtures, "tiny-llama-f16"));
    const header: Record<string, unknown> = {};
    const bufs: Buffer[] = [];
    let pos = 0;
    for (const t of src.tensors) {
      if (t.name === "lm_head.weight") continue;
      const raw = Buffer.from(src.readRaw(t.name, 0, t.byteLength));
      header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + raw.length] };
      bufs.push(raw);
      pos += raw.length;
    }
    const dir = path.join(tempDir(), "tied");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "model.safetensors"), rawSafetensors(header, Buffer.concat(bufs)));
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...llama, tie_word_embeddings: true }));
    return dir;
  }

  it("a model without lm_head merges with one that has it, its head read from its embeddings", async () => {
    const tied = loadModel(tiedCopy(), { label: "tied" });
    expect(tied.tensors.has("lm_head.weight")).toBe(false);
    const full = loadModel(withConfig("full", { ...llama, tie_word_embeddings: false }), { label: "full" });
    const m = average([full, tied]);
    expect(m.tensors.has("lm_head.weight")).toBe(true);
    const out = await materializeArrays(m);
    const f = openCheckpoint(path.join(fixtures, "tiny-llama-f16"));
    const n = f.tensor("lm_head.weight").numel;
    const head = f.readF32("lm_head.weight", 0, n);
    const emb = f.readF32("model.embed_tokens.weight", 0, n);
    const got = out["lm_head.weight"].data as Float32Array;
    for (let i = 0; i < n; i++) expect(got[i]).toBe(Math.fround(Math.fround(head[i] + emb[i]) / 2));
  });

  it("saved: the output's config.json says untied when a head was written, tied when none was", async () => {
    const tied = loadModel(tiedCopy(), { label: "tied" });
    const full = loadModel(withConfig("full3", { ...llama, tie_word_embeddings: false }), { label: "full" });
    const out1 = path.join(tempDir(), "o1");
    await saveModel(average([tied, full]), out1); // the tied model is first: its config.json is copied
    expect(JSON.parse(fs.readFileSync(path.join(out1, "config.json"), "utf8")).tie_word_embeddings).toBe(false);
    const out2 = path.join(tempDir(), "o2");
    await saveModel(average([tied, loadModel(tiedCopy(), { label: "tied2" })]), out2);
    expect(openCheckpoint(out2).has("lm_head.weight")).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(out2, "config.json"), "utf8")).tie_word_embeddings).toBe(true);
  });

  it("when no input has a head, the output has none (still tied)", () => {
    const t1 = loadModel(tiedCopy(), { label: "t1" });
    const t2 = loadModel(tiedCopy(), { label: "t2" });
    expect(average([t1, t2]).tensors.has("lm_head.weight")).toBe(false);
  });

  it("an untied model without lm_head is still refused as incomplete", () => {
    const dir = tiedCopy();
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...llama, tie_word_embeddings: false }));
    const untied = loadModel(dir, { label: "untied" });
    const full = loadModel(withConfig("full2", { ...llama, tie_word_embeddings: false }), { label: "full" });
    expect(() => average([full, untied])).toThrow(/tensor 'lm_head\.weight' is in full but missing from untied/);
  });
});

describe("differing vocabulary sizes, no tokenizer option: mergekit's common sub-matrix", () => {
  it("embeddings and heads are cut to the smallest vocabulary's rows; the rest merges as usual", async () => {
    // the f16 fixture with two more token rows in model.embed_tokens and lm_head (vocab 32 → 34)
    const src = openCheckpoint(path.join(fixtures, "tiny-llama-f16"));
    const header: Record<string, unknown> = {};
    const bufs: Buffer[] = [];
    let pos = 0;
    for (const t of src.tensors) {
      let raw = Buffer.from(src.readRaw(t.name, 0, t.byteLength));
      let shape = [...t.shape];
      if (t.name === "model.embed_tokens.weight" || t.name === "lm_head.weight") {
        raw = Buffer.concat([raw, Buffer.alloc(2 * shape[1] * 2, 0x3c)]);
        shape = [shape[0] + 2, shape[1]];
      }
      header[t.name] = { dtype: t.dtype, shape, data_offsets: [pos, pos + raw.length] };
      bufs.push(raw);
      pos += raw.length;
    }
    const dir = path.join(tempDir(), "big");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "model.safetensors"), rawSafetensors(header, Buffer.concat(bufs)));
    const big = loadModel(dir, { label: "big" });
    const small = loadModel(path.join(fixtures, "tiny-llama-bf16-sharded"), { label: "small" });
    const m = average([big, small]);
    expect(m.tensors.get("model.embed_tokens.weight")!.shape).toEqual([32, 8]);
    const out = await materializeArrays(m, { chunkSize: 5, workers: 0 });
    const s = openCheckpoint(path.join(fixtures, "tiny-llama-bf16-sharded"));
    for (const name of ["model.embed_tokens.weight", "lm_head.weight"]) {
      const n = 32 * 8;
      const x = src.readF32(name, 0, n);
      const y = s.readF32(name, 0, n);
      const got = out[name].data as Float32Array;
      expect(got.length).toBe(n);
      for (let i = 0; i < n; i++) expect(Object.is(got[i], Math.fround(Math.fround(x[i] + y[i]) / 2)) || (Number.isNaN(got[i]) && Number.isNaN(x[i] + y[i]))).toBe(true);
    }
  });
});
