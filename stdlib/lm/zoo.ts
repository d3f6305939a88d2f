/**
 * A zoo of tiny Llama-architecture language models to merge, built from text
 * that is on every machine after `npm ci`: the LICENSE, CHANGELOG.md,
 * README.md and index.d.ts files of the packages in node_modules, one genre
 * each. A base is trained on the mixture of the four genres, and one expert
 * per genre is the base fine-tuned on that genre. Every model is an ordinary
 * Hugging Face checkpoint (config.json, model.safetensors, tokenizer.json with
 * a byte-level vocabulary). Each genre's files are split by a fixed rule into
 * held-in (trained on) and held-out documents; the zoo writes evaluation
 * files next to the checkpoints:
 *
 *   <genre>-held-in.jsonl, <genre>-held-out.jsonl   {"text": ...} per line (perplexity)
 *   <genre>-choice.jsonl                             {"context", "choices", "gold"} (loglik_choice),
 *                                                    the true continuation of a held-out passage
 *                                                    among spans of other held-out documents
 *
 * The zoo is cached under `cacheDir/<key>`, the key a hash of the spec and of
 * the source texts, so it is trained once per machine (well under two minutes).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MergelabError } from "../../core/errors.js";
import { rng } from "../eval/tasks.js";
import { parseConfig } from "./config.js";
import { byteTokenizerJson, initialWeights, saveCausalLm, trainCausalLm, type TrainSpec } from "./train.js";

export const GENRES = ["licenses", "changelogs", "readmes", "typings"] as const;
export type Genre = (typeof GENRES)[number];

/** Which files of node_modules make each genre: `<pkg>/<name>` for every top-level and scoped package. */
const GENRE_FILES: Record<Genre, (name: string) => boolean> = {
  licenses: (n) => /^(LICENSE|LICENCE)(\.md|\.txt|-MIT)?$/i.test(n),
  changelogs: (n) => /^CHANGELOG\.md$/i.test(n),
  readmes: (n) => /^README\.md$/i.test(n),
  typings: (n) => n === "index.d.ts",
};

export interface ZooSpec {
  /** Bytes kept from the start of each file. */
  docBytes: number;
  /** Every `heldOutEvery`-th file of a genre (sorted by path) is held out. */
  heldOutEvery: number;
  /** Evaluation texts per genre and split, each `evalBytes` long at most. */
  evalDocs: number;
  evalBytes: number;
  /** Multiple-choice items per genre, 4 choices each. */
  choiceItems: number;
  config: Record<string, unknown>;
  base: TrainSpec;
  expert: TrainSpec;
}

export const DEFAULT_ZOO: ZooSpec = {
  docBytes: 4000,
  heldOutEvery: 4,
  evalDocs: 8,
  evalBytes: 320,
  choiceItems: 32,
  config: {
    model_type: "llama", vocab_size: 257, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5,
    rope_theta: 10000, tie_word_embeddings: true, bos_token_id: 0, eos_token_id: 0,
  },
  base: { steps: 100, batch: 16, seqLen: 64, lr: 1e-2, seed: 1 },
  expert: { steps: 20, batch: 16, seqLen: 64, lr: 3e-3, seed: 2 },
};

export interface GenreData {
  genre: Genre;
  /** Package-relative paths (e.g. "chevrotain/LICENSE.txt"), sorted. */
  heldIn: Array<{ file: string; text: string }>;
  heldOut: Array<{ file: string; text: string }>;
}

/** The mergelab repository (holds package.json and node_modules), from this module's location. */
export function packageRoot(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(d, "package.json");
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, "utf8")).name === "mergelab") return d;
    const up = path.dirname(d);
    if (up === d) throw new MergelabError("cannot find the mergelab package root (package.json)");
    d = up;
  }
}

/** Package directories directly under node_modules (scoped ones as "@scope/name"), sorted. */
function packages(nodeModules: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(nodeModules, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith(".")) continue;
    if (e.name.startsWith("@")) {
      for (const s of fs.readdirSync(path.join(nodeModules, e.name), { withFileTypes: true })) if (s.isDirectory()) out.push(`${e.name}/${s.name}`);
    } else out.push(e.name);
  }
  return out.sort();
}

