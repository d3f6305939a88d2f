/**
 * `mergelab run FILE [OUT] [--set name=value]... [--dry-run] [--workers N] [--quiet] [--json]`
 *
 * Checks the whole script first (every diagnostic, from checkpoint headers
 * only), then runs it. A .yml/.yaml FILE is a mergekit config: it is
 * translated to a merge script (cli/mergekit.ts) that saves to OUT.
 */
import fs from "node:fs";
import path from "node:path";
import { MergelabError } from "../../core/errors.js";
import type { Value } from "../../core/values.js";
import { Dict } from "../../core/values.js";
import { Session, ScriptError, parse, formatValue, type Diagnostic, type Expr } from "../../dsl/index.js";
import { didYouMean } from "../../core/suggest.js";
import { ProgressReporter, progressMode } from "../progress.js";
import { parseShard } from "../../engine/shard.js";
import { architectureGuard } from "../../engine/model.js";
import { takeMergekitOptions, type MergekitRunOptions } from "../mergekit/options.js";

const USAGE = `usage: mergelab run FILE [OUT] [options]

Runs a merge script (or a mergekit YAML config, saving to OUT, default 'merged').
The script is checked first against the checkpoints' headers; nothing is read
or written when it has errors.

options:
  --set NAME=VALUE   replace the value of the top-level assignment NAME
                     (VALUE is a literal: 0.3, "text", [0.1, 0.2], true; else a string)
  --dry-run          check and plan only: read no tensor data, write nothing
  --workers N        worker threads (0: run in this thread)
  --chunk-size N     elements per input per chunk (4096 to 67108864; default 262144)
  --quiet            no progress and no "saved" lines
  --json             print one JSON summary on stdout at the end
  --offline          no Hugging Face Hub downloads: Hub ids resolve from the local cache only
                     (as HF_HUB_OFFLINE=1; see docs/huggingface.md)
  --allow-crimes     merge models whose config.json architectures differ (mergekit's flag)
  --shard I/N        write only shard I (0-based) of N of every save() into OUT/.shards/;
                     'mergelab finalize OUT' assembles them (see docs/cli.md)

mergekit configs also take mergekit-yaml's options: --out-shard-size 5B, --overwrite,
--random-seed N, -j N, --allow-crimes, --copy-tokenizer; GPU and pickle options
(--cuda, --lazy-unpickle, --lora-merge-cache, …) are accepted with a one-line note.
A multi-document config (mergekit-multi) runs as one script: -I/--intermediate-dir DIR
saves its named merges to DIR/NAME (--out-path OUT = the OUT argument).`;

/** Bounds of --chunk-size (elements per input per chunk). */
export const MIN_CHUNK = 4096;
export const MAX_CHUNK = 1 << 26;

export interface ScriptArgs {
  file: string;
  positional: string[];
  overrides: Map<string, Value>;
  flags: { dryRun: boolean; quiet: boolean; json: boolean; help: boolean; offline: boolean; allowCrimes: boolean; workers?: number; chunkSize?: number; shard?: string };
}

