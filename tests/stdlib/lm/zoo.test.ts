/**
 * The language-model zoo of notebooks/language-models.ipynb: which files make
 * each genre and how they split, the token stream against the byte-level
 * tokenizer.json (read by @huggingface/tokenizers), multiple-choice items whose
 * gold choice is the true continuation, and a build on a small fixture
 * node_modules: Hugging Face checkpoints, experts better than the base on
 * their own genre, a cache that is found again and keyed by the texts.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadModel } from "../../../engine/index.js";
import { perplexity } from "../../../stdlib/lm/metrics.js";
import { languageModel } from "../../../stdlib/lm/model.js";
import { loadTokenizer } from "../../../stdlib/lm/tokenizer.js";
import { byteTokenizerJson } from "../../../stdlib/lm/train.js";
import { buildZoo, byteStream, choiceItems, cleanText, DEFAULT_ZOO, genreData, GENRES, type ZooSpec } from "../../../stdlib/lm/zoo.js";
import { rng, tempDir } from "../../helpers.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const dir = () => {
  const d = tempDir("mergelab-zoo-");
  dirs.push(d);
  return d;
};

/** Seeded text from a small vocabulary: each genre its own words, so an expert can learn its genre. */
function words(vocab: string[], n: number, seed: number): string {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(vocab[Math.floor(r() * vocab.length)] + (i % 12 === 11 ? ".\n" : " "));
  return out.join("");
}
const VOCAB: Record<string, string[]> = {
  licenses: ["permission", "granted", "warranty", "software", "copyright", "liability"],
  changelogs: ["1.2.3", "fixed", "added", "bump", "release", "(#42)"],
  readmes: ["install", "usage", "example", "npm", "import", "returns"],
  typings: ["export", "interface", "string;", "number;", "declare", "=>"],
};
const FILE: Record<string, string> = { licenses: "LICENSE", changelogs: "CHANGELOG.md", readmes: "README.md", typings: "index.d.ts" };

/** node_modules with 8 packages (one scoped) holding all four genres, plus cases the selection must skip. */
function fixtureNodeModules(extra = 0): string {
  const nm = path.join(dir(), "node_modules");
  const pkgs = ["alpha", "beta", "@scope/gamma", "delta", "epsilon", "zeta", "eta", "theta", ...Array.from({ length: extra }, (_, i) => `pkg${i}`)];
  pkgs.forEach((p, i) => {
    fs.mkdirSync(path.join(nm, p), { recursive: true });
    GENRES.forEach((g, gi) => fs.writeFileSync(path.join(nm, p, FILE[g]), words(VOCAB[g], 150, 10 * i + gi)));
  });
  fs.writeFileSync(path.join(nm, "alpha", "LICENSE.md"), "a second license file: only the first name in sort order is read " + "x".repeat(300));
  fs.mkdirSync(path.join(nm, "stub"));
  fs.writeFileSync(path.join(nm, "stub", "README.md"), "too short");
  fs.mkdirSync(path.join(nm, "copy"));
  fs.writeFileSync(path.join(nm, "copy", "LICENSE"), fs.readFileSync(path.join(nm, "beta", "LICENSE")));
  fs.symlinkSync(path.join(nm, "beta"), path.join(nm, "linked"));
  return nm;
}

describe("genre data", () => {
  it("one file per package and genre, sorted by package; stubs, duplicates and symlinked packages skipped; every 4th file held out", () => {
    const nm = fixtureNodeModules();
    const data = genreData(nm);
    expect(data.map((d) => d.genre)).toEqual([...GENRES]);
    const lic = data[0];
    const order = ["@scope/gamma", "alpha", "beta", "delta", "epsilon", "eta", "theta", "zeta"];
    expect(lic.heldIn.map((d) => d.file)).toEqual(["@scope/gamma/LICENSE", "alpha/LICENSE", "beta/LICENSE", "epsilon/LICENSE", "eta/LICENSE", "theta/LICENSE"]);
    expect(lic.heldOut.map((d) => d.file)).toEqual(["delta/LICENSE", "zeta/LICENSE"]);
    expect(data[2].heldIn.map((d) => d.file.split("/").slice(0, -1).join("/")).concat(data[2].heldOut.map((d) => d.file.split("/").slice(0, -1).join("/"))).sort()).toEqual(order);
    for (const g of data) {
      const inTexts = new Set(g.heldIn.map((d) => d.text));
      expect(g.heldOut.some((d) => inTexts.has(d.text))).toBe(false);
    }
    expect(genreData(nm)).toEqual(data);
  });

  it("texts: LF line ends, tabs as spaces, cut at a line end within the byte budget, never inside a UTF-8 character", () => {
    expect(cleanText("  a\r\nb\tc\rd  ", 100)).toBe("a\nb  c\nd");
    const long = Array.from({ length: 40 }, (_, i) => `line ${i} é`).join("\n");
    const t = cleanText(long, 100);
    expect(Buffer.byteLength(t)).toBeLessThanOrEqual(100);
    expect(long.startsWith(t + "\n")).toBe(true);
    expect(cleanText("é".repeat(100), 51)).toBe("é".repeat(25));
  });
});

