/**
 * mergekit-yaml's command-line options (mergekit/options.py MergeOptions), accepted by
 * `mergelab run config.yml OUT` with the same meaning where mergelab has it, or with a one-line
 * note saying why it does not apply here (no GPU backend, no pickles, …) — never "unknown option".
 *
 *   --out-shard-size 1B      → save(…, shard_size=1e9 bytes)  (mergekit's K/M/B suffixes: 10^3, 10^6, 10^9)
 *   --copy-tokenizer / --no-copy-tokenizer, --write-model-card / --no-write-model-card
 *   --allow-crimes           → merge models whose config.json architectures differ
 *   --random-seed N          → the seed of DARE/DELLA draws (mergelab's own generator)
 *   -j/--num-threads N       → --workers N
 *   --overwrite              → replace an existing output directory
 *   -I/--intermediate-dir D, --out-path OUT  (mergekit-multi) → named merges saved to D/NAME; the final one to OUT
 */
import { MergelabError } from "../../core/errors.js";

export interface MergekitRunOptions {
  /** Bytes per output file. */
  shardSize?: number;
  copyTokenizer: boolean;
  writeModelCard: boolean;
  allowCrimes: boolean;
  randomSeed?: number;
  workers?: number;
  overwrite: boolean;
  quiet: boolean;
  /** mergekit-multi's -I/--intermediate-dir: where named merges of a multi-document config are saved. */
  intermediateDir?: string;
  /** mergekit-multi's --out-path: the final merge's directory (OUT). */
  outPath?: string;
  /** One line each, printed to stderr before the run (options that cannot apply here). */
  notes: string[];
}

/** mergekit's parse_kmb: an integer with an optional K, M or B suffix (10^3, 10^6, 10^9). */
export function parseKmb(text: string, flag: string): number {
  const m = /^\s*(\d+)\s*([kmb])?\s*$/i.exec(text);
  if (!m) throw new MergelabError(`${flag}: expected a number with an optional K, M or B suffix (e.g. 5B), got '${text}'`);
  const mult = { k: 1e3, m: 1e6, b: 1e9 }[(m[2] ?? "").toLowerCase() as "k" | "m" | "b"] ?? 1;
  const n = Number(m[1]) * mult;
  if (n <= 0) throw new MergelabError(`${flag}: must be positive, got '${text}'`);
  return n;
}

type Handler = (o: MergekitRunOptions, value: string | undefined) => void;
interface Flag {
  value?: boolean;
  run: Handler;
}

const note = (text: string): Handler => (o) => void o.notes.push(text);
const intValue = (flag: string, v: string | undefined): number => {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < 0) throw new MergelabError(`${flag} needs a non-negative integer`);
  return n;
};

