/**
 * `mergelab finalize DIR`: assemble the shards written by `mergelab run FILE
 * --shard I/N` (in DIR/.shards/) into a normal Hugging Face directory: weight
 * files renamed model-0000k-of-0000K.safetensors (or model.safetensors when
 * there is one), model.safetensors.index.json, the non-weight files and the
 * model card. Everything is validated before the first file is moved.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../../core/errors.js";
import { parseSimpleArgs } from "../args.js";
import { openCheckpoint, INDEX_FILE, SINGLE_FILE, compareTensorNames } from "../../io/checkpoint.js";
import { nonWeightFiles } from "../../io/writer.js";
import { EMPTY_SHARD_RECIPE, RECIPE_KEY, SHARDS_DIR } from "../../engine/shard.js";
import { crashPoint, writeDurably } from "../../io/staging.js";

const USAGE = `usage: mergelab finalize DIR [--json]

Assembles DIR/.shards/shard-*-of-N (written by 'mergelab run FILE --shard I/N'
for every I in 0..N-1) into DIR: weight files, ${INDEX_FILE}, config and
tokenizer files, and the model card README.md.`;

interface ShardOutput {
  dir: string;
  /** The recipe hash the shard recorded (undefined: written by an older mergelab). */
  recipe: string | undefined;
  /** Weight files holding at least one tensor, in file order, with their tensors. */
  files: Array<{ path: string; tensors: Array<{ name: string; bytes: number }> }>;
}

/** Every shard directory, checked complete (1..N present, the same N). */
function findShards(dir: string): string[] {
  const root = path.join(dir, SHARDS_DIR);
  if (!fs.existsSync(root)) throw new MergelabError(`${dir}: no shard outputs (${SHARDS_DIR}/) found: run 'mergelab run FILE ${dir} --shard I/N' for every I first`);
  const found = new Map<number, string>();
  let count: number | undefined;
  for (const name of fs.readdirSync(root).sort()) {
    const m = /^shard-(\d+)-of-(\d+)$/.exec(name);
    if (!m) continue;
    const n = Number(m[2]);
    if (count !== undefined && n !== count) throw new MergelabError(`${dir}: shards from runs with different N (${count} and ${n}) in ${SHARDS_DIR}/`);
    count = n;
    found.set(Number(m[1]), path.join(root, name));
  }
  if (count === undefined) throw new MergelabError(`${dir}: ${SHARDS_DIR}/ holds no finished shard`);
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !found.has(i + 1));
  if (missing.length) {
    throw new MergelabError(`${dir}: shard${missing.length > 1 ? "s" : ""} ${missing.map((i) => `${i}/${count}`).join(", ")} not finished (run 'mergelab run FILE ${dir} --shard I/${count}' for ${missing.length > 1 ? "them" : "it"})`);
  }
  return Array.from({ length: count }, (_, i) => found.get(i + 1)!);
}

function readShard(dir: string): ShardOutput {
  if (!fs.readdirSync(dir).some((n) => n.endsWith(".safetensors"))) {
    // an empty shard (N > tensors)
    let recipe: string | undefined;
    try {
      recipe = fs.readFileSync(path.join(dir, EMPTY_SHARD_RECIPE), "utf8").trim();
    } catch {
      recipe = undefined;
    }
    return { dir, recipe, files: [] };
  }
  const ckpt = openCheckpoint(dir);
  try {
    const recipe = ckpt.metadata[RECIPE_KEY];
    const files = ckpt.files.map((f) => ({
      path: f.path,
      tensors: ckpt.tensors.filter((t) => t.file === f.path).map((t) => ({ name: t.name, bytes: t.byteLength })),
    }));
    return { dir, recipe, files: files.filter((f) => f.tensors.length > 0) };
  } finally {
    ckpt.close();
  }
}

export interface FinalizeSummary {
  path: string;
  shards: number;
  files: string[];
  tensors: number;
  bytes: number;
}

/** The finalize journal (in DIR/.shards/): what to move where, written before the first move. */
const JOURNAL = "finalize.journal.json";

interface Journal {
  /** Paths relative to DIR. */
  moves: Array<{ from: string; to: string }>;
  /** Side files to copy from the first shard (names), and the card text. */
  sideFrom: string;
  sideFiles: string[];
  card: string | null;
  index: string | null;
  summary: FinalizeSummary;
}