/** A file's text as the zoo uses it: LF line ends, trimmed, the first `bytes` bytes (cut at a line end). */
export function cleanText(raw: string, bytes: number): string {
  let t = raw.replace(/\r\n?/g, "\n").replace(/\t/g, "  ").trim();
  if (Buffer.byteLength(t, "utf8") > bytes) {
    t = Buffer.from(t, "utf8").subarray(0, bytes).toString("utf8").replace(/\uFFFD+$/, "");
    const nl = t.lastIndexOf("\n");
    if (nl > bytes / 2) t = t.slice(0, nl);
  }
  return t;
}

/** The documents of each genre from `nodeModules`, split held-in / held-out (deterministic for a given node_modules). */
export function genreData(nodeModules: string, spec: ZooSpec = DEFAULT_ZOO): GenreData[] {
  if (!fs.existsSync(nodeModules)) throw new MergelabError(`${nodeModules}: no node_modules (run npm ci)`);
  const pkgs = packages(nodeModules);
  return GENRES.map((genre) => {
    const docs: Array<{ file: string; text: string }> = [];
    const seen = new Set<string>();
    for (const p of pkgs) {
      const names = fs.readdirSync(path.join(nodeModules, p)).filter(GENRE_FILES[genre]).sort();
      if (names.length === 0) continue;
      const file = `${p}/${names[0]}`;
      const text = cleanText(fs.readFileSync(path.join(nodeModules, file), "utf8"), spec.docBytes);
      if (text.length < 200 || seen.has(text)) continue; // skip stubs and exact duplicates
      seen.add(text);
      docs.push({ file, text });
    }
    if (docs.length < 2 * spec.heldOutEvery) throw new MergelabError(`node_modules has too few ${genre} files (${docs.length})`);
    return {
      genre,
      heldIn: docs.filter((_, i) => i % spec.heldOutEvery !== spec.heldOutEvery - 1),
      heldOut: docs.filter((_, i) => i % spec.heldOutEvery === spec.heldOutEvery - 1),
    };
  });
}

/** Token stream of documents: EOS (id 0), then each byte b as b + 1, documents separated by EOS. */
export function byteStream(texts: string[]): Int32Array {
  const parts: number[] = [0];
  for (const t of texts) {
    for (const b of Buffer.from(t, "utf8")) parts.push(b + 1);
    parts.push(0);
  }
  return Int32Array.from(parts);
}

const printable = (s: string) => /^[\x20-\x7e]+$/.test(s);

/**
 * Multiple-choice items from held-out documents: a context of 48 characters
 * ending before a space, the gold choice the 24 characters after that space,
 * three distractors the 24 characters after a space in other held-out
 * documents of the same genre; the gold index is seeded.
 */
export function choiceItems(docs: string[], n: number, seed: number): Array<{ context: string; choices: string[]; gold: number }> {
  const r = rng(seed);
  const C = 48, L = 24;
  const spans = (text: string) => {
    const out: number[] = [];
    for (let i = C; i + 1 + L <= text.length; i++) if (text[i] === " " && text[i + 1] !== " " && printable(text.slice(i - C, i + 1 + L))) out.push(i);
    return out;
  };
  const starts = docs.map(spans);
  const usable = docs.map((_, i) => i).filter((i) => starts[i].length > 0);
  if (usable.length < 4) throw new MergelabError("too few held-out documents for multiple-choice items");
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const items = [];
  for (let k = 0; k < n; k++) {
    const d = usable[k % usable.length];
    const at = pick(starts[d]);
    const gold = docs[d].slice(at + 1, at + 1 + L);
    const others = new Set<string>();
    while (others.size < 3) {
      const e = pick(usable);
      if (e === d) continue;
      const s = pick(starts[e]);
      const span = docs[e].slice(s + 1, s + 1 + L);
      if (span !== gold) others.add(span);
    }
    const g = Math.floor(r() * 4);
    const choices = [...others];
    choices.splice(g, 0, gold);
    items.push({ context: docs[d].slice(at - C, at), choices, gold: g });
  }
  return items;
}

export interface Zoo {
  /** Relative to the working directory when the cache dir was given relative. */
  dir: string;
  base: string;
  experts: Record<Genre, string>;
  data: Record<Genre, { heldIn: string; heldOut: string; choice: string }>;
  /** Documents per genre and split, training losses, seconds to build (0 parts when cached). */
  manifest: {
    key: string;
    documents: Record<Genre, { held_in: number; held_out: number; held_in_bytes: number }>;
    loss: Record<string, number>;
    seconds: number;
    spec: ZooSpec;
  };
  /** True when this call trained it (false: found in the cache). */
  built: boolean;
}