/** Parse the options shared by run, check and explain. */
export function parseScriptArgs(argv: string[], verb: string, usage: string): ScriptArgs {
  const positional: string[] = [];
  const overrides = new Map<string, Value>();
  const flags: ScriptArgs["flags"] = { dryRun: false, quiet: false, json: false, help: false, offline: false, allowCrimes: false };
  const intArg = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) throw new MergelabError(`${verb}: ${name} needs a non-negative integer\n\n${usage}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [opt, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    if (opt === "--help" || opt === "-h") flags.help = true;
    else if (opt === "--set") {
      const kv = value();
      const eq = kv?.indexOf("=") ?? -1;
      if (!kv || eq <= 0) throw new MergelabError(`${verb}: --set needs NAME=VALUE`);
      overrides.set(kv.slice(0, eq).trim(), parseLiteral(kv.slice(eq + 1)));
    } else if (opt === "--dry-run") flags.dryRun = true;
    else if (opt === "--quiet" || opt === "-q") flags.quiet = true;
    else if (opt === "--json") flags.json = true;
    else if (opt === "--offline") flags.offline = true;
    else if (opt === "--allow-crimes") flags.allowCrimes = true;
    else if (opt === "--workers") flags.workers = intArg("--workers", value());
    else if (opt === "--chunk-size") {
      const n = intArg("--chunk-size", value());
      // tiny chunks make every pass pay per-chunk overhead many times over; huge ones defeat bounded memory
      if (n < MIN_CHUNK || n > MAX_CHUNK) throw new MergelabError(`${verb}: --chunk-size ${n} is out of range: use ${MIN_CHUNK} to ${MAX_CHUNK} elements (default ${1 << 18})`);
      flags.chunkSize = n;
    }
    else if (opt === "--shard") flags.shard = value() ?? "";
    else if (a.startsWith("-") && a !== "-") throw new MergelabError(`${verb}: unknown option '${a}'\n\n${usage}`);
    else positional.push(a);
  }
  return { file: positional[0] ?? "", positional, overrides, flags };
}

/** A --set value: a literal expression (number, string, bool, none, list, dict), else the text itself. */
export function parseLiteral(text: string): Value {
  const { program, diagnostics } = parse(text, "--set");
  const stmt = program.body[0];
  if (diagnostics.length > 0 || program.body.length !== 1 || stmt?.kind !== "expr") return text;
  const value = literal(stmt.expr);
  return value === undefined ? text : value;
}

function literal(e: Expr): Value | undefined {
  switch (e.kind) {
    case "number":
    case "string":
    case "bool":
      return e.value;
    case "none":
      return null;
    case "list": {
      const items = e.items.map(literal);
      return items.some((x) => x === undefined) ? undefined : (items as Value[]);
    }
    case "dict": {
      const entries = e.entries.map((x) => [x.key, literal(x.value)] as [string, Value | undefined]);
      return entries.some(([, v]) => v === undefined) ? undefined : new Dict(new Map(entries as Array<[string, Value]>));
    }
    default:
      return undefined;
  }
}

/** A script to run, and for a translated YAML config, how to report its diagnostics at the YAML's lines. */
export interface ScriptSource {
  text: string;
  /** The source to show under diagnostics (the YAML for a config). */
  shown: string;
  relocate: (d: Diagnostic) => Diagnostic;
}

export async function readScriptSource(file: string, outDir: string | undefined, verb: string, usage: string, run?: MergekitRunOptions): Promise<ScriptSource> {
  if (!file) throw new MergelabError(`${verb}: which script?\n\n${usage}`);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new MergelabError(`${file}: cannot read the script`);
  }
  if (!/\.ya?ml$/i.test(file)) {
    if (outDir !== undefined) {
      throw new MergelabError(`${verb} ${file} ${outDir}: OUT is for mergekit configs; a merge script writes where its save() calls say (or use --set to change a path)`);
    }
    return { text, shown: text, relocate: (d) => d };
  }
  let translator: typeof import("../mergekit.js");
  try {
    translator = await import("../mergekit.js");
  } catch {
    throw new MergelabError(`${file}: mergekit configs are not supported in this build`);
  }
  const t = translator.translateMergekit(text, {
    file,
    outDir: outDir ?? "merged",
    checkPathsIn: process.cwd(),
    run: run && { shardSize: run.shardSize, overwrite: run.overwrite, seed: run.randomSeed, notes: run.notes, intermediateDir: run.intermediateDir },
  });
  // the user wrote the YAML: point at its line (the model entry a shape mismatch blames), not the generated script's
  return { text: t.script, shown: text, relocate: (d) => ({ ...d, loc: t.locate(d.loc, d.message) }) };
}

/** `--set` names that match no top-level assignment are errors (a typo would silently do nothing). */
export function unusedOverrideError(unused: string[], text: string): MergelabError | undefined {
  if (unused.length === 0) return undefined;
  const assigned = parse(text).program.body.flatMap((s) => (s.kind === "assign" ? [s.name] : []));
  const name = unused[0]!;
  return new MergelabError(`--set ${name}: the script has no top-level assignment to '${name}'${didYouMean(name, assigned)}`);
}

/** Print diagnostics under the source the user wrote (for a YAML config: at its lines). */
export function reportDiagnostics(source: ScriptSource, ds: readonly Diagnostic[]): void {
  process.stderr.write(new ScriptError(ds.map(source.relocate), source.shown).rendered + "\n");
}

/**
 * The check every script verb starts with: on diagnostics they are reported and
 * the result is undefined (exit 1); a `--set` name the script never assigns throws.
 */
export async function checkOrReport(session: Session, source: ScriptSource, file: string, overrides: ScriptArgs["overrides"]) {
  const checked = await session.check(source.text, { file, overrides });
  if (checked.diagnostics.length > 0) {
    reportDiagnostics(source, checked.diagnostics);
    return undefined;
  }
  const unused = unusedOverrideError(checked.unusedOverrides, source.text);
  if (unused) throw unused;
  return checked;
}

export async function run(argv: string[]): Promise<number> {
  // a mergekit config takes mergekit-yaml's options too (same meaning, or a note where they cannot apply)
  const isYaml = argv.some((a) => !a.startsWith("-") && /\.ya?ml$/i.test(a));
  const mk = isYaml ? takeMergekitOptions(argv) : undefined;
  if (mk) argv = mk.rest;
  const args = parseScriptArgs(argv, "run", USAGE);
  if (args.flags.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const { file, flags, overrides } = args;
  architectureGuard.allowCrimes = flags.allowCrimes || !!mk?.options.allowCrimes;
  const source = await readScriptSource(file, args.positional[1] ?? mk?.options.outPath, "run", USAGE, mk?.options);
  if (mk && !flags.quiet && !flags.json) for (const n of mk.options.notes) process.stderr.write(`mergelab: note: ${n}\n`);
  const { text } = source;
  const reporter = new ProgressReporter({ mode: progressMode(flags, process.stderr), err: process.stderr, out: process.stdout });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  const session = new Session({
    cwd: process.cwd(),
    stdout: (t) => void (flags.json ? process.stderr : process.stdout).write(t),
    options: {
      workers: flags.workers,
      chunkSize: flags.chunkSize,
      quiet: flags.quiet,
      offline: flags.offline,
      shard: flags.shard === undefined ? undefined : parseShard(flags.shard),
      recipe: { text, overrides: [...overrides].map(([k, v]) => [k, formatValue(v)] as const), mergekitConfig: /\.ya?ml$/i.test(file) ? { file: path.basename(file), text: fs.readFileSync(file, "utf8") } : undefined },
    },
    signal: controller.signal,
    progress: reporter.update,
    onSaved: (s) => reporter.saved(s),
  });
  try {
    const checked = await checkOrReport(session, source, file, overrides);
    if (!checked) return 1;
    if (flags.dryRun) {
      const saves = checked.saved.map((s) => s.path);
      if (flags.json) process.stdout.write(JSON.stringify({ ok: true, dryRun: true, outputs: saves }) + "\n");
      else if (!flags.quiet) process.stdout.write(`${file}: ok (dry run): ${saves.length ? `would save ${saves.join(", ")}` : "saves nothing"}\n`);
      return 0;
    }
    const result = await session.execute(text, { file, overrides });
    if (result.value !== undefined && !flags.quiet && !flags.json) process.stdout.write(formatValue(result.value) + "\n");
    reporter.finish();
    return 0;
  } catch (e) {
    reporter.interrupt();
    if (e instanceof ScriptError) {
      reportDiagnostics(source, e.diagnostics);
      return 1;
    }
    throw e;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}