export function finalize(dir: string): FinalizeSummary {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new MergelabError(`${dir}: not a directory`);
  const journalFile = path.join(dir, SHARDS_DIR, JOURNAL);
  // a finalize killed part-way: complete it from its journal
  if (fs.existsSync(journalFile)) return apply(dir, JSON.parse(fs.readFileSync(journalFile, "utf8")) as Journal);
  const existing = fs.readdirSync(dir).filter((n) => /\.safetensors$/.test(n) || n === INDEX_FILE);
  if (existing.length) {
    // killed after its journal was removed: only the empty shards directory may be left
    const root = path.join(dir, SHARDS_DIR);
    if (fs.existsSync(root) && fs.readdirSync(root).length === 0) fs.rmdirSync(root);
    throw new MergelabError(`${dir}: already holds ${existing[0]}: finalize a directory only once`);
  }
  const shardDirs = findShards(dir);
  const shards = shardDirs.map(readShard);
  const recipes = new Set(shards.map((s) => s.recipe ?? "unknown"));
  if (recipes.size > 1) {
    const list = shards.map((s, i) => `${i}/${shards.length}: ${(s.recipe ?? "unknown").slice(0, 12)}`).join(", ");
    throw new MergelabError(`${dir}: the shards were run with different recipes (script, --set values or config differ: ${list}); run every shard of one merge with the same script and options`);
  }
  const files = shards.flatMap((s) => s.files);
  const seen = new Map<string, string>();
  for (const f of files) {
    for (const t of f.tensors) {
      const other = seen.get(t.name);
      if (other) throw new MergelabError(`tensor '${t.name}' is in two shards (${other} and ${f.path}): were they run with different scripts?`, { tensor: t.name });
      seen.set(t.name, f.path);
    }
  }
  if (files.length === 0) throw new MergelabError(`${dir}: the shards hold no tensors`);
  const names = files.map((_, k) => (files.length === 1 ? SINGLE_FILE : `model-${String(k + 1).padStart(5, "0")}-of-${String(files.length).padStart(5, "0")}.safetensors`));
  const weightMap: Record<string, string> = Object.create(null);
  let bytes = 0;
  files.forEach((f, k) => {
    for (const t of f.tensors) {
      weightMap[t.name] = names[k];
      bytes += t.bytes;
    }
  });
  const first = shardDirs[0];
  const cardFile = path.join(first, "README.md");
  const card = fs.existsSync(cardFile)
    ? `${fs.readFileSync(cardFile, "utf8").replace(/\n*$/, "\n")}- assembled by \`mergelab finalize\` from ${shardDirs.length} shard run${shardDirs.length > 1 ? "s" : ""}\n`
    : null;
  const index =
    files.length > 1
      ? JSON.stringify({ metadata: { total_size: bytes }, weight_map: Object.fromEntries(Object.keys(weightMap).sort(compareTensorNames).map((k) => [k, weightMap[k]])) }, null, 2) + "\n"
      : null;
  // Validated: journal the moves (a kill from here on is completed by the next finalize), then move.
  const journal: Journal = {
    moves: files.map((f, k) => ({ from: path.relative(dir, f.path), to: names[k] })),
    sideFrom: path.relative(dir, first),
    sideFiles: nonWeightFiles(first),
    card,
    index,
    summary: { path: dir, shards: shardDirs.length, files: names, tensors: seen.size, bytes },
  };
  writeDurably(journalFile, JSON.stringify(journal));
  crashPoint("finalize:journaled");
  return apply(dir, journal);
}

/** Carry out a journaled finalize; every step may be repeated (a resumed run redoes what is not visibly done). */
function apply(dir: string, j: Journal): FinalizeSummary {
  // side files first, weights next, the index last (its presence marks a finished directory)
  const from = path.join(dir, j.sideFrom);
  for (const name of j.sideFiles) if (fs.existsSync(path.join(from, name))) fs.copyFileSync(path.join(from, name), path.join(dir, name));
  if (j.card !== null) fs.writeFileSync(path.join(dir, "README.md"), j.card);
  crashPoint("finalize:side-files");
  j.moves.forEach((m, k) => {
    const src = path.join(dir, m.from);
    const dst = path.join(dir, m.to);
    if (fs.existsSync(src)) fs.renameSync(src, dst);
    else if (!fs.existsSync(dst)) throw new MergelabError(`${dir}: cannot complete an interrupted finalize: ${m.from} and ${m.to} are both missing`);
    crashPoint(`finalize:moved-${k + 1}`);
  });
  if (j.index !== null) writeDurably(path.join(dir, INDEX_FILE), j.index);
  crashPoint("finalize:index");
  // remove the shards, the journal last (then the empty directory)
  const root = path.join(dir, SHARDS_DIR);
  for (const name of fs.readdirSync(root)) if (name !== JOURNAL) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  fs.rmSync(path.join(root, JOURNAL), { force: true });
  fs.rmSync(root, { recursive: true, force: true });
  crashPoint("finalize:done");
  return j.summary;
}

export async function run(argv: string[]): Promise<number> {
  const { help, json, positional: rest } = parseSimpleArgs(argv, "finalize", USAGE);
  if (help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (rest.length !== 1) {
    process.stderr.write(USAGE + "\n");
    return 2;
  }
  const s = finalize(rest[0]);
  if (json) process.stdout.write(JSON.stringify({ ok: true, ...s }) + "\n");
  else process.stderr.write(`finalized ${s.path}: ${s.tensors} tensors in ${s.files.length} file${s.files.length > 1 ? "s" : ""} from ${s.shards} shard${s.shards > 1 ? "s" : ""}\n`);
  return 0;
}