function zooPaths(dir: string): Pick<Zoo, "base" | "experts" | "data"> {
  const experts = {} as Record<Genre, string>;
  const data = {} as Zoo["data"];
  for (const g of GENRES) {
    experts[g] = path.join(dir, `expert-${g}`);
    data[g] = { heldIn: path.join(dir, `${g}-held-in.jsonl`), heldOut: path.join(dir, `${g}-held-out.jsonl`), choice: path.join(dir, `${g}-choice.jsonl`) };
  }
  return { base: path.join(dir, "base"), experts, data };
}

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

/**
 * The zoo in `cacheDir` (relative paths stay relative), trained first if absent.
 * `log` receives one line per trained model.
 */
export async function buildZoo(opts: { cacheDir: string; nodeModules?: string; spec?: ZooSpec; log?: (line: string) => void }): Promise<Zoo> {
  const spec = opts.spec ?? DEFAULT_ZOO;
  const nodeModules = opts.nodeModules ?? path.join(packageRoot(), "node_modules");
  const genres = genreData(nodeModules, spec);
  const h = crypto.createHash("sha256").update(JSON.stringify(spec));
  for (const g of genres) for (const d of [...g.heldIn, ...g.heldOut]) h.update(d.file).update("\0").update(d.text).update("\0");
  const key = h.digest("hex").slice(0, 12);
  const dir = path.join(opts.cacheDir, `lm-zoo-${key}`);
  const manifestFile = path.join(dir, "zoo.json");
  if (fs.existsSync(manifestFile)) return { dir, ...zooPaths(dir), manifest: JSON.parse(fs.readFileSync(manifestFile, "utf8")), built: false };

  const t0 = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const p = zooPaths(tmp);
    const tokenizer = byteTokenizerJson();
    const documents = {} as Zoo["manifest"]["documents"];
    const evalText = (t: string) => cleanText(t, spec.evalBytes);
    genres.forEach((g, gi) => {
      documents[g.genre] = { held_in: g.heldIn.length, held_out: g.heldOut.length, held_in_bytes: g.heldIn.reduce((s, d) => s + Buffer.byteLength(d.text), 0) };
      fs.writeFileSync(p.data[g.genre].heldIn, jsonl(g.heldIn.slice(0, spec.evalDocs).map((d) => ({ text: evalText(d.text) }))));
      fs.writeFileSync(p.data[g.genre].heldOut, jsonl(g.heldOut.slice(0, spec.evalDocs).map((d) => ({ text: evalText(d.text) }))));
      fs.writeFileSync(p.data[g.genre].choice, jsonl(choiceItems(g.heldOut.map((d) => d.text), spec.choiceItems, 100 + gi)));
    });
    const loss: Record<string, number> = {};
    // the base: the four genres' held-in documents interleaved, so every window mixes genres evenly by file
    const mixture: string[] = [];
    for (let i = 0; i < Math.max(...genres.map((g) => g.heldIn.length)); i++) for (const g of genres) if (i < g.heldIn.length) mixture.push(g.heldIn[i].text);
    const t = Date.now();
    const base = await trainCausalLm(spec.config, initialWeights(parseConfig(spec.config), spec.base.seed), byteStream(mixture), spec.base);
    loss.base = base.loss;
    await saveCausalLm(p.base, spec.config, base.weights, tokenizer, { label: `lm-zoo-${key}/base` });
    opts.log?.(`trained base (${spec.base.steps} steps, loss ${base.loss.toFixed(3)}, ${((Date.now() - t) / 1000).toFixed(1)} s)`);
    for (const g of genres) {
      const t1 = Date.now();
      const e = await trainCausalLm(spec.config, base.weights, byteStream(g.heldIn.map((d) => d.text)), spec.expert);
      loss[`expert-${g.genre}`] = e.loss;
      await saveCausalLm(p.experts[g.genre], spec.config, e.weights, tokenizer, { label: `lm-zoo-${key}/expert-${g.genre}` });
      opts.log?.(`trained expert-${g.genre} (${spec.expert.steps} steps, loss ${e.loss.toFixed(3)}, ${((Date.now() - t1) / 1000).toFixed(1)} s)`);
    }
    const manifest = { key, documents, loss, seconds: (Date.now() - t0) / 1000, spec };
    fs.writeFileSync(path.join(tmp, "zoo.json"), JSON.stringify(manifest, null, 2) + "\n");
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    return { dir, ...zooPaths(dir), manifest, built: true };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