const FLAGS: Record<string, Flag> = {
  "--out-shard-size": { value: true, run: (o, v) => void (o.shardSize = parseKmb(v ?? "", "--out-shard-size")) },
  "--copy-tokenizer": { run: (o) => void (o.copyTokenizer = true) },
  "--no-copy-tokenizer": { run: (o) => void (o.copyTokenizer = false) },
  "--write-model-card": { run: (o) => void (o.writeModelCard = true) },
  "--no-write-model-card": { run: (o) => void (o.writeModelCard = false) },
  "--allow-crimes": { run: (o) => void (o.allowCrimes = true) },
  "--no-allow-crimes": { run: (o) => void (o.allowCrimes = false) },
  "--random-seed": { value: true, run: (o, v) => void (o.randomSeed = intValue("--random-seed", v)) },
  "--num-threads": { value: true, run: (o, v) => void (o.workers = intValue("--num-threads", v)) },
  "-j": { value: true, run: (o, v) => void (o.workers = intValue("-j", v)) },
  "--overwrite": { run: (o) => void (o.overwrite = true) },
  "--quiet": { run: (o) => void (o.quiet = true) },
  "--cuda": { run: note("--cuda: mergelab has no GPU backend; merging on the CPU (streamed, multi-threaded)") },
  "--no-cuda": { run: () => {} },
  "--gpu-rich": { run: note("--gpu-rich: mergelab has no GPU backend; merging on the CPU (streamed, multi-threaded)") },
  "--device": { value: true, run: (o, v) => void (v !== "cpu" && o.notes.push(`--device ${v}: mergelab has no GPU backend; merging on the CPU`)) },
  "--low-cpu-memory": { run: note("--low-cpu-memory: not needed: mergelab streams tensors chunk by chunk in bounded memory") },
  "--no-low-cpu-memory": { run: () => {} },
  "--no-read-to-gpu": { run: () => {} },
  "--no-multi-gpu": { run: () => {} },
  "--no-quiet": { run: () => {} },
  "--read-to-gpu": { run: note("--read-to-gpu: mergelab has no GPU backend; ignored") },
  "--multi-gpu": { run: note("--multi-gpu: mergelab has no GPU backend; it parallelizes over CPU worker threads (--workers)") },
  "--lazy-unpickle": { run: note("--lazy-unpickle: not needed: mergelab reads safetensors lazily and never unpickles") },
  "--no-lazy-unpickle": { run: () => {} },
  "--clone-tensors": { run: note("--clone-tensors: not needed: every output tensor is written from its own buffer") },
  "--no-clone-tensors": { run: () => {} },
  "--safe-serialization": { run: () => {} },
  "--no-safe-serialization": { run: note("--no-safe-serialization: mergelab writes safetensors only (no pickled .bin files)") },
  "--async-write": { run: note("--async-write: mergelab's writes already overlap compute (worker threads write their chunks)") },
  "--no-async-write": { run: () => {} },
  "--write-threads": { value: true, run: note("--write-threads: mergelab's workers write their own chunks; use --workers") },
  "--trust-remote-code": { run: note("--trust-remote-code: mergelab never runs a repository's code; ignored") },
  "--no-trust-remote-code": { run: () => {} },
  "--transformers-cache": { value: true, run: (o, v) => void o.notes.push(`--transformers-cache ${v}: set HF_HUB_CACHE=${v} instead (mergelab reads the Hugging Face cache from the environment)`) },
  "--lora-merge-cache": { value: true, run: note("--lora-merge-cache: not needed: mergelab applies LoRA adapters on the fly, without writing merged copies") },
  "--lora-merge-dtype": { value: true, run: note("--lora-merge-dtype: LoRA deltas are applied in float32; ignored") },
  "--intermediate-dir": { value: true, run: (o, v) => void (o.intermediateDir = v) },
  "-I": { value: true, run: (o, v) => void (o.intermediateDir = v) },
  "--out-path": { value: true, run: (o, v) => void (o.outPath = v) },
  "--lazy": { run: note("--lazy: mergelab computes a multi-document config's named merges in memory in one run; nothing is skipped") },
  "--no-lazy": { run: () => {} },
  "--verbose": { run: () => {} },
  "-v": { run: () => {} },
  "-vv": { run: () => {} },
};

/** The mergekit-yaml options mergelab accepts (for --help and error messages). */
export const MERGEKIT_FLAGS = Object.keys(FLAGS);

/**
 * Take mergekit-yaml's options out of `argv`; the rest (mergelab's own options and the positional
 * arguments) is returned unchanged, in order.
 */
export function takeMergekitOptions(argv: readonly string[]): { options: MergekitRunOptions; rest: string[] } {
  const options: MergekitRunOptions = { copyTokenizer: true, writeModelCard: true, allowCrimes: false, overwrite: false, quiet: false, notes: [] };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const [name, inline] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const flag = FLAGS[name];
    if (!flag) {
      rest.push(a);
      continue;
    }
    let value: string | undefined;
    if (flag.value) {
      value = inline ?? argv[++i];
      if (value === undefined) throw new MergelabError(`${name} needs a value`);
    }
    flag.run(options, value);
    if (name === "--quiet") rest.push(a);
    if ((name === "-j" || name === "--num-threads") && options.workers !== undefined) rest.push("--workers", String(options.workers));
  }
  return { options, rest };
}