describe("token stream and multiple-choice items", () => {
  it("the training stream is what the zoo's tokenizer.json encodes, documents separated by <|endoftext|>", () => {
    const d = dir();
    fs.writeFileSync(path.join(d, "tokenizer.json"), JSON.stringify(byteTokenizerJson()));
    const tok = loadTokenizer(d)!;
    const docs = ["Copyright (c) 2024 — ünïcode", "## 1.0.0\n\n- fixed"];
    const eos = tok.id("<|endoftext|>");
    expect([...byteStream(docs)]).toEqual([eos, ...tok.encode(docs[0]), eos, ...tok.encode(docs[1]), eos]);
  });

  it("the gold choice is the true continuation after a space; distractors come from other documents", () => {
    const docs = GENRES.map((g, i) => words(VOCAB[g], 120, i)).concat(words(VOCAB.licenses, 120, 9));
    const items = choiceItems(docs, 40, 5);
    expect(items).toHaveLength(40);
    const golds = new Set<number>();
    for (const it of items) {
      expect(it.choices).toHaveLength(4);
      expect(new Set(it.choices).size).toBe(4);
      expect(it.context).toHaveLength(48);
      const src = docs.findIndex((d) => d.includes(it.context + " " + it.choices[it.gold]));
      expect(src).toBeGreaterThanOrEqual(0);
      it.choices.forEach((c, j) => {
        expect(c).toHaveLength(24);
        if (j !== it.gold) expect(docs.some((d, k) => k !== src && d.includes(" " + c))).toBe(true);
      });
      golds.add(it.gold);
    }
    expect(golds).toEqual(new Set([0, 1, 2, 3]));
    expect(choiceItems(docs, 40, 5)).toEqual(items);
    expect(choiceItems(docs, 40, 6)).not.toEqual(items);
  });
});

describe("building the zoo", () => {
  const spec: ZooSpec = {
    ...DEFAULT_ZOO,
    evalDocs: 2,
    evalBytes: 200,
    choiceItems: 4,
    config: { ...DEFAULT_ZOO.config, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, max_position_embeddings: 32 },
    base: { steps: 60, batch: 8, seqLen: 32, lr: 1e-2, seed: 1 },
    expert: { steps: 40, batch: 8, seqLen: 32, lr: 5e-3, seed: 2 },
  };

  it("Hugging Face checkpoints and evaluation files; each expert beats the base on held-out text of its genre; cached by content", async () => {
    const nm = fixtureNodeModules(8);
    const cache = dir();
    const lines: string[] = [];
    const zoo = await buildZoo({ cacheDir: cache, nodeModules: nm, spec, log: (l) => lines.push(l) });
    expect(zoo.built).toBe(true);
    expect(lines).toHaveLength(5);
    expect(path.dirname(zoo.dir)).toBe(cache);
    expect(fs.readdirSync(cache)).toEqual([path.basename(zoo.dir)]); // no temporary directory left
    for (const m of [zoo.base, ...Object.values(zoo.experts)]) {
      expect(fs.readdirSync(m).sort()).toEqual(["config.json", "model.safetensors", "tokenizer.json"]);
      expect(JSON.parse(fs.readFileSync(path.join(m, "config.json"), "utf8"))).toMatchObject({ model_type: "llama", hidden_size: 32, tie_word_embeddings: true });
    }
    const bpb = async (model: string, file: string) => {
      const texts = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l).text as string);
      return (await perplexity(languageModel(loadModel(model)), texts, { batchSize: 8 })).bitsPerByte;
    };
    for (const g of GENRES) {
      const own = await bpb(zoo.experts[g], zoo.data[g].heldOut);
      const base = await bpb(zoo.base, zoo.data[g].heldOut);
      expect(own, g).toBeLessThan(base);
      const items = fs.readFileSync(zoo.data[g].choice, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(items).toHaveLength(4);
    }
    expect(zoo.manifest.documents.licenses).toMatchObject({ held_in: 12, held_out: 4 });

    const again = await buildZoo({ cacheDir: cache, nodeModules: nm, spec, log: (l) => lines.push(l) });
    expect(again.built).toBe(false);
    expect(lines).toHaveLength(5);
    expect(again.manifest).toEqual(zoo.manifest);

    // rebuilt elsewhere: the same bytes (the metadata names the zoo, not the temporary directory it was trained in)
    const elsewhere = await buildZoo({ cacheDir: dir(), nodeModules: nm, spec });
    expect(elsewhere.built).toBe(true);
    const bytes = (z: typeof zoo, m: string) => fs.readFileSync(path.join(z.dir, m, "model.safetensors"));
    for (const m of ["base", "expert-typings"]) expect(bytes(elsewhere, m).equals(bytes(zoo, m)), m).toBe(true);
    expect(bytes(zoo, "base").toString("latin1")).toContain(`"mergelab_model":"lm-zoo-${zoo.manifest.key}/base"`);

    fs.appendFileSync(path.join(nm, "beta", "README.md"), " changed");
    const changed = await buildZoo({ cacheDir: cache, nodeModules: nm, spec });
    expect(changed.built).toBe(true);
    expect(changed.manifest.key).not.toBe(zoo.manifest.key);
  }, 300_000);
});
