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
import { SHARDS_DIR } from "../../engine/shard.js";

const USAGE = `usage: mergelab finalize DIR [--json]

Assembles DIR/.shards/shard-*-of-N (written by 'mergelab run FILE --shard I/N'
for every I in 0..N-1) into DIR: weight files, ${INDEX_FILE}, config and
tokenizer files, and the model card README.md.`;

interface ShardOutput {
  dir: string;
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
  if (!fs.readdirSync(dir).some((n) => n.endsWith(".safetensors"))) return { dir, files: [] }; // an empty shard (N > tensors)
  const ckpt = openCheckpoint(dir);
  try {
    const files = ckpt.files.map((f) => ({
      path: f.path,
      tensors: ckpt.tensors.filter((t) => t.file === f.path).map((t) => ({ name: t.name, bytes: t.byteLength })),
    }));
    return { dir, files: files.filter((f) => f.tensors.length > 0) };
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

export function finalize(dir: string): FinalizeSummary {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new MergelabError(`${dir}: not a directory`);
  const existing = fs.readdirSync(dir).filter((n) => /\.safetensors$/.test(n) || n === INDEX_FILE);
  if (existing.length) throw new MergelabError(`${dir}: already holds ${existing[0]}: finalize a directory only once`);
  const shardDirs = findShards(dir);
  const shards = shardDirs.map(readShard);
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
  const weightMap: Record<string, string> = {};
  let bytes = 0;
  files.forEach((f, k) => {
    for (const t of f.tensors) {
      weightMap[t.name] = names[k];
      bytes += t.bytes;
    }
  });
  // Validated: now move. Side files first, weights next, the index last (its presence marks a finished directory).
  const first = shardDirs[0];
  for (const name of nonWeightFiles(first)) fs.copyFileSync(path.join(first, name), path.join(dir, name));
  const card = path.join(first, "README.md");
  if (fs.existsSync(card)) {
    const text = fs.readFileSync(card, "utf8").replace(/\n*$/, "\n");
    fs.writeFileSync(path.join(dir, "README.md"), `${text}- assembled by \`mergelab finalize\` from ${shardDirs.length} shard run${shardDirs.length > 1 ? "s" : ""}\n`);
  }
  files.forEach((f, k) => fs.renameSync(f.path, path.join(dir, names[k])));
  if (files.length > 1) {
    const sorted = Object.fromEntries(Object.keys(weightMap).sort(compareTensorNames).map((k) => [k, weightMap[k]]));
    fs.writeFileSync(path.join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: bytes }, weight_map: sorted }, null, 2) + "\n");
  }
  fs.rmSync(path.join(dir, SHARDS_DIR), { recursive: true, force: true });
  return { path: dir, shards: shardDirs.length, files: names, tensors: seen.size, bytes };
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
